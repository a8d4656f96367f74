"""antimatter15 .splat: byte layout, write/read within quantisation, malformed files."""

from __future__ import annotations

import numpy as np
import pytest

from saga_blender.core.errors import SplatFileError
from saga_blender.core.gaussians import GaussianSplat
from saga_blender.core.splat_antimatter import read_antimatter_splat, write_antimatter_splat
from saga_blender.core.splat_io import read_splat


def random_splat(n: int, seed: int = 0) -> GaussianSplat:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 4)) * rng.uniform(0.5, 2.0, (n, 1))  # not normalised on purpose
    return GaussianSplat.from_activated(
        means=rng.normal(size=(n, 3)) * 5,
        quats=q,
        scales=np.exp(rng.uniform(-6, 0, (n, 3))),
        opacities=rng.uniform(0.01, 0.99, n),
        rgb=rng.uniform(0, 1, (n, 3)),
    )


def test_write_then_read_within_quantisation(tmp_path):
    splat = random_splat(500)
    path = tmp_path / "scene.splat"
    write_antimatter_splat(path, splat)
    assert path.stat().st_size == 500 * 32
    back = read_antimatter_splat(path)
    assert len(back) == 500 and back.sh_degree == 0
    np.testing.assert_array_equal(back.means, splat.means)  # float32 stored as is
    np.testing.assert_allclose(back.scales, splat.scales, rtol=1e-6)
    assert np.abs(back.base_rgb - splat.base_rgb).max() <= 0.5 / 255 + 1e-6
    assert np.abs(back.opacities - splat.opacities).max() <= 0.5 / 255 + 1e-6
    u = splat.unit_quats.astype(float)
    b = back.quats.astype(float)
    assert np.abs(np.linalg.norm(b, axis=1) - 1).max() < 1e-6
    # per component error of the 8-bit encoding is at most ~1/128, a bit more after renormalising
    sign = np.sign(np.sum(u * b, axis=1, keepdims=True))
    assert np.abs(b * sign - u).max() < 0.02
    assert read_splat(path).splat.content_hash() == back.content_hash()


def test_byte_layout(tmp_path):
    record = np.zeros(1, dtype=[("p", "<f4", 3), ("s", "<f4", 3), ("c", "u1", 4), ("r", "u1", 4)])
    record["p"] = [1.5, -2.0, 3.25]
    record["s"] = [0.5, 1.0, 2.0]
    record["c"] = [255, 0, 51, 128]
    record["r"] = [255, 128, 128, 0]  # w ~ +1, z = -1 -> normalised (1, 0, 0, -1) / sqrt 2 (approx.)
    path = tmp_path / "one.splat"
    record.tofile(path)
    s = read_antimatter_splat(path)
    np.testing.assert_array_equal(s.means[0], [1.5, -2.0, 3.25])
    np.testing.assert_allclose(s.log_scales[0], np.log([0.5, 1.0, 2.0]), atol=1e-7)
    np.testing.assert_allclose(s.base_rgb[0], [1.0, 0.0, 0.2], atol=1e-6)
    np.testing.assert_allclose(s.opacities[0], 128 / 255, atol=1e-6)
    w = 127 / 128
    np.testing.assert_allclose(s.quats[0], np.array([w, 0, 0, -1]) / np.hypot(w, 1), atol=1e-6)


def test_zero_quaternion_becomes_identity(tmp_path):
    record = np.zeros(32, np.uint8)
    record[12:24] = np.frombuffer(np.float32([1, 1, 1]).tobytes(), np.uint8)
    record[28:32] = 128
    path = tmp_path / "zero.splat"
    record.tofile(path)
    np.testing.assert_array_equal(read_antimatter_splat(path).quats[0], [1, 0, 0, 0])


def test_truncated_splat(tmp_path):
    path = tmp_path / "cut.splat"
    write_antimatter_splat(path, random_splat(10))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(SplatFileError, match=r"truncated or not a \.splat file \(size 315 is not a multiple of 32"):
        read_splat(path)


def test_empty_and_missing_splat(tmp_path):
    path = tmp_path / "empty.splat"
    path.write_bytes(b"")
    with pytest.raises(SplatFileError, match="empty file") as info:
        read_splat(path)
    assert "empty.splat" in str(info.value)
    with pytest.raises(SplatFileError, match="cannot read"):
        read_antimatter_splat(tmp_path / "missing.splat")
