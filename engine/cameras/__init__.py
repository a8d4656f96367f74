"""Camera sets: the :class:`Cameras` type, readers for COLMAP and transforms.json, automatic views."""

from .cameras import Cameras, CameraFileError

__all__ = ["CameraFileError", "Cameras"]
