"""The camera set used everywhere in the engine: exactly the camera arguments of gsplat.rasterization.

OpenCV convention: x right, y down, z forward. ``viewmats`` are world-to-camera.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

CAMERA_JSON_VERSION = 1


class CameraFileError(ValueError):
    """A camera file cannot be read. The message names the file and the problem."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


@dataclass
class Cameras:
    """C pinhole cameras sharing one image size.

    viewmats [C, 4, 4] float64 world-to-camera (OpenCV axes); Ks [C, 3, 3] float64 intrinsics;
    width, height in pixels; names [C] (image file names where known). ``distortion`` optionally holds
    per-camera OpenCV coefficients [C, 4] (k1, k2, p1, p2) as read from the source; the renderer is
    pinhole and ignores them (readers say so). ``image_paths`` optionally holds the image file per camera.
    """

    viewmats: np.ndarray
    Ks: np.ndarray
    width: int
    height: int
    names: list[str] = field(default_factory=list)
    distortion: np.ndarray | None = None
    image_paths: list[str] | None = None

    def __post_init__(self) -> None:
        self.viewmats = np.asarray(self.viewmats, np.float64)
        self.Ks = np.asarray(self.Ks, np.float64)
        c = self.viewmats.shape[0]
        if self.viewmats.shape != (c, 4, 4):
            raise ValueError(f"viewmats has shape {self.viewmats.shape}, expected [C, 4, 4]")
        if self.Ks.shape != (c, 3, 3):
            raise ValueError(f"Ks has shape {self.Ks.shape}, expected [{c}, 3, 3]")
        self.width, self.height = int(self.width), int(self.height)
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size {self.width}x{self.height} must be positive")
        if not self.names:
            self.names = [f"view_{i:04d}" for i in range(c)]
        if len(self.names) != c:
            raise ValueError(f"{len(self.names)} names for {c} cameras")
        if self.distortion is not None:
            self.distortion = np.asarray(self.distortion, np.float64)
        if self.image_paths is not None and len(self.image_paths) != c:
            raise ValueError(f"{len(self.image_paths)} image paths for {c} cameras")

    def __len__(self) -> int:
        return int(self.viewmats.shape[0])

    @property
    def camtoworlds(self) -> np.ndarray:
        """[C, 4, 4] camera-to-world (OpenCV axes)."""
        return np.linalg.inv(self.viewmats)

    @property
    def centers(self) -> np.ndarray:
        """[C, 3] camera positions in world space."""
        return self.camtoworlds[:, :3, 3]

    @property
    def forward(self) -> np.ndarray:
        """[C, 3] unit viewing directions (camera +z) in world space."""
        return self.camtoworlds[:, :3, 2]

    def subset(self, index) -> Cameras:
        idx = np.atleast_1d(np.arange(len(self))[index])
        return Cameras(
            self.viewmats[idx],
            self.Ks[idx],
            self.width,
            self.height,
            [self.names[i] for i in idx],
            None if self.distortion is None else self.distortion[idx],
            None if self.image_paths is None else [self.image_paths[i] for i in idx],
        )

    def scaled(self, factor: float) -> Cameras:
        """The same cameras for images resized by ``factor`` (intrinsics scaled, pixel centres kept)."""
        w = max(1, round(self.width * factor))
        h = max(1, round(self.height * factor))
        sx, sy = w / self.width, h / self.height
        Ks = self.Ks.copy()
        Ks[:, 0, :] *= sx
        Ks[:, 1, :] *= sy
        return Cameras(self.viewmats.copy(), Ks, w, h, list(self.names), self.distortion, self.image_paths)

    # --- JSON --------------------------------------------------------------------------------------
    def to_json_dict(self) -> dict:
        d = {
            "format": "saga-cameras",
            "version": CAMERA_JSON_VERSION,
            "convention": "opencv world-to-camera (x right, y down, z forward)",
            "width": self.width,
            "height": self.height,
            "cameras": [
                {"name": self.names[i], "viewmat": self.viewmats[i].tolist(), "K": self.Ks[i].tolist()}
                for i in range(len(self))
            ],
        }
        if self.distortion is not None:
            for i, cam in enumerate(d["cameras"]):
                cam["distortion"] = self.distortion[i].tolist()
        if self.image_paths is not None:
            for i, cam in enumerate(d["cameras"]):
                cam["image_path"] = self.image_paths[i]
        return d

    def save_json(self, path: str | os.PathLike, **extra) -> None:
        """Write the saga camera set (atomically); ``extra`` keys are added at the top level (readers ignore them)."""
        from saga_blender.core.atomic_files import write_json

        write_json(path, {**self.to_json_dict(), **extra})

    @staticmethod
    def from_json_dict(d: dict, path: str | os.PathLike | None = None) -> Cameras:
        if d.get("format") != "saga-cameras":
            raise CameraFileError(path, 'not a saga camera set (missing "format": "saga-cameras")')
        if int(d.get("version", 0)) > CAMERA_JSON_VERSION:
            raise CameraFileError(path, f"camera set version {d.get('version')} is newer than this engine")
        try:
            cams = d["cameras"]
            if not cams:
                raise CameraFileError(path, "the camera set is empty")
            viewmats = np.array([c["viewmat"] for c in cams], np.float64)
            Ks = np.array([c["K"] for c in cams], np.float64)
            names = [str(c.get("name", f"view_{i:04d}")) for i, c in enumerate(cams)]
            dist = None
            if all("distortion" in c for c in cams):
                dist = np.array([c["distortion"] for c in cams], np.float64)
            paths = [c["image_path"] for c in cams] if all("image_path" in c for c in cams) else None
            return Cameras(viewmats, Ks, int(d["width"]), int(d["height"]), names, dist, paths)
        except CameraFileError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise CameraFileError(path, f"malformed camera set: {exc}") from exc

    @staticmethod
    def load_json(path: str | os.PathLike) -> Cameras:
        path = os.fspath(path)
        try:
            with open(path) as fh:
                d = json.load(fh)
        except FileNotFoundError as exc:
            raise CameraFileError(path, "file not found") from exc
        except json.JSONDecodeError as exc:
            raise CameraFileError(path, f"not valid JSON ({exc})") from exc
        return Cameras.from_json_dict(d, path)


def concatenate_cameras(a: Cameras, b: Cameras) -> Cameras:
    """One camera set of ``a`` then ``b`` (same image size; per-camera extras kept only when both have them)."""
    if (a.width, a.height) != (b.width, b.height):
        raise ValueError(f"cannot join {a.width}x{a.height} and {b.width}x{b.height} cameras")
    dist = None if a.distortion is None or b.distortion is None else np.concatenate([a.distortion, b.distortion])
    paths = None if a.image_paths is None or b.image_paths is None else a.image_paths + b.image_paths
    return Cameras(np.concatenate([a.viewmats, b.viewmats]), np.concatenate([a.Ks, b.Ks]), a.width, a.height,
                   a.names + b.names, dist, paths)  # fmt: skip


def intrinsics(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """3x3 pinhole intrinsics."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def look_at_viewmats(eyes: np.ndarray, targets: np.ndarray, up: np.ndarray) -> np.ndarray:
    """[C, 4, 4] world-to-camera (OpenCV) for cameras at ``eyes`` [C, 3] looking at ``targets`` [C, 3], image up
    ~ ``up`` (x = z cross up, so image y points away from up; a camera looking along up gets any roll)."""
    z = targets - eyes
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    x = np.cross(z, up)
    bad = np.linalg.norm(x, axis=1) < 1e-8
    if bad.any():  # looking along up: any perpendicular
        alt = np.where(np.abs(z[bad, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        x[bad] = np.cross(z[bad], alt)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    rot = np.stack([x, np.cross(z, x), z], axis=1)  # rows: camera axes in world
    out = np.zeros((len(eyes), 4, 4))
    out[:, :3, :3] = rot
    out[:, :3, 3] = -np.einsum("cij,cj->ci", rot, eyes)
    out[:, 3, 3] = 1.0
    return out


def look_at_viewmat(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """World-to-camera (OpenCV) for one camera at ``eye`` looking at ``target``; image up ~ ``up``."""
    eye = np.asarray(eye, np.float64)[None]
    return look_at_viewmats(eye, np.asarray(target, np.float64)[None], np.asarray(up, np.float64))[0]
