"""Prompts of a segmentation query and the camera they are given in (pure numpy, validated at the boundary).

A prompt set holds positive and negative points, positive and negative scribbles (polylines in pixels) and an
optional positive 2D mask, all in the pixel coordinates of one camera (OpenCV: x right, y down, origin at the
top-left corner of the image).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

MAX_POLYLINE_SAMPLES = 4096


class PromptError(ValueError):
    """A prompt cannot be used (outside the image, on empty background, malformed): the message says which."""


@dataclass(frozen=True)
class QueryCamera:
    """viewmat [4, 4] world-to-camera (OpenCV axes), K [3, 3], image size in pixels, "pinhole" or "ortho"."""

    viewmat: np.ndarray
    K: np.ndarray
    width: int
    height: int
    model: str = "pinhole"

    def __post_init__(self) -> None:
        vm, K = np.asarray(self.viewmat, np.float64), np.asarray(self.K, np.float64)
        if vm.shape != (4, 4) or K.shape != (3, 3):
            raise PromptError(f"a camera needs viewmat [4, 4] and K [3, 3], got {vm.shape} and {K.shape}")
        if not (np.isfinite(vm).all() and np.isfinite(K).all()) or K[0, 0] <= 0 or K[1, 1] <= 0:
            raise PromptError("the camera has non-finite values or a non-positive focal length")
        if not np.allclose(K[2], [0.0, 0.0, 1.0]) or abs(K[1, 0]) > 1e-9 or abs(K[0, 1]) > 1e-6 * K[0, 0]:
            raise PromptError("K must be a pinhole intrinsic matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (no skew, "
                              f"last row 0 0 1); got {K.tolist()}")  # fmt: skip
        if not np.allclose(vm[3], [0.0, 0.0, 0.0, 1.0]) or abs(np.linalg.det(vm[:3, :3])) < 1e-12:
            raise PromptError("viewmat must be a 4x4 world-to-camera transform (last row 0 0 0 1, invertible)")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise PromptError(f"bad image size {self.width}x{self.height}")
        if self.model not in ("pinhole", "ortho"):
            raise PromptError(f"camera model {self.model!r}: use 'pinhole' or 'ortho'")
        object.__setattr__(self, "viewmat", vm)
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))

    @staticmethod
    def from_cameras(cameras, index: int) -> QueryCamera:
        """Camera ``index`` of an engine ``Cameras``."""
        if not 0 <= index < len(cameras):
            raise PromptError(f"view {index} does not exist (there are {len(cameras)} views: 0..{len(cameras) - 1})")
        return QueryCamera(cameras.viewmats[index], cameras.Ks[index], cameras.width, cameras.height)

    def key(self) -> bytes:
        return (self.viewmat.tobytes() + self.K.tobytes() + np.array([self.width, self.height]).tobytes()
                + self.model.encode())  # fmt: skip


def _points(values, what: str) -> np.ndarray:
    arr = np.asarray(values if values is not None else np.zeros((0, 2)), np.float64).reshape(-1, 2)
    if not np.isfinite(arr).all():
        raise PromptError(f"{what}: coordinates must be finite numbers")
    return arr


@dataclass
class Prompts:
    """positive / negative points [P, 2] (x, y pixels); scribbles: lists of polylines [L, 2]; mask [H, W] bool."""

    positive: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    negative: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    positive_scribbles: list[np.ndarray] = field(default_factory=list)
    negative_scribbles: list[np.ndarray] = field(default_factory=list)
    mask: np.ndarray | None = None
    #: False for the extra views of a multi-view prompt, which may hold only negatives
    require_positive: bool = True

    def __post_init__(self) -> None:
        self.positive = _points(self.positive, "positive points")
        self.negative = _points(self.negative, "negative points")
        self.positive_scribbles = [_points(s, "scribble") for s in self.positive_scribbles]
        self.negative_scribbles = [_points(s, "scribble") for s in self.negative_scribbles]
        if any(len(s) == 0 for s in self.positive_scribbles + self.negative_scribbles):
            raise PromptError("a scribble needs at least one point")
        if self.mask is not None:
            self.mask = np.asarray(self.mask).astype(bool)
            if self.mask.ndim != 2:
                raise PromptError(f"a mask prompt is one [H, W] image, got shape {self.mask.shape}")
        if self.require_positive and not self.has_positive:
            raise PromptError("nothing to select: give at least one positive point, scribble or a non-empty mask")

    @property
    def has_positive(self) -> bool:
        return bool(len(self.positive) or self.positive_scribbles or (self.mask is not None and self.mask.any()))

    def check_inside(self, camera: QueryCamera) -> None:
        """Every point and scribble vertex inside the image, the mask of the image's size."""
        scribbles = [("scribble point", s) for s in self.positive_scribbles + self.negative_scribbles]
        for name, pts in [("positive point", self.positive), ("negative point", self.negative), *scribbles]:
            bad = (pts[:, 0] < 0) | (pts[:, 0] >= camera.width) | (pts[:, 1] < 0) | (pts[:, 1] >= camera.height)
            if bad.any():
                x, y = pts[bad][0]
                raise PromptError(f"{name} ({x:g}, {y:g}) is outside the {camera.width}x{camera.height} image")
        if self.mask is not None and self.mask.shape != (camera.height, camera.width):
            raise PromptError(f"the mask is {self.mask.shape[1]}x{self.mask.shape[0]}, the camera's image is "
                              f"{camera.width}x{camera.height}")  # fmt: skip

    def key(self) -> str:
        """A digest of the prompts (for caches)."""
        h = hashlib.sha1()
        for part in [self.positive, self.negative, *self.positive_scribbles, b"|", *self.negative_scribbles]:
            h.update(part if isinstance(part, bytes) else np.ascontiguousarray(part).tobytes() + b";")
        if self.mask is not None:
            h.update(np.packbits(self.mask).tobytes() + str(self.mask.shape).encode())
        return h.hexdigest()


def polyline_pixels(polyline: np.ndarray, width: int, height: int, max_samples: int = MAX_POLYLINE_SAMPLES
                    ) -> np.ndarray:  # fmt: skip
    """Integer pixels [P, 2] (x, y) along a polyline in order, duplicates removed: one per pixel step, or
    ``max_samples`` evenly spread by arc length for a longer line (the cost never depends on its length)."""
    pts = np.asarray(polyline, np.float64).reshape(-1, 2)
    if len(pts) == 1:
        samples = pts
    else:
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        along = np.concatenate([[0.0], np.cumsum(seg)])
        n = int(min(max_samples, max(2, np.ceil(along[-1]) + 1)))
        t = np.linspace(0.0, along[-1], n)
        samples = np.stack([np.interp(t, along, pts[:, 0]), np.interp(t, along, pts[:, 1])], axis=1)
    pix = np.floor(samples).astype(np.int64)
    pix[:, 0] = pix[:, 0].clip(0, width - 1)
    pix[:, 1] = pix[:, 1].clip(0, height - 1)
    _, first = np.unique(pix[:, 1] * width + pix[:, 0], return_index=True)
    return pix[np.sort(first)]


def sample_pixels(pixels: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """At most ``limit`` of ``pixels`` [P, 2], evenly spread along the list (deterministic)."""
    if len(pixels) <= limit:
        return pixels
    rng = np.random.default_rng(seed)
    return pixels[np.sort(rng.choice(len(pixels), limit, replace=False))]


def kmeans(x: np.ndarray, k: int, iterations: int = 20, seed: int = 0) -> np.ndarray:
    """Deterministic k-means (k-means++ start) of [P, D] -> [min(k, distinct P), D] centres."""
    x = np.asarray(x, np.float64)
    k = min(k, len(np.unique(x.round(6), axis=0)))
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = np.min(((x[:, None] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(x[rng.choice(len(x), p=d2 / d2.sum())] if d2.sum() > 0 else x[rng.integers(len(x))])
    c = np.asarray(centres)
    for _ in range(iterations):
        assign = ((x[:, None] - c[None]) ** 2).sum(-1).argmin(axis=1)
        new = np.array([x[assign == j].mean(0) if (assign == j).any() else c[j] for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return c
