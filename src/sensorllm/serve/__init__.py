"""Serving a trained model on new recordings: ``sensorllm predict`` / ``describe`` on a file of any length, with
several recordings and scoring against a label column (:mod:`.predict`), and ``sensorllm stream`` on samples as
they arrive (:mod:`.stream`, the decisions; its input side, :mod:`.stream_io`), on a model loaded by
:func:`sensorllm.infer.artifact.load_model` (any kind, behind the :class:`~sensorllm.classifier.Classifier`
interface); :mod:`.units` checks an input's magnitude against the model's training statistics before it loads."""
