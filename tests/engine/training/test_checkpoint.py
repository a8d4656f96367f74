"""The checkpoint: round trip, atomic writes, and every kind of damage read back as one clear CheckpointError."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from engine.training.checkpoint import (
    CHECKPOINT_VERSION,
    CheckpointDamagedError,
    CheckpointError,
    CheckpointMismatchError,
    CheckpointMissingError,
    SceneCheckpoint,
    load_checkpoint,
    save_checkpoint,
)


def make_ckpt(hash_="abc", n=5, d=4):
    rng = np.random.default_rng(0)
    return SceneCheckpoint(rng.normal(size=(n, d)).astype(np.float32), np.ones((d, 1)), np.zeros(d),
                           np.linspace(0, 1, 11), {"content_hash": hash_, "num_gaussians": n},
                           np.linspace(0, 1, n))  # fmt: skip


def test_round_trip_and_scene_check(tmp_path):
    path = str(tmp_path / "ckpt.npz")
    ckpt = make_ckpt()
    save_checkpoint(path, ckpt)
    back = load_checkpoint(path, expected_hash="abc")
    np.testing.assert_array_equal(back.features, ckpt.features)
    assert back.metadata["checkpoint_version"] == CHECKPOINT_VERSION and back.visibility.shape == (5,)
    np.testing.assert_allclose(back.gate(0.3), 1 / (1 + np.exp(-0.3)))  # sigmoid(w s + b) with w = 1, b = 0
    with pytest.raises(CheckpointMismatchError, match="another scene"):
        load_checkpoint(path, expected_hash="zzz")
    with pytest.raises(CheckpointMissingError, match="no trained features"):
        load_checkpoint(str(tmp_path / "missing.npz"))


def test_crash_mid_write_leaves_the_old_checkpoint(tmp_path):
    path = str(tmp_path / "ckpt.npz")
    save_checkpoint(path, make_ckpt("old"))
    before = (tmp_path / "ckpt.npz").read_bytes()

    def crash():
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        save_checkpoint(path, make_ckpt("new"), crash_after_temp_write=crash)
    assert (tmp_path / "ckpt.npz").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temporary file left behind


def _rewrite(path, **changes):
    """The archive at ``path`` with some arrays replaced (None removes one)."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with open(path, "wb") as fh:
        fh.write(buf.getvalue())


def _meta(path) -> dict:
    with np.load(path) as data:
        return json.loads(bytes(data["metadata"]).decode())


def _damage_cases(path: str, raw: bytes):
    n = len(raw)
    flipped = bytearray(raw)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("features.npy")
    flipped[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF  # inside the features' data: bad CRC
    meta = _meta(path)
    yield "truncated", lambda: open(path, "wb").write(raw[: n // 2]), "not a complete .npz|damaged"
    yield "zero bytes", lambda: open(path, "wb").write(b""), "damaged"
    yield "flipped bytes", lambda: open(path, "wb").write(bytes(flipped)), "damaged"
    yield "not a zip", lambda: open(path, "wb").write(b"hello, not a checkpoint at all" * 10), "damaged"
    yield "missing array", lambda: _rewrite(path, gate_bias=None), "lacks gate_bias"
    yield "wrong gate shape", lambda: _rewrite(path, gate_weight=np.ones((3, 1), np.float32)), "scale gate"
    yield "features 1-D", lambda: _rewrite(path, features=np.ones(20, np.float32)), "features are"
    yield "pickled object", lambda: _rewrite(path, features=np.array([{"a": 1}], dtype=object)), "damaged"
    yield "NaN features", lambda: _rewrite(path, features=np.full((5, 64), np.nan, np.float32)), "NaN"
    yield "count mismatch", lambda: _rewrite(path, metadata=_json({**meta, "num_gaussians": 99})), "99 Gaussians"
    yield "no scene", lambda: _rewrite(path, metadata=_json({**meta, "content_hash": ""})), "names no scene"
    yield "bad metadata", lambda: _rewrite(path, metadata=np.frombuffer(b"{not json", np.uint8)), "metadata"
    yield "newer version", lambda: _rewrite(path, metadata=_json({**meta, "checkpoint_version": 99})), "newer engine"


def _json(d):
    return np.frombuffer(json.dumps(d).encode(), np.uint8)


def test_every_damage_is_one_clear_error(tmp_path):
    path = str(tmp_path / "saga_features.npz")
    save_checkpoint(path, make_ckpt(n=5, d=64))
    raw = open(path, "rb").read()
    names = []
    for name, damage, message in _damage_cases(path, raw):
        open(path, "wb").write(raw)
        damage()
        with pytest.raises(CheckpointError, match=message) as info:
            load_checkpoint(path, expected_hash="abc")
        assert path in str(info.value), name
        if name != "newer version":
            assert isinstance(info.value, CheckpointDamagedError) and "prepare the scene again" in str(info.value)
        names.append(name)
    assert len(names) == 13
