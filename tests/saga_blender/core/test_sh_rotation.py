"""SH rotation: rotated coefficients reproduce the rotated function in the renderer's own basis."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from engine.render.sh import sh_basis
from saga_blender.core.sh_rotation import rotate_sh_rest, sh_rotation_matrices

BAND_SLICES = [slice(1, 4), slice(4, 9), slice(9, 16)]  # bands 1..3 in the full 16-coefficient vector


def random_rotation(seed: int) -> np.ndarray:
    return Rotation.random(random_state=seed).as_matrix()


def random_dirs(n: int, seed: int) -> np.ndarray:
    d = np.random.default_rng(seed).normal(size=(n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def engine_basis(dirs: np.ndarray) -> np.ndarray:
    """[M, 16] degree-3 basis of engine/render/sh.py (torch, float64)."""
    return sh_basis(3, torch.from_numpy(np.ascontiguousarray(dirs, np.float64))).numpy()


def rotate_full(coeffs: np.ndarray, mats: list[np.ndarray]) -> np.ndarray:
    """[16, C] coefficients with bands 1..3 multiplied by ``mats``."""
    out = coeffs.copy()
    for sl, d in zip(BAND_SLICES, mats, strict=True):
        out[sl] = d @ coeffs[sl]
    return out


@pytest.mark.parametrize("seed", range(5))
def test_rotated_coefficients_evaluate_to_rotated_function(seed):
    rng = np.random.default_rng(100 + seed)
    R = random_rotation(seed)
    coeffs = rng.normal(size=(16, 3))
    dirs = random_dirs(2000, seed)
    mats = sh_rotation_matrices(R, 3)
    expected = engine_basis(dirs @ R) @ coeffs  # f(R^T d): rows of dirs @ R are R^T d
    got = engine_basis(dirs) @ rotate_full(coeffs, mats)
    assert np.abs(got - expected).max() < 1e-10  # float64 (measured ~3e-15)
    # The check discriminates: unrotated or transposed matrices are far off.
    assert np.abs(engine_basis(dirs) @ coeffs - expected).max() > 0.1
    assert np.abs(engine_basis(dirs) @ rotate_full(coeffs, [d.T for d in mats]) - expected).max() > 0.1


def test_band1_is_a_rotated_vector():
    """Band 1 is C1 * v . d with v = (-c2, -c0, c1), so rotating it rotates v (checks the signs)."""
    R = random_rotation(7)
    c = np.array([0.3, -1.2, 0.7])
    v = np.array([-c[2], -c[0], c[1]])
    rv = R @ v
    expected = np.array([-rv[1], rv[2], -rv[0]])
    np.testing.assert_allclose(sh_rotation_matrices(R, 1)[0] @ c, expected, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_matrices_orthogonal_and_compose(seed):
    R1, R2 = random_rotation(seed), random_rotation(seed + 50)
    d1, d2, d12 = sh_rotation_matrices(R1, 3), sh_rotation_matrices(R2, 3), sh_rotation_matrices(R1 @ R2, 3)
    for band, (a, b, ab) in enumerate(zip(d1, d2, d12, strict=True), start=1):
        assert a.shape == (2 * band + 1, 2 * band + 1)
        np.testing.assert_allclose(a @ a.T, np.eye(2 * band + 1), atol=1e-12)
        np.testing.assert_allclose(ab, a @ b, atol=1e-12)
        assert np.abs(ab - b @ a).max() > 1e-3  # rotations do not commute, so the order is tested


def test_identity_gives_identity_and_degrees():
    for band, d in enumerate(sh_rotation_matrices(np.eye(3), 3), start=1):
        np.testing.assert_allclose(d, np.eye(2 * band + 1), atol=1e-12)
    assert sh_rotation_matrices(random_rotation(1), 0) == []
    assert [d.shape[0] for d in sh_rotation_matrices(random_rotation(1), 2)] == [3, 5]


@pytest.mark.parametrize("n_rest", [3, 8, 15])
def test_rotate_sh_rest_float32(n_rest):
    rng = np.random.default_rng(3)
    R = random_rotation(11)
    sh_rest = rng.normal(size=(500, n_rest, 3)).astype(np.float32)
    before = sh_rest.copy()
    out = rotate_sh_rest(sh_rest, R)
    assert out.dtype == np.float32 and out.shape == sh_rest.shape
    np.testing.assert_array_equal(sh_rest, before)  # input untouched
    degree = {3: 1, 8: 2, 15: 3}[n_rest]
    k = (degree + 1) ** 2
    dirs = random_dirs(300, 5)
    basis = engine_basis(dirs)[:, 1:k]  # bands 1..degree
    basis_rot = engine_basis(dirs @ R)[:, 1:k]
    expected = np.einsum("mk,nkc->nmc", basis_rot, sh_rest.astype(np.float64))
    got = np.einsum("mk,nkc->nmc", basis, out.astype(np.float64))
    assert np.abs(got - expected).max() < 1e-4  # float32 (measured ~3e-7)


def test_rotate_sh_rest_degree0_and_bad_input():
    empty = np.zeros((4, 0, 3), np.float32)
    assert rotate_sh_rest(empty, random_rotation(0)).shape == (4, 0, 3)
    with pytest.raises(ValueError, match="sh_rest"):
        rotate_sh_rest(np.zeros((4, 5, 3), np.float32), np.eye(3))
    with pytest.raises(ValueError, match="rotation"):
        rotate_sh_rest(np.zeros((4, 3, 3), np.float32), np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(ValueError, match="degree"):
        sh_rotation_matrices(np.eye(3), 4)
