"""Baking a world matrix into a splat: identity is bit-exact, rigid and similarity transforms render
the same image from the moved camera, non-uniform scales give the exact covariance, mirrors raise."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from engine.cameras.cameras import intrinsics, look_at_viewmat
from engine.render.rasterization import rasterization
from engine.render.splat_tensors import splat_to_tensors
from engine.synthetic.scene_generator import generate_table_scene
from saga_blender.core.gaussians import GaussianSplat
from saga_blender.core.splat_transform import quat_to_matrix, transform_splat

WIDTH, HEIGHT = 96, 72
K = intrinsics(80.0, 80.0, 48.0, 36.0)
# Render agreement (colours in [0, 1]); measured max ~4e-6, mean ~1e-7 (float32 round-off only).
MAX_TOL, MEAN_TOL = 2e-3, 1e-5
T = np.array([0.4, -1.0, 2.0])  # translation used by affine()
ARRAYS = ("means", "quats", "log_scales", "opacity_logits", "sh_dc", "sh_rest", "normals")


@pytest.fixture(scope="module")
def scene():
    """Table scene (3000 Gaussians, SH degree 3) with strong view dependence, normals and an extra column."""
    sc = generate_table_scene(3000, seed=0, sh_degree=3)
    s = sc.splat
    rng = np.random.default_rng(1)
    splat = replace(
        s,
        sh_rest=rng.normal(0.0, 0.25, s.sh_rest.shape).astype(np.float32),  # generator's are only ~0.02
        normals=sc.normals.astype(np.float32),
        extras={"segment": np.arange(len(s), dtype=np.int32)},
    )
    viewmat = look_at_viewmat(sc.center + sc.radius * np.array([1.5, -1.8, 1.2]), sc.center, np.array([0, 0, 1.0]))
    return splat, viewmat


def render(splat: GaussianSplat, viewmat: np.ndarray) -> np.ndarray:
    st = splat_to_tensors(splat)
    vm = torch.tensor(viewmat[None], dtype=torch.float32)
    ks = torch.tensor(K[None], dtype=torch.float32)
    img, _, _ = rasterization(
        st.means, st.quats, st.scales, st.opacities, st.sh, vm, ks, WIDTH, HEIGHT, sh_degree=3, backend="torch"
    )
    return img[0].numpy()


def affine(linear: np.ndarray, t: np.ndarray = T) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = linear, t
    return m


def covariances(splat: GaussianSplat) -> np.ndarray:
    rs = quat_to_matrix(splat.quats.astype(np.float64)) * np.exp(splat.log_scales.astype(np.float64))[:, None, :]
    return rs @ np.swapaxes(rs, 1, 2)


def test_identity_is_bit_exact(scene):
    splat, _ = scene
    out, report = transform_splat(splat, np.eye(4))
    assert report["identity"] and report["uniform_scale"] and not report["reflection"]
    for name in ARRAYS:
        a, b = getattr(splat, name), getattr(out, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
        assert not np.shares_memory(a, b), name  # copies, not views
    assert out.extras["segment"].tobytes() == splat.extras["segment"].tobytes()
    assert out.property_order == splat.property_order


def test_translation_only_moves_means(scene):
    splat, _ = scene
    out, _ = transform_splat(splat, affine(np.eye(3)))
    np.testing.assert_array_equal(out.means, (splat.means.astype(np.float64) + T).astype(np.float32))
    for name in ARRAYS[1:]:
        assert getattr(out, name).tobytes() == getattr(splat, name).tobytes(), name


@pytest.mark.parametrize("s", [1.0, 2.0])
def test_similarity_renders_identically_from_moved_camera(scene, s):
    """M = [s R | t]. The camera V' = diag(s, s, s, 1) V M^-1 is rigid (rotation V_R R^T) and sees every
    transformed point at s times its original camera coordinates: same pixels (pinhole x/z), same 2D
    covariances, same depth order, and the view directions are R times the old ones, so the rotated
    SH give the same colours. The image must match; with the SH left unrotated it must not."""
    splat, viewmat = scene
    R = Rotation.random(random_state=3).as_matrix()
    m = affine(s * R)
    out, report = transform_splat(splat, m)
    assert report["uniform_scale"] and not report["sh_approximate"]
    assert report["max_scale_ratio"] == pytest.approx(1.0)
    moved = np.diag([s, s, s, 1.0]) @ viewmat @ np.linalg.inv(m)
    np.testing.assert_allclose(moved[:3, :3] @ moved[:3, :3].T, np.eye(3), atol=1e-12)  # rigid camera

    ref = render(splat, viewmat)
    err = np.abs(render(out, moved) - ref)
    assert err.max() <= MAX_TOL and err.mean() <= MEAN_TOL, (err.max(), err.mean())

    unrotated = np.abs(render(replace(out, sh_rest=splat.sh_rest), moved) - ref)
    assert unrotated.max() > 0.1 and unrotated.mean() > 100 * MEAN_TOL, (unrotated.max(), unrotated.mean())

    # Exact geometry: means, covariances s^2 R Sigma R^T, log-scales shifted by log(s), quaternion norms kept.
    np.testing.assert_allclose(out.means, splat.means @ (s * R).T + m[:3, 3], atol=1e-5)
    want = s * s * R @ covariances(splat) @ R.T
    np.testing.assert_allclose(covariances(out), want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
    np.testing.assert_allclose(out.log_scales, splat.log_scales + np.float32(np.log(s)), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out.quats, axis=1), np.linalg.norm(splat.quats, axis=1), rtol=1e-6)
    np.testing.assert_allclose(out.normals, splat.normals @ R.T, atol=1e-6)
    for name in ("opacity_logits", "sh_dc"):
        assert getattr(out, name).tobytes() == getattr(splat, name).tobytes(), name
    assert out.extras["segment"].tobytes() == splat.extras["segment"].tobytes()


@pytest.mark.parametrize("seed", range(3))
def test_non_uniform_scale_gives_exact_covariance(scene, seed):
    splat, _ = scene
    a = (
        Rotation.random(random_state=seed).as_matrix()
        @ np.diag([1.5, 0.7, 1.2])
        @ Rotation.random(random_state=seed + 10).as_matrix()
    )  # general: rotation, axis scale and shear
    out, report = transform_splat(splat, affine(a))
    assert not report["uniform_scale"] and report["sh_approximate"]
    assert report["max_scale_ratio"] == pytest.approx(1.5 / 0.7)

    want = a @ covariances(splat) @ a.T
    rel = np.linalg.norm(covariances(out) - want, axis=(1, 2)) / np.linalg.norm(want, axis=(1, 2))
    assert rel.max() <= 1e-5, rel.max()  # float32 storage: measured ~5e-7
    np.testing.assert_allclose(out.means, splat.means @ a.T + T, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(out.quats, axis=1), np.linalg.norm(splat.quats, axis=1), rtol=1e-6)

    # Normals stay perpendicular to transformed tangents (n' . A u = 0) and keep their length.
    rng = np.random.default_rng(seed)
    tangent = np.cross(splat.normals.astype(np.float64), rng.normal(size=(len(splat), 3)))
    dots = np.einsum("ni,ni->n", out.normals.astype(np.float64), tangent @ a.T)
    assert np.abs(dots).max() <= 1e-5 * np.abs(tangent).max() * 2
    np.testing.assert_allclose(np.linalg.norm(out.normals, axis=1), np.linalg.norm(splat.normals, axis=1), rtol=1e-5)


def test_slightly_non_uniform_keeps_axis_order(scene):
    """A barely non-uniform scale takes the exact (SVD) path but keeps each axis in its slot."""
    splat, _ = scene
    out, report = transform_splat(
        splat, affine(np.diag([1.0, 1.0, 1.001]) @ Rotation.random(random_state=4).as_matrix())
    )
    assert not report["uniform_scale"]
    assert np.abs(out.log_scales - splat.log_scales).max() < 2e-3


def test_zero_quaternion_is_treated_as_identity():
    splat = GaussianSplat.from_activated(
        means=np.zeros((2, 3)), quats=np.array([[0.0, 0, 0, 0], [2.0, 0, 0, 0]]),
        scales=np.array([[0.1, 0.2, 0.3]] * 2), opacities=np.full(2, 0.5), rgb=np.full((2, 3), 0.5),
    )  # fmt: skip
    for a in (Rotation.random(random_state=0).as_matrix(), np.diag([1.0, 2.0, 3.0])):
        out, _ = transform_splat(splat, affine(a))
        cov = covariances(out)
        np.testing.assert_allclose(cov[0], cov[1], atol=1e-7)
        np.testing.assert_allclose(cov[0], a @ np.diag([0.01, 0.04, 0.09]) @ a.T, atol=1e-6)


@pytest.mark.parametrize(
    ("linear", "match"),
    [
        (np.diag([1.0, 1.0, -1.0]), "mirror"),
        (-2.0 * Rotation.random(random_state=1).as_matrix(), "mirror"),
        (np.diag([1.0, 0.0, 1.0]), "singular"),
    ],
)
def test_reflection_and_singular_raise(scene, linear, match):
    splat, _ = scene
    with pytest.raises(ValueError, match=match):
        transform_splat(splat, affine(linear))


def test_bad_matrix_raises(scene):
    splat, _ = scene
    projective = np.eye(4)
    projective[3, 0] = 0.5
    with pytest.raises(ValueError, match="not affine"):
        transform_splat(splat, projective)
    with pytest.raises(ValueError, match="4x4"):
        transform_splat(splat, np.eye(3))
