"""From windows to model batches: the examples ("items") every command builds from windows (:mod:`.items`), and
the collator that pads them into a :class:`~sensorllm.model.batch.SensorBatch` (:mod:`.collate`).

A Stage-2 window goes ``(N, L, C)`` windows → :class:`~.items.Stage2Items` (series ``(N, C, L)`` float32, texts,
labels) → :func:`~.collate.collate_items` → a batch whose series are one ``(B, C, L)`` float32 tensor. Stage 1's
single-channel windows of many lengths go through :class:`~.items.Stage1Item` and
:func:`~.collate.collate` as ragged series. ``docs/architecture.md`` draws the whole path.
"""

from .collate import collate, collate_items
from .items import Stage1Item, Stage2Items, TextSettings, stage1_items, stage2_items, subset, window_items

__all__ = ["Stage1Item", "Stage2Items", "TextSettings", "collate", "collate_items", "stage1_items", "stage2_items",
           "subset", "window_items"]
