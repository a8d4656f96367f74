"""GaussianSplat (numpy, stored values) -> the activated torch tensors the renderer takes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from saga_blender.core.gaussians import GaussianSplat


@dataclass
class SplatTensors:
    """means [N, 3], quats [N, 4] (w, x, y, z), scales [N, 3] linear, opacities [N], sh [N, K, 3]."""

    means: torch.Tensor
    quats: torch.Tensor
    scales: torch.Tensor
    opacities: torch.Tensor
    sh: torch.Tensor
    sh_degree: int

    def __len__(self) -> int:
        return int(self.means.shape[0])


def splat_to_tensors(splat: GaussianSplat, device: str | torch.device = "cpu") -> SplatTensors:
    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)

    return SplatTensors(
        means=t(splat.means),
        quats=t(splat.quats),
        scales=t(splat.scales),
        opacities=t(splat.opacities),
        sh=t(splat.sh_coeffs),
        sh_degree=splat.sh_degree,
    )


def cameras_to_tensors(cameras, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(viewmats [C, 4, 4], Ks [C, 3, 3]) float32 tensors of an engine ``Cameras``."""
    vm = torch.from_numpy(cameras.viewmats.astype(np.float32)).to(device)
    ks = torch.from_numpy(cameras.Ks.astype(np.float32)).to(device)
    return vm, ks
