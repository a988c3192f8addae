"""Micro-batch order: seeded, resumable, each example once per epoch; length grouping cuts padding; DataLoader
workers build exactly the batches the main process would."""

import numpy as np
import pytest
import torch

from sensorllm.train.loop import MicroBatches, epoch_order, micro_batch_indices


def _padding(lengths, batches):
    return sum(int(lengths[b].max()) * len(b) - int(lengths[b].sum()) for b in batches)


@pytest.mark.parametrize("n", [64, 67])
def test_grouped_epoch_is_a_permutation_with_less_padding(n):
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 400, size=n)
    plain = epoch_order(n, 4, seed=1, epoch=0)
    grouped = epoch_order(n, 4, seed=1, epoch=0, lengths=lengths, group=8)
    assert sorted(grouped.tolist()) == list(range(n)) and sorted(plain.tolist()) == list(range(n))
    nb = n // 4
    cut = lambda o: [o[i * 4 : (i + 1) * 4] for i in range(nb)]  # noqa: E731
    assert _padding(lengths, cut(grouped)) < 0.5 * _padding(lengths, cut(plain))
    assert np.array_equal(grouped, epoch_order(n, 4, seed=1, epoch=0, lengths=lengths, group=8))
    assert not np.array_equal(grouped, epoch_order(n, 4, seed=1, epoch=1, lengths=lengths, group=8))
    # long and short batches are interleaved at random, not sorted over the epoch
    maxes = [lengths[b].max() for b in cut(grouped)]
    assert maxes != sorted(maxes) and maxes != sorted(maxes, reverse=True)
    with pytest.raises(ValueError, match="lengths has shape"):
        epoch_order(n, 4, 0, 0, lengths=lengths[:-1])


def test_micro_batches_cover_each_example_once_per_epoch_for_every_rank():
    n, bs, world = 48, 3, 2
    lengths = np.arange(n)[::-1] % 17
    seen = []
    for micro in range(n // (bs * world)):
        for rank in range(world):
            seen += micro_batch_indices(n, bs, 5, micro, rank, world, lengths).tolist()
    assert sorted(seen) == list(range(n))


def test_workers_build_the_same_batches_in_the_same_order():
    lengths = np.random.default_rng(1).integers(1, 100, size=40)

    def make_batch(idx):
        return torch.as_tensor(idx) * 10

    def run(workers, first):
        ds = MicroBatches(make_batch, 40, 4, seed=3, first=first, count=12, rank=0, world=1, lengths=lengths)
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers, collate_fn=lambda x: x)
        return [b.tolist() for _, b in loader]

    main = run(0, 0)
    assert run(2, 0) == main
    assert run(0, 5)[:7] == main[5:]  # a resumed run continues with the same micro-batches
