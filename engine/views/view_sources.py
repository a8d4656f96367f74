"""Where training views come from: rendered from the splat itself, or the photos of the original capture.

Either way the depth (for the mask scales) and the alpha are rendered from the splat, because the splat is what the
features live on. Views are produced one at a time (a generator), so a large capture never sits in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from engine.cameras.cameras import CameraFileError, Cameras

from .training_view import TrainingView


def training_scale(cameras: Cameras, max_side: int | None) -> float:
    """The factor that brings the cameras' longest side down to ``max_side`` (never up)."""
    if not max_side:
        return 1.0
    return min(1.0, max_side / max(cameras.width, cameras.height))


def rendered_views(splat, cameras: Cameras, device: str = "cpu", backend: str = "auto") -> Iterator[TrainingView]:
    """Views rendered from the splat itself (no photos): image, depth and alpha all from the renderer; a camera
    named as a close-up (``close_ups.CLOSE_UP_PREFIX``) gives a close-up view."""
    from engine.cameras.close_ups import is_close_up
    from engine.render.image_files import to_uint8
    from engine.render.render_views import render_views

    for i, view in enumerate(render_views(splat, cameras, backend=backend, device=device)):
        depth = np.where(view.alpha > 0.5, view.depth, np.nan).astype(np.float32)
        yield TrainingView(view.name, to_uint8(view.rgb), depth, view.alpha.astype(np.float32),
                           cameras.viewmats[i], cameras.Ks[i], close_up=is_close_up(cameras.names[i]))  # fmt: skip


def check_capture_images(cameras: Cameras) -> None:
    """Every camera has an image file that exists, is an image, and has the camera's size (headers only; fast).
    Raises CameraFileError naming the first bad file and how many are bad."""
    from PIL import Image, UnidentifiedImageError

    if cameras.image_paths is None:
        raise CameraFileError(None, "the cameras have no image files; give the images folder")
    missing = [p for p in cameras.image_paths if not os.path.isfile(p)]
    if missing:
        raise CameraFileError(missing[0], f"image file not found ({len(missing)} of {len(cameras)} missing)")
    for path in cameras.image_paths:
        try:
            with Image.open(path) as im:
                size = im.size
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise CameraFileError(path, f"not a readable image ({exc})") from exc
        if size != (cameras.width, cameras.height):
            raise CameraFileError(path, f"image is {size[0]}x{size[1]} but its camera is "
                                        f"{cameras.width}x{cameras.height}")  # fmt: skip


def captured_views(
    splat, cameras: Cameras, max_side: int | None = None, device: str = "cpu", backend: str = "auto"
) -> Iterator[TrainingView]:
    """Views from the capture: the photo from disk (resized so its longest side is at most ``max_side``), depth and
    alpha rendered from the splat at the same size. The views remember the photos' own size (``source_width``).
    Every camera needs ``image_paths``; a missing image, or one whose size differs from its camera's, is reported
    naming the file (CameraFileError) before anything is rendered."""
    from PIL import Image

    from engine.render.render_views import render_views

    check_capture_images(cameras)
    factor = training_scale(cameras, max_side)
    scaled = cameras.scaled(factor) if factor < 1.0 else cameras
    for i, view in enumerate(render_views(splat, scaled, backend=backend, device=device)):
        path = cameras.image_paths[i]
        try:
            with Image.open(path) as im:
                rgb = im.convert("RGB")
                if scaled is not cameras:
                    rgb = rgb.resize((scaled.width, scaled.height), Image.LANCZOS)
                image = np.asarray(rgb)
        except OSError as exc:
            raise CameraFileError(path, f"cannot read the image ({exc})") from exc
        depth = np.where(view.alpha > 0.5, view.depth, np.nan).astype(np.float32)
        yield TrainingView(view.name, image, depth, view.alpha.astype(np.float32), scaled.viewmats[i], scaled.Ks[i],
                           cameras.width, cameras.height)  # fmt: skip
