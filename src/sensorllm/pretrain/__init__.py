"""``sensorllm pretrain-encoder``: pre-train a Chronos-T5 on unlabelled motion windows (Chronos objective).

Every single-channel series of a prepared dataset's Stage-2 windows is one training series: its first
``context_length`` samples are the context, the next ``prediction_length`` the target. Both are tokenised
by Chronos' own ``MeanScaleUniformBins`` (``ChronosConfig.create_tokenizer()``: ``x / mean|context|``, uniform
bins, EOS appended; the target is scaled with the *context's* scale), and a ``T5ForConditionalGeneration``
learns the target ids with cross-entropy (teacher forcing). Labels are never read.

A program of its own, above :mod:`sensorllm.train` (whose config loading, CSV logs, batch order and checkpoint
files it reuses); nothing in ``train`` imports it. Its modules, in the order a run uses them:

- :mod:`~sensorllm.pretrain.config`: the typed config (data, model, optimisation, run);
- :mod:`~sensorllm.pretrain.sources`: the training series of each source (a prepared split, or the raw
  recordings of a dataset's training subjects), with the guard that no validation or test subject of the
  scored dataset enters;
- :mod:`~sensorllm.pretrain.data`: the series as tokenised context/target pairs (training and validation);
- :mod:`~sensorllm.pretrain.objective`: the fresh Chronos-T5 and its cross-entropy (training and validation);
- :mod:`~sensorllm.pretrain.checkpoints`: the published model directory, finding and checking a checkpoint
  to resume from;
- :mod:`~sensorllm.pretrain.run`: the program itself (:func:`run_pretrain`).

Read the run top to bottom: setup → data → model (fresh or resumed) → for each step: batch → loss →
clip → step → log → periodic validation (mean CE per target token on the validation split; the best
model is published; ``run.patience`` validations without a better loss end the run) / snapshot / checkpoint →
final save. Output layout::

    <out_dir>/config.yaml            the resolved config
    <out_dir>/model/                 best-validation model: config.json (+ chronos_config,
                                     sensorllm_tokenizer, sensorllm_pretrain) + model.safetensors;
                                     loads with ChronosPipeline.from_pretrained and as
                                     encoder {kind: chronos, pretrained: DIR}
    <out_dir>/checkpoints/step-NNNNNN/{model/, optimizer.safetensors, trainer_state.json, checksums.json}
    <out_dir>/checkpoints/latest     name of the newest complete checkpoint
    <out_dir>/snapshots/step-NNNNNN/ the model alone every run.snapshot_every steps (and at 0), never pruned
    <out_dir>/train_log.csv, val_log.csv, pretrain_summary.json

Checkpoints are written to a temporary directory and renamed into place, with SHA-256 checksums; a resumed
run restores model, optimiser, scheduler, RNG and step, and sees the same batches an uninterrupted run would.
"""

from .config import (
    PretrainDataConfig,
    PretrainEncoderConfig,
    PretrainModelConfig,
    PretrainOptimConfig,
    PretrainRunConfig,
    PretrainSource,
)
from .data import TokenisedSeries, motion_series, tokenise_series
from .objective import validation_loss
from .run import run_pretrain

__all__ = [
    "PretrainDataConfig",
    "PretrainEncoderConfig",
    "PretrainModelConfig",
    "PretrainOptimConfig",
    "PretrainRunConfig",
    "PretrainSource",
    "TokenisedSeries",
    "motion_series",
    "run_pretrain",
    "tokenise_series",
    "validation_loss",
]
