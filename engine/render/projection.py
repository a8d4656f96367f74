"""EWA projection of 3D Gaussians to screen ellipses: the pure-PyTorch twin of gsplat's
``fully_fused_projection`` (pinhole and orthographic, opacity-aware bounding boxes, eps2d blur).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

ALPHA_THRESHOLD = 1.0 / 255.0


@dataclass
class Projection:
    """Per camera and Gaussian: radii [C, N, 2] int32 (0 = culled), means2d [C, N, 2] pixels,
    depths [C, N] (camera z), conics [C, N, 3] (inverse 2D covariance a, b, c), compensations [C, N]."""

    radii: torch.Tensor
    means2d: torch.Tensor
    depths: torch.Tensor
    conics: torch.Tensor
    compensations: torch.Tensor


def quat_scale_to_covar(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Covariances [N, 3, 3] = R S S R^T from w, x, y, z quaternions [N, 4] (normalised here) and
    linear scales [N, 3]."""
    q = quats / quats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    R = torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(-1, 3, 3)  # fmt: skip
    M = R * scales[:, None, :]
    return M @ M.transpose(-1, -2)


def project_gaussians(
    means: torch.Tensor,  # [N, 3]
    quats: torch.Tensor,  # [N, 4]
    scales: torch.Tensor,  # [N, 3]
    opacities: torch.Tensor,  # [N]
    viewmats: torch.Tensor,  # [C, 4, 4]
    Ks: torch.Tensor,  # [C, 3, 3]
    width: int,
    height: int,
    eps2d: float = 0.3,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    radius_clip: float = 0.0,
    camera_model: str = "pinhole",
    antialiased: bool = False,
) -> Projection:
    """Project N Gaussians into C cameras with gsplat's rules (see module doc)."""
    N, C = means.shape[0], viewmats.shape[0]
    assert means.shape == (N, 3) and quats.shape == (N, 4) and scales.shape == (N, 3), "bad Gaussian shapes"
    assert opacities.shape == (N,) and viewmats.shape == (C, 4, 4) and Ks.shape == (C, 3, 3), "bad shapes"
    if camera_model not in ("pinhole", "ortho"):
        raise ValueError(f"camera_model {camera_model!r} is not supported (pinhole or ortho)")
    R = viewmats[:, :3, :3]  # [C, 3, 3]
    t = viewmats[:, :3, 3]  # [C, 3]
    mean_c = torch.einsum("cij,nj->cni", R, means) + t[:, None, :]  # [C, N, 3]
    covar = quat_scale_to_covar(quats, scales)  # [N, 3, 3]
    covar_c = torch.einsum("cij,njk,clk->cnil", R, covar, R)  # [C, N, 3, 3]

    fx, fy, cx, cy = Ks[:, 0, 0, None], Ks[:, 1, 1, None], Ks[:, 0, 2, None], Ks[:, 1, 2, None]  # [C, 1]
    x, y, z = mean_c.unbind(-1)
    zeros = torch.zeros_like(x)
    if camera_model == "pinhole":
        tan_fovx, tan_fovy = 0.5 * width / fx, 0.5 * height / fy
        lim_x_pos, lim_x_neg = (width - cx) / fx + 0.3 * tan_fovx, cx / fx + 0.3 * tan_fovx
        lim_y_pos, lim_y_neg = (height - cy) / fy + 0.3 * tan_fovy, cy / fy + 0.3 * tan_fovy
        rz = 1.0 / z
        tx = z * torch.minimum(lim_x_pos, torch.maximum(-lim_x_neg, x * rz))
        ty = z * torch.minimum(lim_y_pos, torch.maximum(-lim_y_neg, y * rz))
        J = torch.stack([fx * rz, zeros, -fx * tx * rz * rz, zeros, fy * rz, -fy * ty * rz * rz], dim=-1).reshape(
            C, N, 2, 3
        )
        mean2d = torch.stack([fx * x * rz + cx, fy * y * rz + cy], dim=-1)
    else:
        fxe, fye = fx.expand_as(x), fy.expand_as(x)
        J = torch.stack([fxe, zeros, zeros, zeros, fye, zeros], dim=-1).reshape(C, N, 2, 3)
        mean2d = torch.stack([fx * x + cx, fy * y + cy], dim=-1)
    cov2d = J @ covar_c @ J.transpose(-1, -2)  # [C, N, 2, 2]

    a, b, c = cov2d[..., 0, 0], cov2d[..., 0, 1], cov2d[..., 1, 1]
    det_orig = a * c - b * b
    a, c = a + eps2d, c + eps2d
    det = a * c - b * b
    compensation = torch.sqrt(torch.clamp(det_orig / det, min=0.0))
    inv_det = 1.0 / det
    conics = torch.stack([c * inv_det, -b * inv_det, a * inv_det], dim=-1)

    opac = opacities[None, :].expand(C, N)
    if antialiased:
        opac = opac * compensation
    extend = torch.clamp(torch.sqrt(2.0 * torch.log(torch.clamp(opac / ALPHA_THRESHOLD, min=1.0))), max=3.33)
    radius_x = torch.ceil(extend * torch.sqrt(torch.clamp(a, min=0.0)))
    radius_y = torch.ceil(extend * torch.sqrt(torch.clamp(c, min=0.0)))

    valid = (z >= near_plane) & (z <= far_plane) & (det > 0) & (opac >= ALPHA_THRESHOLD)
    valid &= ~((radius_x <= radius_clip) & (radius_y <= radius_clip))
    mx, my = mean2d[..., 0], mean2d[..., 1]
    outside = (mx + radius_x <= 0) | (mx - radius_x >= width)
    outside |= (my + radius_y <= 0) | (my - radius_y >= height)
    valid &= ~outside
    valid &= torch.isfinite(mx) & torch.isfinite(my)
    radii = torch.stack([radius_x, radius_y], dim=-1).nan_to_num(0.0).to(torch.int32)
    radii = radii * valid[..., None]
    return Projection(radii, mean2d, z, conics, compensation)


def tile_grid(width: int, height: int, tile_size: int) -> tuple[int, int]:
    """Number of tiles (across, down)."""
    return math.ceil(width / tile_size), math.ceil(height / tile_size)
