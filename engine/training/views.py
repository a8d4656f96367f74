"""Training views: a camera with its image, and the depth and alpha rendered from the frozen splat.

Views come from the original capture (COLMAP or transforms.json with its images) or are rendered from
the splat itself at automatic views. Either way the depth (for the mask scales) is rendered from the
splat, because the splat is what the features live on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from engine.cameras.cameras import CameraFileError, Cameras


@dataclass
class TrainingView:
    """One view. image [H, W, 3] uint8; depth [H, W] float32 expected depth (NaN where alpha < 0.5);
    alpha [H, W] float32; viewmat [4, 4] and K [3, 3] OpenCV; name unique within the set."""

    name: str
    image: np.ndarray
    depth: np.ndarray
    alpha: np.ndarray
    viewmat: np.ndarray
    K: np.ndarray

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def rendered_views(splat, cameras: Cameras, device: str = "cpu", backend: str = "auto") -> Iterator[TrainingView]:
    """Views rendered from the splat itself (no photos): image, depth and alpha all from the renderer."""
    from engine.render.image_files import to_uint8
    from engine.render.render_views import render_views

    for i, view in enumerate(render_views(splat, cameras, backend=backend, device=device)):
        depth = np.where(view.alpha > 0.5, view.depth, np.nan).astype(np.float32)
        yield TrainingView(view.name, to_uint8(view.rgb), depth, view.alpha.astype(np.float32),
                           cameras.viewmats[i], cameras.Ks[i])  # fmt: skip


def captured_views(
    splat, cameras: Cameras, max_side: int | None = None, device: str = "cpu", backend: str = "auto"
) -> Iterator[TrainingView]:
    """Views from the capture: the photo from disk (resized so its longest side is at most ``max_side``),
    depth and alpha rendered from the splat at the same size. Every camera needs ``image_paths``; a missing
    image, or one whose size differs from its camera's, is reported naming the file (CameraFileError)."""
    from PIL import Image

    from engine.render.render_views import render_views

    if cameras.image_paths is None:
        raise CameraFileError(None, "the cameras have no image files; give the images folder")
    missing = [p for p in cameras.image_paths if not os.path.exists(p)]
    if missing:
        raise CameraFileError(missing[0], f"image file not found ({len(missing)} of {len(cameras)} missing)")
    factor = 1.0 if not max_side else min(1.0, max_side / max(cameras.width, cameras.height))
    scaled = cameras.scaled(factor) if factor < 1.0 else cameras
    for i, view in enumerate(render_views(splat, scaled, backend=backend, device=device)):
        path = cameras.image_paths[i]
        with Image.open(path) as im:
            if im.size != (cameras.width, cameras.height):
                raise CameraFileError(path, f"image is {im.size[0]}x{im.size[1]} but its camera is "
                                            f"{cameras.width}x{cameras.height}")  # fmt: skip
            rgb = im.convert("RGB")
            if scaled is not cameras:
                rgb = rgb.resize((scaled.width, scaled.height), Image.LANCZOS)
            image = np.asarray(rgb)
        depth = np.where(view.alpha > 0.5, view.depth, np.nan).astype(np.float32)
        yield TrainingView(view.name, image, depth, view.alpha.astype(np.float32), scaled.viewmats[i],
                           scaled.Ks[i])  # fmt: skip
