"""Rendering a scene to image files (``saga-engine render``): which cameras, and the folder written."""

from __future__ import annotations

import os

from engine.cameras.cameras import Cameras

from .prepare_spec import SpecError, parse_auto_views


def cameras_for_render(splat, views: str | None, cameras_path: str | None, width: int | None, height: int | None,
                       layout: str = "auto") -> Cameras:  # fmt: skip
    """Automatic views (``auto:N``, default 512 px square) or a camera file (rescaled to ``width`` if given)."""
    if (views is None) == (cameras_path is None):
        raise SpecError("give exactly one of {views} auto:N or {cameras} PATH")
    if cameras_path:
        from engine.cameras.load import load_cameras

        cameras = load_cameras(cameras_path)
        return cameras.scaled(width / cameras.width) if width else cameras
    from engine.cameras.auto_views import auto_views

    n = parse_auto_views(views)
    w = width or 512
    return auto_views(splat, n, width=w, height=height or w, layout=layout)


def render_scene_to_folder(splat, cameras: Cameras, out_dir: str, backend: str = "auto", device: str = "cpu",
                           depth: bool = True, log=None) -> list[str]:  # fmt: skip
    """``<name>.png`` (+ depth) per camera and the ``cameras.json`` used, in ``out_dir`` (made if missing)."""
    from engine.render.render_views import render_to_folder
    from saga_blender.core.atomic_files import make_folder

    make_folder(out_dir, "output folder")
    cameras.save_json(os.path.join(out_dir, "cameras.json"))
    return render_to_folder(splat, cameras, out_dir, backend=backend, device=device, depth=depth,
                            log=log or (lambda _m: None))  # fmt: skip
