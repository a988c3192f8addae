"""Put projected sensor embeddings into the token sequence, matched BY CHANNEL NAME.

A sequence holds, for every channel ``c`` of its window, the run ``<c_start> <ts>×n_c <c_end>``. The
``n_c`` ``<ts>`` placeholders between a channel's own start and end tokens are replaced by that
channel's ``n_c`` projected embeddings, looked up by the channel's name — never by position in a list
(the reference's bug B2). Every invariant is checked and a violation raises :class:`SpliceError` with
the example index and channel name:

- each channel given for an example has exactly one start and one end token, in that order,
- everything between them is ``<ts>`` and there are exactly ``n_c`` of them (with ``time_marks``, plain text
  tokens, the marks, may stand between the ``<ts>``, never another channel's or a start/end token),
- every channel whose tokens appear in the text has data, and no channel is given twice,
- no ``<ts>`` lies outside a channel run, and channel names are known to the layout.

Without channel markers (``SensorLLMConfig.channel_markers=False``, the paper's "without special tokens"
ablation) a sequence holds bare runs ``<ts>×n_c``; the ``j``-th run belongs to the example's ``j``-th
channel in the model's channel order, and the same counts are checked.

Two forms of sensor embeddings are spliced: windows (:func:`splice_window_embeddings`, ``(B, C, n, H)``: every
example has the same channels, ``n`` tokens each) and ragged series (:func:`splice_sensor_embeddings`, one
``(n_i, H)`` tensor per series with its example and channel). The replacement is an out-of-place ``index_put``
(of the windows' tensor as it is, for windows), so gradients reach every channel's embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .tokens import TokenLayout

__all__ = ["SpliceError", "channel_spans", "placeholder_runs", "splice_sensor_embeddings", "splice_window_embeddings"]


class SpliceError(ValueError):
    """Sensor data and placeholder tokens do not match."""


def channel_spans(ids: Sequence[int], layout: TokenLayout, example: int = 0, time_marks: bool = False
                  ) -> dict[str, tuple[int, ...]]:
    """Find every channel run in one sequence.

    Args:
        ids: token ids of one sequence.
        layout: the token layout.
        example: index used in error messages.
        time_marks: text tokens (the time marks of :class:`~.prompts.PromptBuilder`) may stand between a
            run's placeholders; without, a run holds ``<ts>`` only.

    Returns:
        channel name → the positions of its placeholders, in order.

    Raises:
        SpliceError: a start without its end (or the reverse), a repeated channel, a non-``<ts>`` token
            inside a run (unless ``time_marks``), or a ``<ts>`` outside every run.
    """
    start_of = layout.start_to_channel()
    end_ids = {e: name for name, (_, e) in layout.channels.items()}
    spans: dict[str, tuple[int, ...]] = {}
    open_name: str | None = None
    open_pos: list[int] = []
    for pos, tok in enumerate(ids):
        if tok in start_of:
            name = start_of[tok]
            if open_name is not None:
                raise SpliceError(
                    f"example {example}: {name!r} starts at {pos} inside the run of {open_name!r}"
                )
            if name in spans:
                raise SpliceError(f"example {example}: channel {name!r} appears more than once")
            open_name, open_pos = name, []
        elif tok in end_ids:
            name = end_ids[tok]
            if open_name != name:
                raise SpliceError(
                    f"example {example}: end token of {name!r} at {pos} without its start token"
                )
            spans[name] = tuple(open_pos)
            open_name = None
        elif open_name is not None and tok == layout.ts_id:
            open_pos.append(pos)
        elif open_name is not None and not time_marks:
            raise SpliceError(
                f"example {example}: token id {tok} at position {pos} "
                f"inside the run of channel {open_name!r} "
                f"(only {layout.ts_token} may appear between start and end)"
            )
        elif open_name is None and tok == layout.ts_id:
            raise SpliceError(
                f"example {example}: {layout.ts_token} at position {pos} outside every channel run"
            )
    if open_name is not None:
        raise SpliceError(f"example {example}: channel {open_name!r} has no end token (sequence truncated?)")
    return spans


def placeholder_runs(ids: Sequence[int], layout: TokenLayout) -> list[tuple[int, int]]:
    """Maximal runs of consecutive placeholders in one sequence, in text order: ``(first position, count)``.

    Used without channel markers (the "without special tokens" ablation), where runs are the only structure.
    """
    runs: list[tuple[int, int]] = []
    for pos, tok in enumerate(ids):
        if tok != layout.ts_id:
            continue
        if runs and runs[-1][0] + runs[-1][1] == pos:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((pos, 1))
    return runs


def _unmarked_spans(ids: Sequence[int], layout: TokenLayout, names: Sequence[str], example: int
                    ) -> dict[str, tuple[int, ...]]:
    """Channel → span without markers: the ``j``-th placeholder run belongs to the ``j``-th channel of the
    example in the model's channel order (the order :class:`~.prompts.PromptBuilder` writes them)."""
    start_of = layout.start_to_channel()
    end_ids = {e for _, e in layout.channels.values()}
    marked = [pos for pos, tok in enumerate(ids) if tok in start_of or tok in end_ids]
    if marked:
        raise SpliceError(f"example {example}: channel marker tokens at {marked[:5]} in a model without markers")
    runs = placeholder_runs(ids, layout)
    order = [c for c in layout.channel_names if c in names]
    if len(runs) != len(order):
        raise SpliceError(
            f"example {example}: {len(runs)} placeholder runs in the text but data for {len(order)} channels "
            f"{order}"
        )
    return {name: tuple(range(first, first + n)) for name, (first, n) in zip(order, runs, strict=True)}


def splice_sensor_embeddings(
    text_embeds: torch.Tensor,
    input_ids: torch.Tensor,
    sensor_embeds: Sequence[torch.Tensor],
    series_example: Sequence[int],
    series_channel: Sequence[str],
    layout: TokenLayout,
    channel_markers: bool = True,
    time_marks: bool = False,
) -> torch.Tensor:
    """Replace the placeholders with sensor embeddings.

    Args:
        text_embeds: ``(B, S, H)`` token embeddings of ``input_ids``.
        input_ids: ``(B, S)`` token ids.
        sensor_embeds: ``N`` tensors ``(n_i, H)``, one per series.
        series_example: ``N`` example indices (which row of the batch series ``i`` belongs to).
        series_channel: ``N`` channel names.
        layout: token layout (channel name → start/end ids).
        channel_markers: the text frames each channel with its start/end tokens (default). ``False``:
            bare placeholder runs, assigned to the example's channels in the model's channel order.
        time_marks: the runs may hold text tokens (time marks) between their placeholders (needs markers).

    Returns:
        ``(B, S, H)``: ``text_embeds`` with every channel's placeholders replaced (out of place).

    Raises:
        SpliceError: any mismatch (see module docstring).
    """
    if not (len(sensor_embeds) == len(series_example) == len(series_channel)):
        raise SpliceError(
            f"{len(sensor_embeds)} embeddings, {len(series_example)} example indices and "
            f"{len(series_channel)} channel names: counts differ"
        )
    B = input_ids.shape[0]
    given: list[dict[str, int]] = [{} for _ in range(B)]
    for i, (b, name) in enumerate(zip(series_example, series_channel, strict=True)):
        if not 0 <= b < B:
            raise SpliceError(f"series {i} ({name!r}) belongs to example {b}, but the batch has {B} examples")
        _check_name(name, layout, b)
        if name in given[b]:
            raise SpliceError(f"example {b}: channel {name!r} given twice")
        given[b][name] = i

    rows: list[int] = []
    cols: list[int] = []
    values: list[torch.Tensor] = []
    ids_list = input_ids.tolist()
    for b in range(B):
        spans = _example_spans(ids_list[b], layout, list(given[b]), b, channel_markers, time_marks)
        for name, i in given[b].items():
            n = sensor_embeds[i].shape[0]
            _place(rows, cols, spans[name], n, b, name, layout)
            values.append(sensor_embeds[i])
    if not values:
        return text_embeds
    return _put(text_embeds, rows, cols, torch.cat(values, dim=0))  # (sum n_i, H)


def splice_window_embeddings(
    text_embeds: torch.Tensor,
    input_ids: torch.Tensor,
    sensor_embeds: torch.Tensor,
    channels: Sequence[str],
    layout: TokenLayout,
    channel_markers: bool = True,
    time_marks: bool = False,
) -> torch.Tensor:
    """Replace the placeholders with the sensor embeddings of windows: every example has the channels
    ``channels``, each with ``n`` embeddings.

    Args:
        text_embeds: ``(B, S, H)`` token embeddings of ``input_ids``.
        input_ids: ``(B, S)`` token ids.
        sensor_embeds: ``(B, C, n, H)``: ``sensor_embeds[b, c]`` goes into example ``b``'s run of ``channels[c]``.
        channels: the ``C`` channel names.
        layout / channel_markers / time_marks: as :func:`splice_sensor_embeddings`.

    Returns:
        ``(B, S, H)``: ``text_embeds`` with every channel's placeholders replaced (out of place).

    Raises:
        SpliceError: any mismatch (see module docstring).
    """
    B, C, n = (int(d) for d in sensor_embeds.shape[:3])
    if B != input_ids.shape[0] or C != len(channels):
        raise SpliceError(f"sensor embeddings {tuple(sensor_embeds.shape)} for {input_ids.shape[0]} examples "
                          f"and channels {list(channels)}: shapes differ")
    for name in channels:
        _check_name(name, layout, 0)
    if len(set(channels)) != C:
        raise SpliceError(f"a channel is given twice: {list(channels)}")
    rows: list[int] = []
    cols: list[int] = []
    ids_list = input_ids.tolist()
    for b in range(B):
        spans = _example_spans(ids_list[b], layout, list(channels), b, channel_markers, time_marks)
        for name in channels:
            _place(rows, cols, spans[name], n, b, name, layout)
    if not rows:
        return text_embeds
    return _put(text_embeds, rows, cols, sensor_embeds.reshape(B * C * n, -1))  # rows in (b, c, token) order


def _check_name(name: str, layout: TokenLayout, example: int) -> None:
    if name not in layout.channels:
        raise SpliceError(f"unknown channel {name!r} (example {example}); known channels: {layout.channel_names}")


def _example_spans(ids: list[int], layout: TokenLayout, names: list[str], example: int, channel_markers: bool,
                   time_marks: bool = False) -> dict[str, tuple[int, ...]]:
    """The placeholder positions of each channel of one example; the text's channels must be those given."""
    if time_marks and not channel_markers:
        raise SpliceError("time marks need channel markers (a bare run ends at its first text token)")
    spans = (channel_spans(ids, layout, example=example, time_marks=time_marks) if channel_markers
             else _unmarked_spans(ids, layout, names, example=example))
    if set(spans) != set(names):
        missing = sorted(set(spans) - set(names))
        extra = sorted(set(names) - set(spans))
        raise SpliceError(
            f"example {example}: channels in the text without data: {missing}; "
            f"data without tokens in the text: {extra}"
        )
    return spans


def _place(rows: list[int], cols: list[int], span: tuple[int, ...], n: int, example: int, name: str,
           layout: TokenLayout) -> None:
    """Add the positions of ``n`` embeddings of one channel's run (which must hold exactly ``n`` placeholders)."""
    if n != len(span):
        raise SpliceError(
            f"example {example}, channel {name!r}: {len(span)} {layout.ts_token} placeholders "
            f"but {n} sensor embeddings"
        )
    rows += [example] * n
    cols += span


def _put(text_embeds: torch.Tensor, rows: list[int], cols: list[int], values: torch.Tensor) -> torch.Tensor:
    device = text_embeds.device
    v = values.to(device=device, dtype=text_embeds.dtype)
    index = (torch.tensor(rows, device=device), torch.tensor(cols, device=device))
    return text_embeds.index_put(index, v)
