"""Merging splats: order, SH degrees padded, extras kept only when common, normals, property order."""

from __future__ import annotations

import numpy as np
import pytest

from saga_blender.core.gaussians import GaussianSplat
from saga_blender.core.splat_merge import merge_splats


def part(n, degree, seed, extras=None):
    rng = np.random.default_rng(seed)
    f = np.float32
    return GaussianSplat(
        means=rng.normal(size=(n, 3)).astype(f), quats=rng.normal(size=(n, 4)).astype(f),
        log_scales=rng.normal(size=(n, 3)).astype(f), opacity_logits=rng.normal(size=n).astype(f),
        sh_dc=rng.normal(size=(n, 3)).astype(f), sh_rest=rng.normal(size=(n, (degree + 1) ** 2 - 1, 3)).astype(f),
        normals=rng.normal(size=(n, 3)).astype(f), extras=extras or {},
    )  # fmt: skip


def test_parts_are_concatenated_in_order_with_sh_padded():
    a = part(5, 3, 0, {"label": np.arange(5, dtype=np.int32), "only_a": np.zeros(5, np.float32)})
    b = part(3, 1, 1, {"label": np.arange(3, dtype=np.int32)})
    merged, notes = merge_splats([a, b])
    assert len(merged) == 8 and merged.sh_degree == 3
    np.testing.assert_array_equal(merged.means, np.concatenate([a.means, b.means]))
    np.testing.assert_array_equal(merged.sh_rest[:5], a.sh_rest)
    np.testing.assert_array_equal(merged.sh_rest[5:, :3], b.sh_rest)
    assert not merged.sh_rest[5:, 3:].any()
    np.testing.assert_array_equal(merged.extras["label"], [0, 1, 2, 3, 4, 0, 1, 2])
    assert "only_a" not in merged.extras
    assert any("only_a" in n for n in notes) and any("part 2 had SH degree 1" in n for n in notes)
    np.testing.assert_array_equal(merged.normals[5:], b.normals)


def test_extras_of_different_types_are_dropped_and_one_part_is_itself():
    a = part(2, 0, 0, {"seg": np.zeros(2, np.int32)})
    b = part(2, 0, 1, {"seg": np.zeros(2, np.float32)})
    merged, notes = merge_splats([a, b])
    assert merged.extras == {} and "seg" in notes[0]
    same, none = merge_splats([a])
    assert same is a and none == []
    with pytest.raises(ValueError, match="nothing to merge"):
        merge_splats([])
