"""``rasterization``: one function, the arguments of ``gsplat.rasterization``, two backends.

- ``backend="torch"``: pure PyTorch (projection.py + tile_rasterizer.py), runs on CPU or GPU,
  differentiable with respect to colours / features.
- ``backend="gsplat"``: gsplat's CUDA kernels (needs an NVIDIA GPU and the ``gsplat`` package).
- ``backend="auto"``: gsplat when the tensors are on CUDA and gsplat imports, else torch.

Returns ``(render_colors [C, H, W, X], render_alphas [C, H, W, 1], meta)`` as gsplat does, for
``render_mode`` "RGB", "D", "ED", "RGB+D", "RGB+ED" ("RGB" means "the colour channels": any D works).
``tile_size`` is passed to gsplat; the torch backend uses its own ``TORCH_TILE_SIZE`` (the image does
not depend on it).
"""

from __future__ import annotations

import logging

import torch

from .projection import project_gaussians
from .sh import spherical_harmonics
from .tile_rasterizer import TORCH_TILE_SIZE, composite_view

log = logging.getLogger("saga.engine")

RENDER_MODES = ("RGB", "D", "ED", "RGB+D", "RGB+ED")
BACKENDS = ("auto", "torch", "gsplat")


class BackendUnavailableError(RuntimeError):
    """The requested renderer backend cannot run here (message says why and what to do)."""


def gsplat_status() -> dict:
    """Whether the gsplat backend can run here, and if not why: {"available", "reason"}. A gsplat that is installed
    but fails to import is named with its error (logged once), never silently taken for "absent"."""
    global _GSPLAT_STATUS
    if _GSPLAT_STATUS is None:
        try:
            import gsplat

            if torch.cuda.is_available():
                _GSPLAT_STATUS = {"available": True, "reason": "gsplat " + getattr(gsplat, "__version__", "?")}
            else:
                _GSPLAT_STATUS = {"available": False, "reason": "gsplat is installed but there is no CUDA GPU"}
        except ModuleNotFoundError as exc:
            if exc.name != "gsplat":  # gsplat is there but one of its own imports is not
                _GSPLAT_STATUS = {"available": False, "reason": f"gsplat is installed but fails to import: {exc}"}
                log.warning("gsplat fails to import (the slow torch path is used): %s", exc)
            else:
                _GSPLAT_STATUS = {"available": False, "reason": "gsplat is not installed (pip install gsplat==1.5.3)"}
        except Exception as exc:  # a broken install: CUDA libraries, ABI, compiled extension...
            _GSPLAT_STATUS = {"available": False, "reason": f"gsplat is installed but fails to import: "
                                                          f"{type(exc).__name__}: {exc}"}  # fmt: skip
            log.warning("gsplat fails to import (the slow torch path is used): %s: %s", type(exc).__name__, exc)
    return dict(_GSPLAT_STATUS)


_GSPLAT_STATUS: dict | None = None


def gsplat_available() -> bool:
    return gsplat_status()["available"]


def resolve_backend(backend: str, device: torch.device) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "gsplat" if device.type == "cuda" and gsplat_available() else "torch"
    if backend == "gsplat":
        if not torch.cuda.is_available():
            raise BackendUnavailableError("the gsplat backend needs an NVIDIA GPU with CUDA; use backend='torch'")
        try:
            import gsplat  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailableError(
                "the gsplat backend needs the 'gsplat' package: pip install gsplat==1.5.3 "
                "(or install this project with the [gpu] extra)"
            ) from exc
        if device.type != "cuda":
            raise BackendUnavailableError("the gsplat backend needs the tensors on a CUDA device")
    return backend


def colors_for_cameras(
    means: torch.Tensor, colors: torch.Tensor, viewmats: torch.Tensor, sh_degree: int | None
) -> torch.Tensor:
    """Per-camera colours [C, N, D]: SH evaluated towards each camera (+0.5, clamped at 0, as gsplat)
    when ``sh_degree`` is given, otherwise ``colors`` ([N, D] or [C, N, D]) as they are."""
    C, N = viewmats.shape[0], means.shape[0]
    if sh_degree is None:
        if colors.dim() == 2:
            assert colors.shape[0] == N, f"colors {tuple(colors.shape)} does not match {N} Gaussians"
            return colors[None].expand(C, -1, -1)
        assert colors.shape[:2] == (C, N), f"colors {tuple(colors.shape)} is not [C={C}, N={N}, D]"
        return colors
    campos = torch.linalg.inv(viewmats)[:, :3, 3]  # [C, 3]
    dirs = means[None, :, :] - campos[:, None, :]  # [C, N, 3]
    coeffs = colors if colors.dim() == 4 else colors[None].expand(C, -1, -1, -1)
    return torch.clamp_min(spherical_harmonics(sh_degree, dirs, coeffs) + 0.5, 0.0)


def rasterization(
    means: torch.Tensor,  # [N, 3]
    quats: torch.Tensor,  # [N, 4] w, x, y, z (normalised inside)
    scales: torch.Tensor,  # [N, 3] linear
    opacities: torch.Tensor,  # [N] in (0, 1)
    colors: torch.Tensor,  # [N, D], [C, N, D], or SH [N, K, 3] / [C, N, K, 3] with sh_degree
    viewmats: torch.Tensor,  # [C, 4, 4] world-to-camera, OpenCV
    Ks: torch.Tensor,  # [C, 3, 3]
    width: int,
    height: int,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    radius_clip: float = 0.0,
    eps2d: float = 0.3,
    sh_degree: int | None = None,
    backgrounds: torch.Tensor | None = None,  # [C, D]
    render_mode: str = "RGB",
    rasterize_mode: str = "classic",
    camera_model: str = "pinhole",
    tile_size: int = 16,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Render C views of N Gaussians (see module doc). Same arguments and outputs as gsplat."""
    if render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode must be one of {RENDER_MODES}, got {render_mode!r}")
    if rasterize_mode not in ("classic", "antialiased"):
        raise ValueError(f"rasterize_mode must be 'classic' or 'antialiased', got {rasterize_mode!r}")
    which = resolve_backend(backend, means.device)
    args = dict(
        near_plane=near_plane, far_plane=far_plane, radius_clip=radius_clip, eps2d=eps2d,
        sh_degree=sh_degree, backgrounds=backgrounds, render_mode=render_mode,
        rasterize_mode=rasterize_mode, camera_model=camera_model, tile_size=tile_size,
    )  # fmt: skip
    if which == "gsplat":
        import gsplat

        colors_out, alphas, meta = gsplat.rasterization(
            means, quats, scales, opacities, colors, viewmats, Ks, width, height, packed=False, **args
        )
        meta["backend"] = "gsplat"
        return colors_out, alphas, meta
    return _rasterization_torch(means, quats, scales, opacities, colors, viewmats, Ks, width, height, **args)


def _rasterization_torch(
    means, quats, scales, opacities, colors, viewmats, Ks, width, height, *, near_plane, far_plane,
    radius_clip, eps2d, sh_degree, backgrounds, render_mode, rasterize_mode, camera_model, tile_size,
):  # fmt: skip
    C = viewmats.shape[0]
    tile_size = TORCH_TILE_SIZE  # see tile_rasterizer: same image, less work than gsplat's 16
    proj = project_gaussians(
        means, quats, scales, opacities, viewmats, Ks, width, height, eps2d=eps2d,
        near_plane=near_plane, far_plane=far_plane, radius_clip=radius_clip,
        camera_model=camera_model, antialiased=rasterize_mode == "antialiased",
    )  # fmt: skip
    want_color = render_mode in ("RGB", "RGB+D", "RGB+ED")
    want_depth = render_mode != "RGB"
    cam_colors = colors_for_cameras(means, colors, viewmats, sh_degree) if want_color else None
    images, alphas = [], []
    for c in range(C):
        parts = []
        if want_color:
            parts.append(cam_colors[c])
        if want_depth:
            parts.append(proj.depths[c][:, None])
        feats = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        opac = opacities * proj.compensations[c] if rasterize_mode == "antialiased" else opacities
        view = composite_view(proj.means2d[c], proj.radii[c], proj.depths[c], proj.conics[c], opac, feats,
                              width, height, tile_size)  # fmt: skip
        images.append(view.features)
        alphas.append(view.alpha[..., None])
    render_colors = torch.stack(images)  # [C, H, W, X]
    render_alphas = torch.stack(alphas)  # [C, H, W, 1]
    if backgrounds is not None and want_color:
        D = cam_colors.shape[-1]
        color_part = render_colors[..., :D] + backgrounds[:, None, None, :] * (1.0 - render_alphas)
        render_colors = torch.cat([color_part, render_colors[..., D:]], dim=-1)
    if render_mode in ("ED", "RGB+ED"):
        depth = render_colors[..., -1:] / render_alphas.clamp(min=1e-10)
        render_colors = torch.cat([render_colors[..., :-1], depth], dim=-1)
    meta = {
        "backend": "torch",
        "radii": proj.radii,
        "means2d": proj.means2d,
        "depths": proj.depths,
        "conics": proj.conics,
        "width": width,
        "height": height,
        "tile_size": tile_size,
    }
    return render_colors, render_alphas, meta
