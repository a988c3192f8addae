"""Serving a trained model on new recordings: ``sensorllm predict`` / ``describe`` on a file of any length
(:mod:`.predict`) and ``sensorllm stream`` on samples as they arrive (:mod:`.stream`, the decisions; its
input side, :mod:`.stream_io`)."""
