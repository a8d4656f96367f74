"""The contributors of a few pixels of any camera, without rendering the frame.

A click needs the Gaussians that blend into one pixel (or a handful) and their blending weights. Rendering
a whole frame for that costs seconds at 1M Gaussians on a CPU; this module instead

1. culls: projects every Gaussian's centre once per camera (cached) and keeps those whose screen-space box
   can reach the pixel. The bound is conservative: a Gaussian's box half-width is at most
   3.33 * sqrt(s_max^2 * |J|_F^2 + eps2d) + 1 pixels, where s_max is its largest axis and |J|_F the norm of
   the projection Jacobian with gsplat's clamp of off-screen centres;
2. projects the survivors exactly (``projection.project_gaussians``, gsplat's rules) and composites the
   pixel front to back with the tile rasteriser's rules (alpha min(0.999, o exp(-sigma)), skip below 1/255,
   exclusive 1e-4 stop, depth order).

So the result equals the full render's contributors at those pixels (a test checks it against
``render_contributors``), at a cost of a few milliseconds per click once the camera's centres are projected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .projection import ALPHA_THRESHOLD, project_gaussians
from .splat_tensors import SplatTensors
from .tile_rasterizer import MAX_ALPHA, TRANSMITTANCE_MIN

MAX_EXTEND = 3.33  # gsplat's clamp of the opacity-aware box extent (in standard deviations)
NEAR_PLANE = 0.01
EPS2D = 0.3
PIXEL_CHUNK = 16


@dataclass
class PixelContributors:
    """For P pixels: ids [P, K] int64 (-1 where a pixel has fewer), weights [P, K] (descending),
    alphas [P] (the pixel's accumulated alpha, every contributor counted)."""

    ids: torch.Tensor
    weights: torch.Tensor
    alphas: torch.Tensor


@dataclass
class _CameraCull:
    key: bytes
    u: torch.Tensor  # [N] projected centre x (pixels)
    v: torch.Tensor  # [N]
    bound: torch.Tensor  # [N] conservative box half-width (pixels); -1 where culled (behind the near plane)


class PixelContributorFinder:
    """Per scene: the Gaussians, their largest axis; per camera (cached, the last few): the projected centres
    and bounds. ``find(viewmat, K, width, height, pixels)`` answers the contributors of any pixels."""

    def __init__(self, splat: SplatTensors, cache_cameras: int = 4):
        self.splat = splat
        self.max_axis = splat.scales.max(dim=1).values  # [N]
        self._cache: list[_CameraCull] = []
        self._cache_size = cache_cameras

    def _cull_data(self, viewmat: torch.Tensor, K: torch.Tensor, width: int, height: int,
                   camera_model: str = "pinhole") -> _CameraCull:  # fmt: skip
        key = (viewmat.cpu().numpy().tobytes() + K.cpu().numpy().tobytes() + np.array([width, height]).tobytes()
               + camera_model.encode())  # fmt: skip
        for entry in self._cache:
            if entry.key == key:
                return entry
        means = self.splat.means
        R, t = viewmat[:3, :3].to(means), viewmat[:3, 3].to(means)
        fx, fy, cx, cy = (float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))
        # a viewmat may scale (an object scaled in Blender): a Gaussian's axes grow by at most its largest factor
        stretch = float(torch.linalg.matrix_norm(R.double(), ord=2))
        # camera-space coordinates as three matrix-vector products (much faster than an [N, 3] x [3, 3] GEMM)
        z = means @ R[2] + t[2]
        if camera_model == "ortho":
            u = means @ (fx * R[0]) + (fx * t[0] + cx)
            v = means @ (fy * R[1]) + (fy * t[1] + cy)
            sigma2d = self.max_axis * (stretch * max(fx, fy))
        else:
            inv_z = 1.0 / z.clamp_min(NEAR_PLANE)
            u = (means @ (fx * R[0] + cx * R[2]) + (fx * t[0] + cx * t[2])) * inv_z  # = (fx x + cx z) / z
            v = (means @ (fy * R[1] + cy * R[2]) + (fy * t[1] + cy * t[2])) * inv_z
            # gsplat clamps |x/z| of the Jacobian to the field of view plus 30%: bound |J|_F with that clamp
            lim_x = max(width - cx, cx) / fx + 0.3 * 0.5 * width / fx
            lim_y = max(height - cy, cy) / fy + 0.3 * 0.5 * height / fy
            jac = float(np.sqrt(fx * fx * (1 + lim_x * lim_x) + fy * fy * (1 + lim_y * lim_y)))
            sigma2d = self.max_axis * inv_z
            sigma2d.mul_(jac * stretch)
        bound = sigma2d.square_().add_(EPS2D).sqrt_().mul_(MAX_EXTEND).add_(1.0)
        bound.masked_fill_(z < NEAR_PLANE, -1.0)
        entry = _CameraCull(key, u, v, bound)
        self._cache = [entry, *self._cache[: self._cache_size - 1]]
        return entry

    def candidates(self, viewmat: torch.Tensor, K: torch.Tensor, width: int, height: int,
                   pixels: torch.Tensor, camera_model: str = "pinhole") -> torch.Tensor:  # fmt: skip
        """Sorted ids of the Gaussians whose box may cover any of ``pixels`` [P, 2] (x, y integer pixels)."""
        cull = self._cull_data(viewmat, K, width, height, camera_model)
        px = pixels[:, 0].to(cull.u) + 0.5
        py = pixels[:, 1].to(cull.u) + 0.5
        # one pass against the pixels' bounding box, then per pixel on the survivors
        near_box = (
            (cull.u + cull.bound >= px.min()) & (cull.u - cull.bound <= px.max())
            & (cull.v + cull.bound >= py.min()) & (cull.v - cull.bound <= py.max()) & (cull.bound > 0)
        )  # fmt: skip
        ids = torch.nonzero(near_box).squeeze(1)
        if len(pixels) > 1 and len(ids):
            u, v, b = cull.u[ids], cull.v[ids], cull.bound[ids]
            hit = torch.zeros(len(ids), dtype=torch.bool, device=ids.device)
            for start in range(0, len(pixels), 64):
                sx, sy = px[start : start + 64, None], py[start : start + 64, None]
                hit |= (((u[None] - sx).abs() <= b[None]) & ((v[None] - sy).abs() <= b[None])).any(dim=0)
            ids = ids[hit]
        return ids

    def find(self, viewmat: torch.Tensor, K: torch.Tensor, width: int, height: int, pixels: torch.Tensor,
             top_k: int | None = 32, camera_model: str = "pinhole") -> PixelContributors:  # fmt: skip
        """Contributors of ``pixels`` [P, 2] (integer x, y inside the image) seen by the camera (viewmat [4, 4]
        world-to-camera OpenCV, K [3, 3]); ``top_k`` None keeps every contributor."""
        assert viewmat.shape == (4, 4) and K.shape == (3, 3), "one camera: viewmat [4, 4], K [3, 3]"
        assert pixels.ndim == 2 and pixels.shape[1] == 2, "pixels [P, 2] (x, y)"
        outside = (pixels[:, 0] < 0) | (pixels[:, 0] >= width) | (pixels[:, 1] < 0) | (pixels[:, 1] >= height)
        if bool(outside.any()):
            x, y = (int(a) for a in pixels[outside][0])
            raise ValueError(f"pixel ({x}, {y}) is outside the {width}x{height} image")
        s = self.splat
        device = s.means.device
        pixels = pixels.to(device)
        if camera_model not in ("pinhole", "ortho"):
            raise ValueError(f"camera model {camera_model!r}: the engine supports 'pinhole' and 'ortho'")
        cand = self.candidates(viewmat.to(device), K.to(device), width, height, pixels, camera_model)
        P = len(pixels)
        if len(cand) == 0:
            k = top_k or 1
            return PixelContributors(torch.full((P, k), -1, dtype=torch.int64, device=device),
                                     torch.zeros(P, k, device=device), torch.zeros(P, device=device))  # fmt: skip
        proj = project_gaussians(s.means[cand], s.quats[cand], s.scales[cand], s.opacities[cand],
                                 viewmat[None].to(s.means), K[None].to(s.means), width, height,
                                 camera_model=camera_model)  # fmt: skip
        valid = (proj.radii[0] > 0).all(dim=1)
        cand = cand[valid]
        mean2d, conic, depth = proj.means2d[0][valid], proj.conics[0][valid], proj.depths[0][valid]
        opac = s.opacities[cand]
        order = torch.argsort(depth, stable=True)  # front to back, ties by id (as the tile sort)
        cand, mean2d, conic, opac = cand[order], mean2d[order], conic[order], opac[order]
        radii = proj.radii[0][valid][order].to(mean2d)
        pix = pixels.to(mean2d) + 0.5
        chunks = []
        for start in range(0, P, PIXEL_CHUNK):  # a few pixels at a time, each against the boxes covering them
            px = pix[start : start + PIXEL_CHUNK]
            near = ((mean2d[None] - px[:, None]).abs() <= radii[None]).all(dim=2).any(dim=0)
            sel = torch.nonzero(near).squeeze(1)  # still in depth order
            chunks.append(_composite(px, cand[sel], mean2d[sel], conic[sel], opac[sel], top_k))
        k = max(1, *(c[0].shape[1] for c in chunks)) if top_k is None else top_k
        ids = torch.cat([F.pad(c[0], (0, k - c[0].shape[1]), value=-1) for c in chunks])
        weights = torch.cat([F.pad(c[1], (0, k - c[1].shape[1]), value=0.0) for c in chunks])
        return PixelContributors(ids, weights, torch.cat([c[2] for c in chunks]))


def _composite(px: torch.Tensor, ids: torch.Tensor, mean2d: torch.Tensor, conic: torch.Tensor, opac: torch.Tensor,
               top_k: int | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Front-to-back compositing of pixel centres px [p, 2] over depth-sorted Gaussians [G] with gsplat's
    rules -> (ids [p, k], weights [p, k] descending, accumulated alpha [p])."""
    dx = mean2d[None, :, 0] - px[:, 0, None]  # [p, G]
    dy = mean2d[None, :, 1] - px[:, 1, None]
    sigma = 0.5 * (conic[None, :, 0] * dx * dx + conic[None, :, 2] * dy * dy) + conic[None, :, 1] * dx * dy
    alpha = torch.clamp(opac[None] * torch.exp(-sigma), max=MAX_ALPHA)
    use = (sigma >= 0) & (alpha >= ALPHA_THRESHOLD)
    alpha = torch.where(use, alpha, torch.zeros_like(alpha))
    t_incl = torch.cumprod(1.0 - alpha, dim=1)
    t_excl = torch.cat([torch.ones_like(t_incl[:, :1]), t_incl[:, :-1]], dim=1)
    contributes = use & (t_incl > TRANSMITTANCE_MIN)
    weights = torch.where(contributes, alpha * t_excl, torch.zeros_like(alpha))
    k = int(contributes.sum(dim=1).max()) if top_k is None else min(top_k, weights.shape[1])
    top_w, top_i = torch.topk(weights, k, dim=1)
    top_ids = torch.where(top_w > 0, ids[top_i], torch.full_like(top_i, -1))
    return top_ids, top_w, weights.sum(dim=1)
