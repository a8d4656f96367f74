"""Real spherical harmonics up to degree 3, with the constants of the reference 3DGS code and gsplat."""

from __future__ import annotations

import torch

from saga_blender.core.gaussians import SH_C0 as C0
from saga_blender.core.sh_rotation import C1, C2, C3  # one set of constants for the renderer and the exporter


def num_sh_bases(degree: int) -> int:
    return (degree + 1) ** 2


def sh_basis(degree: int, dirs: torch.Tensor) -> torch.Tensor:
    """Basis values [..., (degree+1)^2] for unit directions [..., 3] (same order as gsplat)."""
    if not 0 <= degree <= 3:
        raise ValueError(f"SH degree must be 0..3, got {degree}")
    out = [torch.full_like(dirs[..., 0], C0)]
    if degree >= 1:
        x, y, z = dirs.unbind(-1)
        out += [-C1 * y, C1 * z, -C1 * x]
        if degree >= 2:
            xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
            out += [
                C2[0] * xy,
                C2[1] * yz,
                C2[2] * (2.0 * zz - xx - yy),
                C2[3] * xz,
                C2[4] * (xx - yy),
            ]
            if degree >= 3:
                out += [
                    C3[0] * y * (3 * xx - yy),
                    C3[1] * xy * z,
                    C3[2] * y * (4 * zz - xx - yy),
                    C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
                    C3[4] * x * (4 * zz - xx - yy),
                    C3[5] * z * (xx - yy),
                    C3[6] * x * (xx - 3 * yy),
                ]
    return torch.stack(out, dim=-1)


def spherical_harmonics(degree: int, dirs: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Colours [..., 3] from SH coefficients [..., K, 3] (K >= (degree+1)^2) seen along ``dirs`` [..., 3].

    ``dirs`` need not be normalised (they are, here), as in gsplat. Only the first (degree+1)^2
    coefficients are used. Returns the raw SH sum (no +0.5, no clamping).
    """
    k = num_sh_bases(degree)
    if coeffs.shape[-2] < k:
        raise ValueError(f"{coeffs.shape[-2]} SH coefficients cannot give degree {degree} (needs {k})")
    unit = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    basis = sh_basis(degree, unit)  # [..., k]
    return (basis.unsqueeze(-1) * coeffs[..., :k, :]).sum(dim=-2)
