"""NeRF-family ``transforms.json`` (NeRF synthetic, instant-ngp, nerfstudio) -> :class:`Cameras`.

Conventions: each frame's ``transform_matrix`` (4x4, or 3x4) is camera-to-world with OpenGL camera
axes (x right, y up, looking down -z); it is converted to the engine's OpenCV world-to-camera
``viewmats`` with :mod:`saga_blender.core.axes`. The world stays the file's world (no recentring or
rescaling). Cameras keep the frames' order in the file; ``names`` are the frames' ``file_path``
without a leading ``./``.

Intrinsics, per frame when present there, else global: ``fl_x``/``fl_y``/``cx``/``cy``/``w``/``h``;
when ``fl_x`` is absent it comes from ``camera_angle_x`` (``fl_x = w / 2 / tan(camera_angle_x / 2)``),
``fl_y`` from ``camera_angle_y`` or else equals ``fl_x``; ``cx``, ``cy`` default to the image centre.
Without ``w``/``h`` (NeRF synthetic) the size is read from the first frame's image file. All frames
must share one size. Distortion ``k1, k2, p1, p2`` is kept in ``Cameras.distortion`` (see
:func:`engine.cameras.colmap.distortion_note`: the renderer is pinhole, images should be undistorted
first); ``k3``/``k4`` and fisheye / equirectangular models are refused rather than dropped.
instant-ngp's ``aabb_scale``/``scale``/``offset`` only concern its internal NeRF box and are ignored.

nerfstudio ``applied_transform`` (3x4): written by ``ns-process-data`` when converting COLMAP; it maps
the original COLMAP world to this file's world (``transform_matrix = applied_transform @ c2w_colmap``;
the same transform is applied to the ``ply_file_path`` points). By default the cameras stay in the
file's world, which matches that ply and models trained from this file. A splat trained directly on
the COLMAP model (e.g. INRIA 3DGS) lives in the COLMAP world: read with ``world="original"`` to undo
``applied_transform``. (nerfstudio's own training adds its orientation/scale normalisation on top,
stored in ``dataparser_transforms.json``; that is not read here.)
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np

from saga_blender.core.axes import opengl_c2w_to_viewmat

from .cameras import CameraFileError, Cameras
from .colmap import distortion_note, report_missing_images

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG", ".exr", ".webp")
_UNSUPPORTED_MODELS = ("OPENCV_FISHEYE", "EQUIRECTANGULAR", "FISHEYE")


def _resolve_image(base: Path, file_path: str) -> Path | None:
    """The image for ``file_path`` under ``base`` (also tried: its bare name, added extensions)."""
    rel = Path(file_path)
    for cand in (base / rel, base / rel.name):
        if cand.is_file():
            return cand
        if not cand.suffix or cand.suffix not in IMAGE_EXTENSIONS:
            for ext in IMAGE_EXTENSIONS:
                if cand.with_name(cand.name + ext).is_file():
                    return cand.with_name(cand.name + ext)
    return None


def applied_transform(path: str | os.PathLike) -> np.ndarray | None:
    """The 4x4 nerfstudio ``applied_transform`` of a transforms.json (original -> file world), or None."""
    meta = _load(Path(path))
    return _applied(meta, Path(path))


def _applied(meta: dict, path: Path) -> np.ndarray | None:
    if "applied_transform" not in meta:
        return None
    a = np.asarray(meta["applied_transform"], np.float64)
    if a.shape not in ((3, 4), (4, 4)) or not np.all(np.isfinite(a)):
        raise CameraFileError(path, f"applied_transform has shape {a.shape}, expected 3x4")
    out = np.eye(4)
    out[:3] = a[:3]
    return out


def _load(path: Path) -> dict:
    try:
        with open(path) as fh:
            meta = json.load(fh)
    except FileNotFoundError as exc:
        raise CameraFileError(path, "file not found") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CameraFileError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list) or not meta["frames"]:
        raise CameraFileError(path, 'not a transforms.json: no "frames" list (or it is empty)')
    return meta


def _num(src: dict, key: str, path: Path, where: str) -> float | None:
    if key not in src:
        return None
    try:
        v = float(src[key])
    except (TypeError, ValueError) as exc:
        raise CameraFileError(path, f"{where}: {key} is not a number ({src[key]!r})") from exc
    if not math.isfinite(v):
        raise CameraFileError(path, f"{where}: {key} is {v}")
    return v


def _pose(frame: dict, path: Path, where: str) -> np.ndarray:
    try:
        m = np.asarray(frame["transform_matrix"], np.float64)
    except KeyError as exc:
        raise CameraFileError(path, f"{where}: no transform_matrix") from exc
    except (TypeError, ValueError) as exc:
        raise CameraFileError(path, f"{where}: transform_matrix is not a matrix ({exc})") from exc
    if m.shape not in ((3, 4), (4, 4)):
        raise CameraFileError(path, f"{where}: transform_matrix has shape {m.shape}, expected 4x4")
    if not np.all(np.isfinite(m)):
        raise CameraFileError(path, f"{where}: transform_matrix holds non-finite values")
    c2w = np.eye(4)
    c2w[:3] = m[:3]
    r = c2w[:3, :3]
    if np.abs(r.T @ r - np.eye(3)).max() > 1e-3 or np.linalg.det(r) < 0:
        raise CameraFileError(path, f"{where}: transform_matrix is not a rotation + translation")
    return c2w


def read_transforms_json(
    path: str | os.PathLike,
    images_dir: str | os.PathLike | None = None,
    *,
    world: str = "file",
    missing_ok: bool = False,
) -> Cameras:
    """Read a transforms.json (see the module docstring for every convention).

    ``images_dir``: folder the frames' ``file_path`` are relative to (default: the json's folder). When
    given, every image must exist (``missing_ok=True`` only logs missing ones); when not given,
    ``image_paths`` are filled only if every image is found next to the json.
    ``world``: ``"file"`` (default) or ``"original"`` (undo nerfstudio's ``applied_transform``).
    """
    path = Path(path)
    meta = _load(path)
    if world not in ("file", "original"):
        raise ValueError(f"world must be 'file' or 'original', not {world!r}")
    model = str(meta.get("camera_model", "OPENCV")).upper()
    if model in _UNSUPPORTED_MODELS or meta.get("is_fisheye"):
        raise CameraFileError(path, f"camera model {model} (fisheye/panorama) is not supported: pinhole only")

    base = Path(images_dir) if images_dir is not None else path.parent
    frames = meta["frames"]
    names, c2ws, Ks, dists, sizes, found = [], [], [], [], [], []
    first_size = None
    for i, frame in enumerate(frames):
        if not isinstance(frame, dict) or "file_path" not in frame:
            raise CameraFileError(path, f"frame {i}: no file_path")
        name = str(frame["file_path"])
        name = name[2:] if name.startswith("./") else name
        where = f"frame {i} ({name})"
        c2ws.append(_pose(frame, path, where))
        img = _resolve_image(base, str(frame["file_path"]))
        found.append(img)

        def get(key, frame=frame, where=where):
            v = _num(frame, key, path, where)
            return v if v is not None else _num(meta, key, path, "file")

        for key in ("k3", "k4"):
            if get(key):
                raise CameraFileError(path, f"{where}: distortion {key} is not supported (k1, k2, p1, p2 only)")
        w, h = get("w"), get("h")
        if w is None or h is None:
            if first_size is None:
                first_size = _image_size(img, path, base, name)
            w, h = first_size
        w, h = round(w), round(h)
        fx, fy = get("fl_x"), get("fl_y")
        if fx is None:
            ax = get("camera_angle_x")
            if ax is None:
                raise CameraFileError(path, f"{where}: no focal length (fl_x or camera_angle_x)")
            fx = 0.5 * w / math.tan(0.5 * ax)
        if fy is None:
            ay = get("camera_angle_y")
            fy = 0.5 * h / math.tan(0.5 * ay) if ay is not None and get("fl_x") is None else fx
        cx, cy = get("cx"), get("cy")
        Ks.append([[fx, 0.0, w / 2 if cx is None else cx], [0.0, fy, h / 2 if cy is None else cy], [0, 0, 1]])
        dists.append([get(k) or 0.0 for k in ("k1", "k2", "p1", "p2")])
        sizes.append((w, h))
        names.append(name)

    if len(set(sizes)) > 1:
        listing = ", ".join(f"{w}x{h} ({sizes.count((w, h))} frames)" for w, h in sorted(set(sizes)))
        raise CameraFileError(path, f"frames have different image sizes: {listing}; one size is supported")
    c2w = np.stack(c2ws)
    if world == "original":
        a = _applied(meta, path)
        if a is not None:
            c2w = np.linalg.inv(a) @ c2w
    viewmats = opengl_c2w_to_viewmat(c2w)
    dist = np.asarray(dists, np.float64)

    paths = None
    if images_dir is not None:
        paths = [os.fspath(p) if p is not None else os.fspath(base / n) for p, n in zip(found, names, strict=True)]
        report_missing_images(images_dir, names, paths, missing_ok)
    elif all(p is not None for p in found):
        paths = [os.fspath(p) for p in found]
    ((width, height),) = set(sizes)
    out = Cameras(viewmats, np.asarray(Ks, np.float64), width, height, names, dist if np.any(dist) else None, paths)
    note = distortion_note(out)
    if note:
        log.warning("%s: %s", path, note)
    return out


def _image_size(img: Path | None, path: Path, base: Path, name: str) -> tuple[int, int]:
    if img is None:
        raise CameraFileError(
            path,
            f"no image size: the file has no w/h and the first image ({name}) is not found under {base} "
            '(pass images_dir, or add "w" and "h")',
        )
    from PIL import Image

    try:
        with Image.open(img) as im:
            return im.size
    except OSError as exc:
        raise CameraFileError(img, f"cannot read the image size ({exc})") from exc
