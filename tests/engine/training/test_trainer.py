"""The trainer's parts: gate, smoothing, lazy Adam, determinism, cancel; and the checkpoint file."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from engine.training.trainer import (
    AffinityModel,
    PixelBatch,
    RowAdam,
    TrainingCancelled,
    TrainSettings,
    knn_neighbours,
    sample_rows,
    smoothed_all,
    train_features,
)
from engine.training.view_records import ViewRecord, build_view_record


def test_gate_is_linear_then_sigmoid():
    model = AffinityModel(10, 32, 0.1, torch.Generator().manual_seed(0))
    s = torch.tensor([0.0, 0.5, 1.0])
    g = model.gates(s)
    assert g.shape == (3, 32) and (g > 0).all() and (g < 1).all()
    expect = torch.sigmoid(model.gate.weight[:, 0][None] * s[:, None] + model.gate.bias[None])
    torch.testing.assert_close(g, expect)


def test_spread_gate_init_gives_each_granularity_its_own_dimensions():
    model = AffinityModel(10, 32, 0.1, torch.Generator().manual_seed(0), gate_init="spread", gate_sharpness=10.0)
    s = torch.linspace(0, 1, 11)
    on = model.gates(s) > 0.5  # [11, 32]
    assert on[0].sum() >= 31  # the finest scale sees (almost) every dimension
    assert (on.sum(dim=1)[1:] <= on.sum(dim=1)[:-1]).all()  # coarser scales see fewer ...
    assert on[-1].sum() >= 2 and on[-1].sum() < on[5].sum() < on[0].sum()  # ... but never none
    assert (on[1:] <= on[:-1]).all()  # a dimension, once off, stays off: nested granularities


def test_random_gate_init_is_deterministic():
    a = AffinityModel(10, 32, 0.1, torch.Generator().manual_seed(3), gate_init="random")
    b = AffinityModel(10, 32, 0.1, torch.Generator().manual_seed(3), gate_init="random")
    torch.testing.assert_close(a.gate.weight, b.gate.weight)
    with pytest.raises(ValueError, match="gate_init"):
        AffinityModel(10, 32, 0.1, torch.Generator(), gate_init="zeros")


def test_knn_smoothing_matrix():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(500, 3))
    nb = knn_neighbours(means, 16)
    assert nb.shape == (500, 16) and (nb[:, 0] == np.arange(500)).all()  # itself first
    d = np.linalg.norm(means[:, None] - means[nb], axis=2)
    assert (np.diff(d, axis=1) >= -1e-12).all()  # sorted by distance
    brute = np.argsort(np.linalg.norm(means[:, None] - means[None], axis=2), axis=1)[:, :16]
    assert (np.sort(nb, 1) == np.sort(brute, 1)).mean() > 0.99
    raw = torch.randn(500, 8)
    sm = smoothed_all(raw, torch.from_numpy(nb))
    torch.testing.assert_close(sm[7], raw[torch.from_numpy(nb[7])].mean(0))


def test_pixel_batch_renders_the_sparse_product():
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(50, 4, generator=gen)
    nb = torch.from_numpy(knn_neighbours(np.random.default_rng(1).normal(size=(50, 3)), 5))
    ids = torch.tensor([[3, 7, -1], [7, 9, 11]])
    w = torch.tensor([[0.5, 0.3, 0.9], [0.2, 0.2, 0.1]])
    out = PixelBatch(table, nb, ids, w, None).render()
    sm = table[nb].mean(1)
    unit = sm / sm.norm(dim=1, keepdim=True)
    expect = torch.stack([0.5 * unit[3] + 0.3 * unit[7], 0.2 * unit[7] + 0.2 * unit[9] + 0.1 * unit[11]])
    torch.testing.assert_close(out, expect)


def test_row_adam_equals_adam_when_every_row_is_touched():
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(6, 3, generator=gen)
    grads = [torch.randn(6, 3, generator=gen) for _ in range(5)]
    dense = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([dense], lr=0.01)
    lazy = start.clone()
    row_opt = RowAdam(lazy, lr=0.01)
    for g in grads:
        dense.grad = g.clone()
        opt.step()
        row_opt.step(torch.arange(6), g)
    torch.testing.assert_close(lazy, dense.detach(), atol=1e-6, rtol=1e-5)
    row_opt.step(torch.tensor([1]), torch.ones(1, 3))  # untouched rows do not move
    assert torch.equal(lazy[0], dense.detach()[0]) or torch.allclose(lazy[0], dense.detach()[0], atol=1e-6)


def toy_records(tmp_path, n_gauss=400, views=2, size=24):
    """Two views of a toy 'scene': contributors are random Gaussians of the pixel's region (left / right)."""
    rng = np.random.default_rng(0)
    records = []
    for v in range(views):
        ids = np.empty((size, size, 4), np.int64)
        left = np.broadcast_to(np.arange(size)[None, :] < size // 2, (size, size))
        ids[left] = rng.integers(0, n_gauss // 2, (int(left.sum()), 4))
        ids[~left] = rng.integers(n_gauss // 2, n_gauss, (int((~left).sum()), 4))
        w = np.full((size, size, 4), 0.24, np.float32)
        masks = np.stack([left, ~left, np.ones((size, size), bool)])
        depth = np.full((size, size), 2.0, np.float32)
        depth[:, size // 2 :] = 2.5
        K = np.array([[30.0, 0, size / 2], [0, 30.0, size / 2], [0, 0, 1]])
        rec = build_view_record(f"v{v}", masks, depth, K, ids, w, np.ones((size, size), np.float32))
        rec.save(str(tmp_path / f"r{v}"))
        records.append(ViewRecord.load(str(tmp_path / f"r{v}")))
    unit = [np.linspace(0, 1, r.num_masks) for r in records]
    nb = knn_neighbours(np.random.default_rng(2).normal(size=(n_gauss, 3)), 4)
    return records, unit, nb


def test_training_is_deterministic_and_learns_the_toy_split(tmp_path):
    records, unit, nb = toy_records(tmp_path)
    settings = TrainSettings(iterations=60, num_pixels=200, knn=4, lr=0.02, seed=3)
    a = train_features(records, unit, nb, settings)
    b = train_features(records, unit, nb, settings)
    np.testing.assert_array_equal(a.features, b.features)
    assert a.features.shape == (400, 32) and a.gate_weight.shape == (32, 1)
    assert np.mean(a.losses[-10:]) < np.mean(a.losses[:10])


def test_cancel_stops_within_one_iteration(tmp_path):
    records, unit, nb = toy_records(tmp_path)
    cancel = threading.Event()
    seen = []

    def progress(step, total, stats):
        seen.append(step)
        if step == 5:
            cancel.set()

    with pytest.raises(TrainingCancelled):
        train_features(records, unit, nb, TrainSettings(iterations=1000, num_pixels=50, knn=4), progress=progress,
                       cancel=cancel)  # fmt: skip
    assert max(seen) == 5


def test_records_without_masks_are_refused(tmp_path):
    records, _, nb = toy_records(tmp_path)
    empty = [ViewRecord(r.name, r.height, r.width, r.pixels, r.ids, r.weights, r.membership[:, :0],
                        np.zeros(0), np.zeros(0), r.mean_area, np.zeros(1, np.int64), np.zeros(0, np.int64))
             for r in records]  # fmt: skip
    with pytest.raises(ValueError, match="no view has both masks"):
        train_features(empty, [np.zeros(0)] * 2, nb, TrainSettings(iterations=2, knn=4))


def test_mask_balanced_sampling_reaches_small_masks(tmp_path):
    """Mask-first sampling draws pixels of a tiny mask far more often than uniform sampling does."""
    size = 40
    masks = np.zeros((2, size, size), bool)
    masks[0] = True
    masks[1, :6, :6] = True  # 36 of 1600 pixels
    ids = np.random.default_rng(0).integers(0, 100, (size, size, 2))
    rec = build_view_record("v", masks, np.full((size, size), 2.0, np.float32),
                            np.array([[30.0, 0, 20], [0, 30.0, 20], [0, 0, 1]]), ids,
                            np.full((size, size, 2), 0.4, np.float32), np.ones((size, size), np.float32))  # fmt: skip
    small_rows = set(np.asarray(rec.mask_rows)[rec.mask_offsets[0] : rec.mask_offsets[1]].tolist())
    gen = torch.Generator().manual_seed(0)
    hits = {}
    for balanced in (0.0, 0.5):
        hits[balanced] = sum(len(small_rows & set(sample_rows(rec, 100, balanced, gen).tolist())) for _ in range(50))
    assert len(small_rows) == 36 and hits[0.5] > 4 * max(hits[0.0], 1)
    rows = sample_rows(rec, 100, 0.5, gen)
    assert len(np.unique(rows)) == len(rows) and (np.diff(rows) > 0).all()


def test_a_close_up_trains_from_its_masks_only(tmp_path):
    """A close-up's pixels outside its (whole) masks are never drawn; training with close-ups stays deterministic."""
    size = 24
    records, unit, nb = toy_records(tmp_path)
    left = np.broadcast_to(np.arange(size)[None, :] < size // 2, (size, size))
    ids = np.random.default_rng(1).integers(0, 200, (size, size, 4))
    K = np.array([[30.0, 0, 12], [0, 30.0, 12], [0, 0, 1]])
    w, alpha = np.full((size, size, 4), 0.24, np.float32), np.ones((size, size), np.float32)
    close = build_view_record("closeup_0000", left[None].copy(), np.full((size, size), 2.0, np.float32), K, ids, w,
                              alpha)  # fmt: skip
    close.save(str(tmp_path / "close"))
    close = ViewRecord.load(str(tmp_path / "close"))
    gen = torch.Generator().manual_seed(0)
    in_mask = np.asarray(close.membership).any(axis=1)
    assert not in_mask.all()
    for _ in range(20):
        assert in_mask[sample_rows(close, 100, 1.0, gen)].all()
    settings = TrainSettings(iterations=40, num_pixels=100, knn=4, seed=1)
    both = [*records, close], [*unit, np.array([0.3])]
    a = train_features(*both, nb, settings, close_ups=[False, False, True])
    b = train_features(*both, nb, settings, close_ups=[False, False, True])
    c = train_features(*both, nb, settings)
    np.testing.assert_array_equal(a.features, b.features)
    assert not np.array_equal(a.features, c.features)


def test_a_view_without_masks_gives_an_empty_record(tmp_path):
    """A view whose masks are all gone (a close-up whose every mask touches its frame, a view of nothing) is a record
    with no masks, which training skips, instead of an error."""
    size = 12
    ids = np.random.default_rng(0).integers(0, 50, (size, size, 2))
    rec = build_view_record("closeup_0000", np.zeros((0, size, size), bool), np.full((size, size), 2.0, np.float32),
                            np.array([[30.0, 0, 6], [0, 30.0, 6], [0, 0, 1]]), ids,
                            np.full((size, size, 2), 0.4, np.float32), np.ones((size, size), np.float32))  # fmt: skip
    assert rec.num_masks == 0 and len(rec.pixels) == size * size and rec.membership.shape == (size * size, 1)
    rec.save(str(tmp_path / "empty"))
    records, unit, nb = toy_records(tmp_path)
    empty = ViewRecord.load(str(tmp_path / "empty"))
    result = train_features([*records, empty], [*unit, np.zeros(0)], nb, TrainSettings(iterations=5, knn=4),
                            close_ups=[False, False, True])  # fmt: skip
    assert result.features.shape == (400, 32)
