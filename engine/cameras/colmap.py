"""COLMAP sparse models (``cameras.bin/images.bin`` or ``cameras.txt/images.txt``) -> :class:`Cameras`.

Conventions: COLMAP stores world-to-camera poses with OpenCV camera axes (x right, y down, z forward),
the rotation as a quaternion ``qw, qx, qy, qz`` and the translation ``tx, ty, tz``; exactly the
engine's ``viewmats``. Pixel coordinates are continuous with the top-left image corner at (0, 0) (pixel
centres at +0.5), as in gsplat. Cameras come out sorted by image name; all registered images must
share one image size.

Camera models: SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL and OPENCV are read; any other model
(fisheye, FULL_OPENCV, FOV, ...) is refused with an error naming it.

Distortion (the chosen behaviour): the renderer is a pinhole renderer. The readers keep K and the poses
exactly as COLMAP wrote them and keep the coefficients in ``Cameras.distortion`` as (k1, k2, p1, p2)
(SIMPLE_RADIAL -> (k, 0, 0, 0), RADIAL -> (k1, k2, 0, 0)); ``distortion`` is None when every
coefficient is zero. Nothing is undistorted silently: :func:`distortion_note` returns a message
(and the readers log it) saying how far, in pixels, the distortion moves the image corners, and that
the images should be undistorted first, preferably with ``colmap image_undistorter`` (which writes
undistorted images plus a PINHOLE model to read instead), otherwise renders and training images
disagree by up to that many pixels towards the borders.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import numpy as np

from .cameras import CameraFileError, Cameras

log = logging.getLogger(__name__)

#: COLMAP model id -> (name, number of parameters) as in COLMAP's ``camera_models.h``.
COLMAP_MODELS = {
    0: ("SIMPLE_PINHOLE", 3),
    1: ("PINHOLE", 4),
    2: ("SIMPLE_RADIAL", 4),
    3: ("RADIAL", 5),
    4: ("OPENCV", 8),
    5: ("OPENCV_FISHEYE", 8),
    6: ("FULL_OPENCV", 12),
    7: ("FOV", 5),
    8: ("SIMPLE_RADIAL_FISHEYE", 4),
    9: ("RADIAL_FISHEYE", 5),
    10: ("THIN_PRISM_FISHEYE", 12),
    11: ("RAD_TAN_THIN_PRISM_FISHEYE", 16),
}
SUPPORTED_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV")
_N_PARAMS = {name: n for name, n in COLMAP_MODELS.values()}


def quaternion_to_rotation(qw: float, qx: float, qy: float, qz: float) -> np.ndarray:
    """3x3 rotation of a (normalised here) quaternion w, x, y, z."""
    q = np.array([qw, qx, qy, qz], np.float64)
    n = np.linalg.norm(q)
    if not np.isfinite(n) or n < 1e-12:
        raise ValueError(f"invalid quaternion {q.tolist()}")
    w, x, y, z = q / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _intrinsics(model: str, params: list[float], path) -> tuple[np.ndarray, np.ndarray]:
    """(K 3x3, distortion (k1, k2, p1, p2)) of a supported model."""
    p = [float(v) for v in params]
    if model == "SIMPLE_PINHOLE":  # f, cx, cy
        fx, fy, cx, cy, dist = p[0], p[0], p[1], p[2], [0.0] * 4
    elif model == "PINHOLE":  # fx, fy, cx, cy
        fx, fy, cx, cy, dist = *p[:4], [0.0] * 4
    elif model == "SIMPLE_RADIAL":  # f, cx, cy, k
        fx, fy, cx, cy, dist = p[0], p[0], p[1], p[2], [p[3], 0.0, 0.0, 0.0]
    elif model == "RADIAL":  # f, cx, cy, k1, k2
        fx, fy, cx, cy, dist = p[0], p[0], p[1], p[2], [p[3], p[4], 0.0, 0.0]
    elif model == "OPENCV":  # fx, fy, cx, cy, k1, k2, p1, p2
        fx, fy, cx, cy, dist = *p[:4], p[4:8]
    else:
        raise CameraFileError(
            path,
            f"camera model {model} is not supported (supported: {', '.join(SUPPORTED_MODELS)}); "
            "undistort the images with `colmap image_undistorter`, which writes a PINHOLE model",
        )
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]), np.array(dist, np.float64)


# --- binary --------------------------------------------------------------------------------------------
class _Bin:
    def __init__(self, path: Path):
        self.path = path
        self.data = path.read_bytes()
        self.pos = 0

    def read(self, fmt: str, what: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            raise CameraFileError(
                self.path, f"truncated: {what} needs {size} bytes at offset {self.pos}, file has {len(self.data)}"
            )
        out = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return out

    def skip(self, size: int, what: str) -> None:
        if self.pos + size > len(self.data):
            raise CameraFileError(self.path, f"truncated in {what} at offset {self.pos}")
        self.pos += size

    def cstring(self, what: str) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise CameraFileError(self.path, f"truncated in {what} at offset {self.pos}")
        s = self.data[self.pos : end].decode("utf-8", errors="replace")
        self.pos = end + 1
        return s

    def done(self) -> None:
        if self.pos != len(self.data):
            raise CameraFileError(self.path, f"{len(self.data) - self.pos} unexpected bytes after the last record")


def _read_cameras_bin(path: Path) -> dict[int, tuple[str, int, int, list[float]]]:
    f = _Bin(path)
    (n,) = f.read("Q", "the camera count")
    cams = {}
    for i in range(n):
        cam_id, model_id, w, h = f.read("iiQQ", f"camera {i}")
        if model_id not in COLMAP_MODELS:
            raise CameraFileError(path, f"camera {cam_id} has unknown model id {model_id}")
        name, n_params = COLMAP_MODELS[model_id]
        cams[cam_id] = (name, int(w), int(h), list(f.read(f"{n_params}d", f"camera {cam_id} parameters")))
    f.done()
    return cams


def _read_images_bin(path: Path) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
    f = _Bin(path)
    (n,) = f.read("Q", "the image count")
    images = []
    for i in range(n):
        image_id, qw, qx, qy, qz, tx, ty, tz, cam_id = f.read("idddddddi", f"image {i}")
        name = f.cstring(f"the name of image {image_id}")
        (n_points,) = f.read("Q", f"the 2D point count of image {image_id}")
        f.skip(24 * n_points, f"the 2D points of image {image_id}")
        images.append((name, cam_id, np.array([qw, qx, qy, qz]), np.array([tx, ty, tz])))
    f.done()
    return images


# --- text ----------------------------------------------------------------------------------------------
def _read_cameras_txt(path: Path) -> dict[int, tuple[str, int, int, list[float]]]:
    cams = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        tok = line.split()
        if not tok or tok[0].startswith("#"):
            continue
        try:
            cam_id, model, w, h = int(tok[0]), tok[1], int(tok[2]), int(tok[3])
            params = [float(v) for v in tok[4:]]
        except (IndexError, ValueError) as exc:
            raise CameraFileError(path, f"line {lineno}: malformed camera line ({exc})") from exc
        if model in _N_PARAMS and len(params) != _N_PARAMS[model]:
            raise CameraFileError(
                path, f"line {lineno}: {model} needs {_N_PARAMS[model]} parameters, found {len(params)}"
            )
        cams[cam_id] = (model, w, h, params)
    return cams


def _read_images_txt(path: Path) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
    # Two lines per image; the second (2D points) may be empty, so only comments are dropped up front.
    lines = [(i, ln) for i, ln in enumerate(path.read_text().splitlines(), 1) if not ln.lstrip().startswith("#")]
    images, k = [], 0
    while k < len(lines):
        lineno, line = lines[k]
        tok = line.split()
        k += 1
        if not tok:
            continue
        try:
            q = np.array([float(v) for v in tok[1:5]])
            t = np.array([float(v) for v in tok[5:8]])
            cam_id, name = int(tok[8]), " ".join(tok[9:])
            if q.size != 4 or t.size != 3 or not name:
                raise ValueError("expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME")
        except (IndexError, ValueError) as exc:
            raise CameraFileError(path, f"line {lineno}: malformed image line ({exc})") from exc
        images.append((name, cam_id, q, t))
        k += 1  # the 2D points line
    return images


# --- the reader ----------------------------------------------------------------------------------------
def _find_model_dir(sparse_dir: Path) -> Path:
    for cand in (sparse_dir, sparse_dir / "sparse" / "0", sparse_dir / "0", sparse_dir / "sparse"):
        if any((cand / f"cameras.{ext}").is_file() for ext in ("bin", "txt")):
            return cand
    return sparse_dir


def _pick(model_dir: Path, stem: str) -> Path:
    for ext in ("bin", "txt"):
        if (model_dir / f"{stem}.{ext}").is_file():
            return model_dir / f"{stem}.{ext}"
    raise CameraFileError(model_dir / f"{stem}.bin", f"file not found (nor {stem}.txt)")


def read_colmap(
    sparse_dir: str | os.PathLike, images_dir: str | os.PathLike | None = None, *, missing_ok: bool = False
) -> Cameras:
    """Read a COLMAP sparse model folder (e.g. ``scene/sparse/0``; ``scene`` itself is also accepted).

    ``.bin`` files are preferred over ``.txt`` where both exist. With ``images_dir`` every camera gets
    ``image_paths`` = images_dir / image name, and images missing on disk raise an error listing them
    (``missing_ok=True`` only logs them).
    """
    model_dir = _find_model_dir(Path(sparse_dir))
    cam_path, img_path = _pick(model_dir, "cameras"), _pick(model_dir, "images")
    cams = _read_cameras_bin(cam_path) if cam_path.suffix == ".bin" else _read_cameras_txt(cam_path)
    images = _read_images_bin(img_path) if img_path.suffix == ".bin" else _read_images_txt(img_path)
    if not images:
        raise CameraFileError(img_path, "no registered images")
    images.sort(key=lambda im: im[0])

    unknown = sorted({cid for _, cid, _, _ in images} - set(cams))
    if unknown:
        raise CameraFileError(img_path, f"images refer to camera ids {unknown} missing from {cam_path.name}")
    used = sorted({cid for _, cid, _, _ in images})
    sizes = {(cams[c][1], cams[c][2]) for c in used}
    if len(sizes) > 1:
        listing = ", ".join(f"camera {c}: {cams[c][1]}x{cams[c][2]}" for c in used)
        raise CameraFileError(cam_path, f"images have different sizes ({listing}); one size is supported")
    ((width, height),) = sizes
    intr = {c: _intrinsics(cams[c][0], cams[c][3], cam_path) for c in used}

    viewmats = np.tile(np.eye(4), (len(images), 1, 1))
    for i, (name, _, q, t) in enumerate(images):
        try:
            viewmats[i, :3, :3] = quaternion_to_rotation(*q)
        except ValueError as exc:
            raise CameraFileError(img_path, f"image {name}: {exc}") from exc
        viewmats[i, :3, 3] = t
    Ks = np.stack([intr[cid][0] for _, cid, _, _ in images])
    dist = np.stack([intr[cid][1] for _, cid, _, _ in images])
    names = [im[0] for im in images]
    if not (np.all(np.isfinite(viewmats)) and np.all(np.isfinite(Ks))):
        raise CameraFileError(model_dir, "non-finite values in poses or intrinsics")

    paths = None
    if images_dir is not None:
        paths = [os.fspath(Path(images_dir) / n) for n in names]
        report_missing_images(images_dir, names, paths, missing_ok)
    out = Cameras(viewmats, Ks, width, height, names, dist if np.any(dist) else None, paths)
    note = distortion_note(out)
    if note:
        log.warning("%s: %s", model_dir, note)
    return out


def report_missing_images(images_dir, names: list[str], paths: list[str], missing_ok: bool) -> None:
    missing = [n for n, p in zip(names, paths, strict=True) if not os.path.isfile(p)]
    if not missing:
        return
    shown = ", ".join(missing[:5]) + (f", ... ({len(missing) - 5} more)" if len(missing) > 5 else "")
    msg = f"{len(missing)} of {len(names)} images are missing from {os.fspath(images_dir)}: {shown}"
    if not missing_ok:
        raise CameraFileError(images_dir, msg)
    log.warning(msg)


# --- distortion ----------------------------------------------------------------------------------------
def distortion_shift_px(cameras: Cameras) -> np.ndarray:
    """[C] largest displacement in pixels (corners and edge midpoints) caused by the distortion."""
    if cameras.distortion is None:
        return np.zeros(len(cameras))
    w, h = cameras.width, cameras.height
    px = np.array([[0, 0], [w, 0], [0, h], [w, h], [w / 2, 0], [w / 2, h], [0, h / 2], [w, h / 2]], float)
    out = np.zeros(len(cameras))
    for i, (K, (k1, k2, p1, p2)) in enumerate(zip(cameras.Ks, cameras.distortion, strict=True)):
        x = (px[:, 0] - K[0, 2]) / K[0, 0]
        y = (px[:, 1] - K[1, 2]) / K[1, 1]
        r2 = x * x + y * y
        radial = k1 * r2 + k2 * r2 * r2
        dx = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        out[i] = np.max(np.hypot(dx * K[0, 0], dy * K[1, 1]))
    return out


def distortion_note(cameras: Cameras) -> str | None:
    """A message for the user when the cameras carry lens distortion, else None (see module docstring)."""
    if cameras.distortion is None or not np.any(cameras.distortion):
        return None
    shift = float(np.max(distortion_shift_px(cameras)))
    return (
        f"the cameras carry lens distortion (moves image corners by up to {shift:.1f} px). SAGA renders "
        "pinhole cameras and uses images as given: undistort them first (COLMAP data: `colmap "
        "image_undistorter`, then read the PINHOLE model it writes), or renders and images disagree "
        "towards the borders"
    )
