"""Writing renders to image files: colour PNG, depth as a viewable PNG plus the raw float32 ``.npy``."""

from __future__ import annotations

import os

import numpy as np


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """[H, W, 3] float in [0, 1] -> uint8 (clipped)."""
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write a PNG atomically."""
    from PIL import Image

    from saga_blender.core.atomic_files import atomic_write

    with atomic_write(path) as fh:
        Image.fromarray(to_uint8(rgb) if rgb.dtype != np.uint8 else rgb).save(fh, format="PNG")


def depth_to_rgb(depth: np.ndarray, alpha: np.ndarray, min_alpha: float = 0.5) -> np.ndarray:
    """[H, W] depth -> [H, W, 3] near = bright, far = dark (robust 1-99% range); background black."""
    valid = alpha > min_alpha
    out = np.zeros((*depth.shape, 3), np.float32)
    if not valid.any():
        return out
    lo, hi = np.percentile(depth[valid], [1, 99])
    t = 1.0 - np.clip((depth - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    # a short blue -> orange -> white ramp: readable without a colormap library
    ramp = np.stack([np.clip(2 * t, 0, 1), np.clip(2 * t - 0.5, 0, 1), np.clip(1.0 - 2 * abs(t - 0.35), 0.2, 1)], -1)
    out[valid] = ramp[valid]
    return out


def save_depth(path_png: str | os.PathLike, depth: np.ndarray, alpha: np.ndarray) -> None:
    """Write ``<name>.png`` (viewable) and ``<name>.npy`` (float32 metres, NaN where alpha < 0.5)."""
    from saga_blender.core.atomic_files import save_npy

    path_png = os.fspath(path_png)
    save_png(path_png, depth_to_rgb(depth, alpha))
    raw = np.where(alpha > 0.5, depth, np.nan).astype(np.float32)
    save_npy(os.path.splitext(path_png)[0] + ".npy", raw)
