"""Per-pixel top-K contributors: the frozen-geometry precompute of SPEC section 3.

Because the splat's geometry is frozen, the blending weight w_{p,k} = alpha_k * prod_{j<k}(1 - alpha_j)
of every Gaussian k at every pixel p never changes. Keeping, per pixel, the K Gaussians with the largest
weights turns any later feature render into a sparse product: F(p) = sum_k w_{p,k} f_k.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .projection import project_gaussians
from .rasterization import resolve_backend
from .tile_rasterizer import TORCH_TILE_SIZE, composite_view


@dataclass
class Contributors:
    """ids [C, H, W, K] int64 (-1 where a pixel has fewer than K contributors), weights [C, H, W, K]
    (descending), alphas [C, H, W] (the pixel's full accumulated alpha, all contributors counted)."""

    ids: torch.Tensor
    weights: torch.Tensor
    alphas: torch.Tensor

    @property
    def top_k(self) -> int:
        return int(self.ids.shape[-1])

    def kept_weight_fraction(self, min_alpha: float = 1e-3) -> torch.Tensor:
        """[M] fraction of each pixel's alpha kept by its top-K, over pixels with alpha > min_alpha."""
        covered = self.alphas > min_alpha
        return self.weights.sum(-1)[covered] / self.alphas[covered]

    def render(self, features: torch.Tensor) -> torch.Tensor:
        """Sparse product: [N, D] features -> [C, H, W, D] = sum_k weights * features[ids]."""
        safe = self.ids.clamp_min(0)
        gathered = features[safe.reshape(-1)].reshape(*safe.shape, features.shape[-1])
        return (self.weights.unsqueeze(-1) * gathered).sum(dim=-2)


def render_contributors(
    means: torch.Tensor,  # [N, 3]
    quats: torch.Tensor,  # [N, 4]
    scales: torch.Tensor,  # [N, 3]
    opacities: torch.Tensor,  # [N]
    viewmats: torch.Tensor,  # [C, 4, 4]
    Ks: torch.Tensor,  # [C, 3, 3]
    width: int,
    height: int,
    top_k: int = 32,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    radius_clip: float = 0.0,
    eps2d: float = 0.3,
    camera_model: str = "pinhole",
    tile_size: int = TORCH_TILE_SIZE,
    backend: str = "auto",
) -> Contributors:
    """Top-K contributing Gaussians and their blending weights for every pixel of C views.

    Backend "torch" projects in PyTorch; backend "gsplat" uses gsplat's CUDA projection. Both then
    run the same front-to-back compositor (tile_rasterizer.composite_tiles) on the tensors' device,
    which keeps a running top-K per pixel; gsplat has no kernel that returns per-pixel weights.
    """
    which = resolve_backend(backend, means.device)
    with torch.no_grad():
        if which == "gsplat":
            radii, means2d, depths, conics = _gsplat_projection(
                means, quats, scales, opacities, viewmats, Ks, width, height, eps2d, near_plane, far_plane,
                radius_clip, camera_model,
            )  # fmt: skip
        else:
            proj = project_gaussians(
                means, quats, scales, opacities, viewmats, Ks, width, height, eps2d=eps2d,
                near_plane=near_plane, far_plane=far_plane, radius_clip=radius_clip, camera_model=camera_model,
            )  # fmt: skip
            radii, means2d, depths, conics = proj.radii, proj.means2d, proj.depths, proj.conics
        ids, weights, alphas = [], [], []
        for c in range(viewmats.shape[0]):
            view = composite_view(means2d[c], radii[c], depths[c], conics[c], opacities, None, width, height,
                                  tile_size, top_k=top_k)  # fmt: skip
            ids.append(view.topk_ids)
            weights.append(view.topk_weights)
            alphas.append(view.alpha)
    return Contributors(torch.stack(ids), torch.stack(weights), torch.stack(alphas))


def _gsplat_projection(
    means, quats, scales, opacities, viewmats, Ks, width, height, eps2d, near_plane, far_plane, radius_clip,
    camera_model,
):  # fmt: skip
    from gsplat import fully_fused_projection

    kwargs = dict(
        eps2d=eps2d, near_plane=near_plane, far_plane=far_plane, radius_clip=radius_clip,
        packed=False, camera_model=camera_model,
    )  # fmt: skip
    try:
        radii, means2d, depths, conics, _ = fully_fused_projection(
            means, None, quats, scales, viewmats, Ks, width, height, opacities=opacities, **kwargs
        )
    except TypeError:  # gsplat without opacity-aware boxes: a looser box, the same pixels
        radii, means2d, depths, conics, _ = fully_fused_projection(
            means, None, quats, scales, viewmats, Ks, width, height, **kwargs
        )
    if radii.dim() == 2:  # older gsplat: one radius per Gaussian
        radii = radii[..., None].expand(*radii.shape, 2)
    return radii, means2d, depths, conics
