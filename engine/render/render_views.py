"""Render a splat from a camera set to files: the implementation of ``saga-engine render``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from saga_blender.core.gaussians import GaussianSplat

from .image_files import save_depth, save_png
from .rasterization import rasterization
from .splat_tensors import cameras_to_tensors, splat_to_tensors


@dataclass
class RenderedView:
    name: str
    rgb: np.ndarray  # [H, W, 3]
    depth: np.ndarray  # [H, W] expected depth
    alpha: np.ndarray  # [H, W]


def render_views(
    splat: GaussianSplat,
    cameras,
    backend: str = "auto",
    device: str = "cpu",
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
    progress: Callable[[int, int], None] | None = None,
):
    """Yield one RenderedView per camera (RGB with SH, expected depth, alpha)."""
    st = splat_to_tensors(splat, device)
    viewmats, Ks = cameras_to_tensors(cameras, device)
    bg = torch.tensor([background], dtype=torch.float32, device=device)
    for i in range(len(cameras)):
        with torch.no_grad():
            out, alpha, _ = rasterization(
                st.means, st.quats, st.scales, st.opacities, st.sh, viewmats[i : i + 1], Ks[i : i + 1],
                cameras.width, cameras.height, sh_degree=st.sh_degree, backgrounds=bg,
                render_mode="RGB+ED", backend=backend,
            )  # fmt: skip
        out = out[0].cpu().numpy()
        if progress:
            progress(i + 1, len(cameras))
        yield RenderedView(cameras.names[i], out[..., :3], out[..., 3], alpha[0, ..., 0].cpu().numpy())


def render_to_folder(splat, cameras, out_dir, backend="auto", device="cpu", depth=True, log=print) -> list[str]:
    """Write ``<name>.png`` (and ``<name>_depth.png`` / ``.npy``) per camera; returns the colour paths."""
    from saga_blender.core.atomic_files import make_folder

    make_folder(out_dir, "output folder")
    paths = []
    t0 = time.perf_counter()
    for view in render_views(splat, cameras, backend=backend, device=device):
        stem = os.path.join(out_dir, os.path.splitext(os.path.basename(view.name))[0])
        save_png(stem + ".png", view.rgb)
        if depth:
            save_depth(stem + "_depth.png", view.depth, view.alpha)
        paths.append(stem + ".png")
        log(f"rendered {len(paths)}/{len(cameras)}: {stem}.png ({time.perf_counter() - t0:.1f} s)")
    return paths
