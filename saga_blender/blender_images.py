"""Images decoded by Blender itself (no Pillow in Blender's Python): the WebP textures of a ``.sog`` bundle.

``bpy.data.images.load`` decodes WebP (Blender >= 3.4) exactly: a byte image read back through ``pixels`` as
Non-Color data with no alpha handling gives the file's bytes (checked against Pillow in the tests)."""

from __future__ import annotations

import os
import tempfile

import bpy
import numpy as np

from .core.atomic_files import write_bytes


def decode_webp(data: bytes) -> np.ndarray:
    """uint8 [H, W, 4] RGBA of a WebP image (rows from the top), decoded by Blender."""
    with tempfile.TemporaryDirectory(prefix="saga-webp-") as folder:
        path = os.path.join(folder, "texture.webp")
        write_bytes(path, data, durable=False)
        image = bpy.data.images.load(path, check_existing=False)
        try:
            image.colorspace_settings.name = "Non-Color"
            image.alpha_mode = "NONE"
            width, height = image.size
            if width == 0 or height == 0:
                raise ValueError("Blender could not decode the image")
            pixels = np.empty(width * height * 4, np.float32)
            image.pixels.foreach_get(pixels)
        finally:
            bpy.data.images.remove(image)
    rgba = np.rint(pixels.reshape(height, width, 4) * 255.0)
    return np.ascontiguousarray(rgba[::-1], np.uint8)  # Blender's rows start at the bottom
