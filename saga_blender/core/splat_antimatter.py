"""antimatter15 ``.splat``: headerless 32-byte little-endian records, no SH.

Record: position 3 x f32, linear scale 3 x f32, RGBA 4 x u8 (band-0 colour, alpha = opacity), rotation
4 x u8 (w, x, y, z; byte b maps to (b - 128) / 128, as antimatter15's converter writes q * 128 + 128).
"""

from __future__ import annotations

import os

import numpy as np

from .atomic_files import atomic_write
from .errors import SplatFileError
from .gaussians import SH_C0, GaussianSplat

RECORD = np.dtype([("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])
assert RECORD.itemsize == 32
#: Opacity is clamped to [eps, 1 - eps] before the logit, so alpha bytes 0 and 255 stay finite.
ALPHA_EPS = 1e-6


def read_antimatter_splat(path: str | os.PathLike) -> GaussianSplat:
    """Read a ``.splat`` file into N Gaussians (quaternions normalised, scales to logs, alpha to logits).

    Raises SplatFileError for a missing, empty or truncated file.
    """
    path = os.fspath(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise SplatFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    size = raw.size
    if size == 0:
        raise SplatFileError(path, "empty file (a .splat file holds 32-byte records)")
    if size % RECORD.itemsize:
        raise SplatFileError(
            path, f"truncated or not a .splat file (size {size} is not a multiple of {RECORD.itemsize} bytes)"
        )
    rec = raw.view(RECORD)
    n = rec.shape[0]

    q = (rec["rot"].astype(np.float64) - 128.0) / 128.0  # [N, 4] w, x, y, z
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(norm > 0, q / np.where(norm > 0, norm, 1.0), np.array([1.0, 0.0, 0.0, 0.0]))

    scale = rec["scale"].astype(np.float64)  # [N, 3] linear; 0 -> smallest float32, < 0 / NaN stay NaN
    with np.errstate(invalid="ignore", divide="ignore"):
        log_scales = np.log(np.where(scale == 0, np.finfo(np.float32).tiny, scale))

    rgba = rec["rgba"].astype(np.float64) / 255.0  # [N, 4]
    alpha = np.clip(rgba[:, 3], ALPHA_EPS, 1.0 - ALPHA_EPS)
    return GaussianSplat(
        means=rec["pos"].astype(np.float32),
        quats=q.astype(np.float32),
        log_scales=log_scales.astype(np.float32),
        opacity_logits=np.log(alpha / (1.0 - alpha)).astype(np.float32),
        sh_dc=((rgba[:, :3] - 0.5) / SH_C0).astype(np.float32),
        sh_rest=np.zeros((n, 0, 3), np.float32),
    )


def write_antimatter_splat(path: str | os.PathLike, splat: GaussianSplat, *, overwrite: bool = True) -> None:
    """Write a ``.splat`` file atomically (quantises colour, opacity and the normalised quaternion to bytes, rounding
    to nearest; no SH bands above 0, no extras)."""
    path = os.fspath(path)
    rec = np.empty(len(splat), RECORD)
    rec["pos"] = splat.means
    rec["scale"] = splat.scales
    rgba = np.concatenate([splat.base_rgb, splat.opacities[:, None]], axis=1)
    rec["rgba"] = np.clip(np.rint(rgba.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    rec["rot"] = np.clip(np.rint(splat.unit_quats.astype(np.float64) * 128.0 + 128.0), 0, 255).astype(np.uint8)
    with atomic_write(path, overwrite=overwrite) as fh:
        fh.write(rec.tobytes())
