"""Camera sets: the :class:`Cameras` type, readers for COLMAP and transforms.json, automatic views."""

from .cameras import CameraFileError, Cameras

__all__ = ["CameraFileError", "Cameras"]
