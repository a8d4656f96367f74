"""The on-disk mask cache: hits and misses, keys, atomic writes."""

from __future__ import annotations

import os

import numpy as np
import pytest

from engine.masks.mask_cache import MaskCache, cache_key, pack_masks, unpack_masks
from engine.masks.source import MaskSource, MaskSourceError
from engine.views.training_view import TrainingView


class CountingSource(MaskSource):
    """Deterministic masks from the image; counts how often it is asked."""

    name = "counting"

    def __init__(self, threshold: int = 100):
        self.threshold = threshold
        self.calls = 0

    def settings(self) -> dict:
        return {"threshold": self.threshold}

    def masks_for_view(self, view: TrainingView) -> np.ndarray:
        self.calls += 1
        grey = view.image.mean(axis=2)
        return np.stack([grey > self.threshold, grey <= self.threshold, np.zeros_like(grey, bool)])


def make_view(name, seed, h=23, w=31):
    image = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return TrainingView(name, image, np.ones((h, w), np.float32), np.ones((h, w), np.float32), np.eye(4), np.eye(3))


def entries(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith(".npz"))


def test_pack_roundtrip():
    masks = np.random.default_rng(0).random((3, 7, 5)) > 0.5
    assert np.array_equal(unpack_masks(**pack_masks(masks)), masks)
    empty = np.zeros((0, 7, 5), bool)
    assert unpack_masks(**pack_masks(empty)).shape == (0, 7, 5)


def test_hits_misses_and_rerun_reuses(tmp_path):
    views = [make_view(f"v{i}", i) for i in range(3)]
    source = CountingSource()
    cache = MaskCache(tmp_path)
    first = [m for _, m in cache.iter_masks(source, views)]
    assert source.calls == 3 and cache.stats() == {"hits": 0, "misses": 3}
    assert len(entries(tmp_path)) == 3
    again = MaskCache(tmp_path)  # a re-run: new process, same folder and inputs
    second = [again.masks_for_view(source, v) for v in views]
    assert source.calls == 3 and again.stats() == {"hits": 3, "misses": 0}
    for a, b in zip(first, second, strict=True):
        assert b.dtype == np.bool_ and np.array_equal(a, b)
    assert again.fill(source, views) == {"hits": 6, "misses": 0}


def test_key_depends_on_settings_name_and_image(tmp_path):
    view = make_view("v", 0)
    base = cache_key(CountingSource(100), view)
    assert cache_key(CountingSource(100), view) == base
    assert cache_key(CountingSource(101), view) != base
    renamed = TrainingView("w", view.image, view.depth, view.alpha, view.viewmat, view.K)
    assert cache_key(CountingSource(100), renamed) != base
    changed = view.image.copy()
    changed[0, 0, 0] ^= 1
    edited = TrainingView("v", changed, view.depth, view.alpha, view.viewmat, view.K)
    assert cache_key(CountingSource(100), edited) != base

    cache = MaskCache(tmp_path)
    a, b = CountingSource(100), CountingSource(150)
    cache.masks_for_view(a, view)
    cache.masks_for_view(b, view)
    assert a.calls == 1 and b.calls == 1 and len(entries(tmp_path)) == 2


def test_crash_mid_write_leaves_no_entry_and_old_entry_intact(tmp_path, monkeypatch):
    source = CountingSource()
    view_old, view_new = make_view("old", 1), make_view("new", 2)
    cache = MaskCache(tmp_path)
    old_masks = cache.masks_for_view(source, view_old)
    old_path = cache.path_for(source, view_old)
    old_bytes = open(old_path, "rb").read()

    real_write = MaskCache._write_entry
    written = []

    def crash_after_temp(self, fh, masks):
        real_write(self, fh, masks)
        fh.flush()
        written.append(os.fstat(fh.fileno()).st_size)
        raise KeyboardInterrupt("simulated crash after the temp file was written")

    monkeypatch.setattr(MaskCache, "_write_entry", crash_after_temp)
    with pytest.raises(KeyboardInterrupt):
        cache.masks_for_view(source, view_new)
    assert written and written[0] > 0
    assert not os.path.exists(cache.path_for(source, view_new))
    # Overwriting the existing entry crashes too: the old file is untouched.
    os.remove(old_path)
    with open(old_path, "wb") as f:
        f.write(old_bytes)
    with pytest.raises(KeyboardInterrupt):
        cache._store(old_path, ~old_masks)
    assert open(old_path, "rb").read() == old_bytes
    assert entries(tmp_path) == [os.path.basename(old_path)]

    monkeypatch.undo()
    fresh = MaskCache(tmp_path)
    assert np.array_equal(fresh.masks_for_view(source, view_old), old_masks)
    fresh.masks_for_view(source, view_new)
    assert fresh.stats() == {"hits": 1, "misses": 1}


def test_damaged_entry_is_recomputed(tmp_path):
    source, view = CountingSource(), make_view("v", 3)
    cache = MaskCache(tmp_path)
    masks = cache.masks_for_view(source, view)
    with open(cache.path_for(source, view), "wb") as f:
        f.write(b"truncated")
    assert np.array_equal(cache.masks_for_view(source, view), masks)
    assert source.calls == 2


def test_stale_temp_files_are_cleaned(tmp_path):
    stale = tmp_path / ".abc.npz.0123456789abcdef.saga-tmp"
    stale.write_bytes(b"partial")
    os.utime(stale, (0, 0))
    recent = tmp_path / ".def.npz.0123456789abcdef.saga-tmp"
    recent.write_bytes(b"partial")
    MaskCache(tmp_path)
    assert not stale.exists() and recent.exists()


def test_bad_source_output_is_an_error(tmp_path):
    class WrongSize(CountingSource):
        def masks_for_view(self, view):
            return np.zeros((1, 2, 2), bool)

    with pytest.raises(MaskSourceError, match="expected"):
        MaskCache(tmp_path).masks_for_view(WrongSize(), make_view("v", 0))
    assert entries(tmp_path) == []
