"""Load a camera set from whatever the user points at: a saga camera JSON, a transforms.json, or a
COLMAP model folder (``sparse/0`` or a folder containing it)."""

from __future__ import annotations

import json
import os

from .cameras import CameraFileError, Cameras


def load_cameras(path: str | os.PathLike, images_dir: str | os.PathLike | None = None) -> Cameras:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CameraFileError(path, "camera file or folder not found")
    if os.path.isdir(path):
        from .colmap import read_colmap

        for candidate in (path, os.path.join(path, "sparse", "0"), os.path.join(path, "sparse")):
            if any(os.path.exists(os.path.join(candidate, f)) for f in ("cameras.bin", "cameras.txt")):
                return read_colmap(candidate, images_dir)
        raise CameraFileError(path, "no COLMAP model here (expected cameras.bin/.txt, or sparse/0 inside)")
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CameraFileError(path, f"not a JSON camera file ({exc})") from exc
    if isinstance(data, dict) and data.get("format") == "saga-cameras":
        return Cameras.from_json_dict(data, path)
    if isinstance(data, dict) and "frames" in data:
        from .nerf_transforms import read_transforms_json

        return read_transforms_json(path, images_dir)
    raise CameraFileError(
        path, "unknown camera file (expected a saga camera set, a transforms.json, or a COLMAP folder)"
    )
