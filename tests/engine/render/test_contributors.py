"""The frozen-geometry precompute: per-pixel top-K contributors reproduce the direct render."""

from __future__ import annotations

import pytest
import torch

from engine.cameras.auto_views import auto_views
from engine.render.contributors import render_contributors
from engine.render.rasterization import rasterization
from engine.render.splat_tensors import cameras_to_tensors, splat_to_tensors
from engine.synthetic.scene_generator import generate_table_scene

SIZE = 128  # 40k Gaussians at 128 px has the pixel density of the 200k demo scene at 256 px


@pytest.fixture(scope="module")
def demo_scene_views():
    scene = generate_table_scene(40_000, seed=0)
    cams = auto_views(scene.splat, 2, width=SIZE, height=SIZE, layout="object", up=scene.up)
    st = splat_to_tensors(scene.splat)
    vm, K = cameras_to_tensors(cams)
    return st, vm, K


def test_sparse_product_equals_direct_feature_render(demo_scene_views):
    """With K large enough to hold every contributor, sum_k w f[id] equals the render within 1e-4."""
    st, vm, K = demo_scene_views
    feats = torch.randn(len(st), 32, generator=torch.Generator().manual_seed(0))
    direct, alpha, _ = rasterization(st.means, st.quats, st.scales, st.opacities, feats, vm, K, SIZE, SIZE)
    contrib = render_contributors(st.means, st.quats, st.scales, st.opacities, vm, K, SIZE, SIZE, top_k=512)
    assert (contrib.ids[..., -1] < 0).all(), "K=512 should hold every contributor of every pixel here"
    torch.testing.assert_close(contrib.render(feats), direct, atol=1e-4, rtol=0)
    torch.testing.assert_close(contrib.alphas, alpha[..., 0])
    torch.testing.assert_close(contrib.weights.sum(-1), alpha[..., 0], atol=1e-4, rtol=0)


def test_default_top_k_keeps_99_percent_of_alpha(demo_scene_views):
    st, vm, K = demo_scene_views
    contrib = render_contributors(st.means, st.quats, st.scales, st.opacities, vm, K, SIZE, SIZE)
    assert contrib.top_k == 32
    kept = contrib.kept_weight_fraction()
    assert kept.mean() >= 0.99, f"mean kept weight {kept.mean():.4f}"
    # truncation error is bounded by the dropped weight times the largest feature magnitude
    feats = torch.rand(len(st), 3)
    direct, alpha, _ = rasterization(st.means, st.quats, st.scales, st.opacities, feats, vm, K, SIZE, SIZE)
    dropped = (alpha[..., 0] - contrib.weights.sum(-1)).clamp_min(0)
    err = (contrib.render(feats) - direct).abs().amax(-1)
    assert (err <= dropped + 1e-5).all()


def test_ids_and_weights_layout(demo_scene_views):
    st, vm, K = demo_scene_views
    contrib = render_contributors(st.means, st.quats, st.scales, st.opacities, vm, K, SIZE, SIZE, top_k=8)
    w, ids = contrib.weights, contrib.ids
    assert ids.shape == (2, SIZE, SIZE, 8) and w.shape == ids.shape
    assert (w[..., :-1] >= w[..., 1:]).all(), "weights are sorted, largest first"
    assert ((ids >= 0) == (w > 0)).all(), "-1 exactly where there is no contributor"
    assert ids.max() < len(st)
    # empty pixels (background) have no contributors at all
    empty = contrib.alphas == 0
    assert (ids[empty] == -1).all()
