"""The PyTorch renderer against closed forms, a literal per-pixel oracle, and its own invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.render.projection import project_gaussians
from engine.render.rasterization import BackendUnavailableError, rasterization
from engine.render.sh import C0, sh_basis, spherical_harmonics
from engine.render.tile_rasterizer import bin_gaussians_to_tiles, composite_tiles, tiles_to_image

from .naive_reference import naive_composite


def camera(f=100.0, w=64, h=64):
    return torch.eye(4)[None], torch.tensor([[[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]]])


def random_scene(n, seed=0, depth=4.0, spread=0.5, scale=(0.005, 0.03)):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g) * spread + torch.tensor([0, 0, depth])
    quats = torch.randn(n, 4, generator=g)
    scales = torch.rand(n, 3, generator=g) * (scale[1] - scale[0]) + scale[0]
    opac = torch.rand(n, generator=g) * 0.7 + 0.3
    colors = torch.rand(n, 3, generator=g)
    return means, quats, scales, opac, colors


def test_isolated_gaussian_matches_closed_form():
    """An axis-aligned anisotropic Gaussian: every pixel equals opacity * exp(-0.5 d^T S^-1 d) with the
    EWA covariance (+0.3 blur), zero where below 1/255, and its box follows the opacity-aware rule."""
    vm, K = camera(f=120.0, w=96, h=80)
    z, sx, sy, op = 6.0, 0.15, 0.08, 0.7
    means = torch.tensor([[0.3, -0.2, z]])
    out, alpha, meta = rasterization(
        means, torch.tensor([[1.0, 0, 0, 0]]), torch.tensor([[sx, sy, 0.01]]), torch.tensor([op]),
        torch.ones(1, 1), vm, K, 96, 80,
    )  # fmt: skip
    # EWA: J = [[f/z, 0, -f x/z^2], [0, f/z, -f y/z^2]]; covariance diag(sx^2, sy^2, 0.01^2)
    f, x, y = 120.0, 0.3, -0.2
    J = np.array([[f / z, 0, -f * x / z**2], [0, f / z, -f * y / z**2]])
    cov2d = J @ np.diag([sx**2, sy**2, 0.01**2]) @ J.T + 0.3 * np.eye(2)
    inv = np.linalg.inv(cov2d)
    mx, my = f * x / z + 48, f * y / z + 40
    ys, xs = np.mgrid[0:80, 0:96] + 0.5
    d = np.stack([mx - xs, my - ys], -1)
    expected = op * np.exp(-0.5 * np.einsum("hwi,ij,hwj->hw", d, inv, d))
    extend = min(3.33, math.sqrt(2 * math.log(op * 255)))
    rx, ry = math.ceil(extend * math.sqrt(cov2d[0, 0])), math.ceil(extend * math.sqrt(cov2d[1, 1]))
    assert meta["radii"][0, 0].tolist() == [rx, ry]
    expected[expected < 1 / 255] = 0
    got = alpha[0, ..., 0].numpy()
    np.testing.assert_allclose(got, expected, atol=2e-6)
    np.testing.assert_allclose(out[0, ..., 0].numpy(), expected, atol=2e-6)
    assert (got > 0).sum() > 50  # a real footprint, not a dot
    assert abs(np.average(xs, weights=got) - mx) < 0.05 and abs(np.average(ys, weights=got) - my) < 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_literal_per_pixel_oracle(seed):
    means, quats, scales, opac, colors = random_scene(60, seed, spread=0.4, scale=(0.02, 0.12))
    vm, K = camera(f=60.0, w=40, h=36)
    out, alpha, meta = rasterization(means, quats, scales, opac, colors, vm, K, 40, 36, backend="torch")
    ref, ref_alpha = naive_composite(
        meta["means2d"][0].numpy().astype(np.float64), meta["conics"][0].numpy().astype(np.float64),
        opac.numpy().astype(np.float64), meta["depths"][0].numpy(), meta["radii"][0].numpy(),
        colors.numpy().astype(np.float64), 40, 36,
    )  # fmt: skip
    assert alpha.max() > 0.9  # occlusion and termination are exercised
    np.testing.assert_allclose(out[0].numpy(), ref, atol=2e-5)
    np.testing.assert_allclose(alpha[0, ..., 0].numpy(), ref_alpha, atol=2e-5)


def test_depth_ordering_and_occlusion_independent_of_input_order():
    vm, K = camera()
    means = torch.tensor([[0.0, 0, 3.0], [0.05, 0, 5.0]])  # red in front of blue
    quats = torch.tensor([[1.0, 0, 0, 0]] * 2)
    scales = torch.tensor([[0.3, 0.3, 0.3]] * 2)
    opac = torch.tensor([0.99, 0.99])
    colors = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    a, al, _ = rasterization(means, quats, scales, opac, colors, vm, K, 64, 64, render_mode="RGB+ED")
    b, _, _ = rasterization(means.flip(0), quats, scales, opac.flip(0), colors.flip(0), vm, K, 64, 64,
                            render_mode="RGB+ED")  # fmt: skip
    torch.testing.assert_close(a, b)
    centre = a[0, 32, 32]
    assert centre[0] > 0.95 and centre[2] < 0.02  # the front (red, alpha 0.99) one hides the back one
    assert abs(centre[3].item() - 3.0) < 0.05  # expected depth is the front depth
    assert al[0, 32, 32, 0] > 0.99


def test_feature_render_equals_colour_render():
    means, quats, scales, opac, colors = random_scene(3000, 5)
    vm, K = camera(f=80.0)
    rgb, _, _ = rasterization(means, quats, scales, opac, colors, vm, K, 64, 64)
    feats = torch.cat([colors, torch.randn(3000, 29)], dim=1)  # 32 channels, first three are the colours
    f32, _, _ = rasterization(means, quats, scales, opac, feats, vm, K, 64, 64)
    assert f32.shape == (1, 64, 64, 32)
    torch.testing.assert_close(f32[..., :3], rgb, atol=1e-5, rtol=1e-5)


def test_chunking_and_tile_size_do_not_change_the_result():
    means, quats, scales, opac, colors = random_scene(4000, 7)
    vm, K = camera(f=90.0, w=70, h=50)
    p = project_gaussians(means, quats, scales, opac, vm, K, 70, 50)
    images = []
    settings = [(16, 8, 1 << 12), (16, 128, 1 << 22), (4, 1024, 1 << 24), (4, 32, 1 << 16), (8, 64, 1 << 20)]
    for tile, ch, budget in settings:
        bins = bin_gaussians_to_tiles(p.means2d[0], p.radii[0], p.depths[0], 70, 50, tile)
        o = composite_tiles(bins, p.means2d[0], p.conics[0], opac, colors, tile, chunk=ch, element_budget=budget)
        grid = (bins.tiles_x, bins.tiles_y, tile, 70, 50)
        images.append((tiles_to_image(o.features, *grid), tiles_to_image(o.transmittance, *grid)))
    assert images[0][0].shape == (50, 70, 3)
    for feats, trans in images[1:]:
        torch.testing.assert_close(feats, images[0][0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(trans, images[0][1], atol=1e-6, rtol=1e-5)


def test_differentiable_with_respect_to_features():
    means, quats, scales, opac, _ = random_scene(80, 3, scale=(0.02, 0.08))
    vm, K = camera(f=50.0, w=24, h=20)
    feats = torch.randn(80, 2, dtype=torch.float64, requires_grad=True)
    args = [t.double() for t in (means, quats, scales, opac)]

    def f(x):
        return rasterization(*args, x, vm.double(), K.double(), 24, 20, backend="torch")[0]

    assert torch.autograd.gradcheck(f, (feats,), eps=1e-6, atol=1e-6, fast_mode=True)


def test_sh_degree0_is_base_colour_and_basis_is_orthonormal():
    dc = torch.randn(50, 1, 3)
    dirs = torch.randn(50, 3)
    torch.testing.assert_close(spherical_harmonics(0, dirs, dc), C0 * dc[:, 0])
    # orthonormality of the degree-3 basis on the sphere (Monte Carlo, 400k directions)
    d = torch.randn(400_000, 3, dtype=torch.float64)
    d = d / d.norm(dim=1, keepdim=True)
    B = sh_basis(3, d)
    gram = 4 * math.pi * (B.T @ B) / d.shape[0]
    torch.testing.assert_close(gram, torch.eye(16, dtype=torch.float64), atol=0.02, rtol=0)


def test_sh_view_dependence_through_rasterization():
    """With sh_degree the colour is SH(dir from camera) + 0.5, clamped at 0 (gsplat's rule)."""
    vm, K = camera()
    means = torch.tensor([[0.0, 0.0, 4.0]])
    sh = torch.zeros(1, 16, 3)
    sh[0, 0] = torch.tensor([0.5, 0.0, -0.5])
    sh[0, 2] = torch.tensor([0.4, 0.4, 0.4])  # the C1 * z band: seen along +z it adds 0.4 * C1
    out, alpha, _ = rasterization(means, torch.tensor([[1.0, 0, 0, 0]]), torch.full((1, 3), 0.5),
                                  torch.tensor([0.999]), sh, vm, K, 64, 64, sh_degree=3)  # fmt: skip
    expect = torch.clamp_min(C0 * sh[0, 0] + 0.4886025119029199 * sh[0, 2] + 0.5, 0)
    torch.testing.assert_close(out[0, 32, 32] / alpha[0, 32, 32], expect, atol=1e-4, rtol=1e-4)


def test_orthographic_camera_and_backgrounds():
    means, quats, scales, opac, colors = random_scene(500, 9)
    vm, K = camera(f=40.0)
    out, alpha, _ = rasterization(means, quats, scales, opac, colors, vm, K, 64, 64, camera_model="ortho",
                                  backgrounds=torch.tensor([[0.0, 1.0, 0.0]]))  # fmt: skip
    assert alpha.max() > 0.5
    empty = alpha[0, ..., 0] < 1e-3
    assert empty.sum() > 100  # pixels no Gaussian reaches show the background
    torch.testing.assert_close(out[0][empty], torch.tensor([0.0, 1.0, 0.0]).expand(int(empty.sum()), 3), atol=2e-3,
                               rtol=0)  # fmt: skip


def test_render_modes_and_errors():
    means, quats, scales, opac, colors = random_scene(200, 1)
    vm, K = camera()
    for mode, channels in [("RGB", 3), ("D", 1), ("ED", 1), ("RGB+D", 4), ("RGB+ED", 4)]:
        out, _, _ = rasterization(means, quats, scales, opac, colors, vm, K, 32, 32, render_mode=mode)
        assert out.shape == (1, 32, 32, channels)
    with pytest.raises(ValueError, match="render_mode"):
        rasterization(means, quats, scales, opac, colors, vm, K, 32, 32, render_mode="X")
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="CUDA"):
            rasterization(means, quats, scales, opac, colors, vm, K, 32, 32, backend="gsplat")


def test_behind_camera_and_multi_camera():
    means, quats, scales, opac, colors = random_scene(800, 4)
    vm, K = camera()
    behind = vm.clone()
    behind[0, 2, 2] = -1.0  # flips z: everything is behind this camera
    behind[0, 0, 0] = -1.0
    _, alpha, _ = rasterization(means, quats, scales, opac, colors, torch.cat([vm, behind]), K.expand(2, 3, 3),
                                  32, 32)  # fmt: skip
    assert alpha[0].max() > 0.5 and alpha[1].max() == 0
