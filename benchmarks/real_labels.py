"""Hand-made labels of the two real captures in ``../shared/data/real/`` (for the accuracy benchmark).

How they were made: each capture's Gaussians were plotted in a frame fitted to the object (principal axes of the
object's opaque Gaussians; the pictures are in the session notes) and a rule was drawn around what the eye calls
one object, checked from three sides, then corrected where a rendered view showed a stray cluster.

* guitar: the frame's axes a0 (along the neck), a1 (across the body) and d (through the body's thickness) and the
  height h above the floor. The guitar is everything above the stand's top (h > 2.0), and the thin slab of the
  body and neck (-0.24 < d < 0.17, a0 < 0.82) except the stand's cradle arm (a1 < -0.62 and a0 > 0.58); the
  stand is the rest.
* biker: the helmet is the ball of radius 1.08 r around its fitted centre (a sphere fit of the helmet's shell);
  the person (with the bike's part in the capture) is the rest.

The labels cover every Gaussian (objects = parts: a real capture has no part labels).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

REAL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "real")

GUITAR_CENTRE = np.array([0.32137373, -1.02282178, 0.30860934])
GUITAR_AXES = np.array([[0.17504758, 0.93465314, 0.30948642],
                        [-0.20941237, -0.2718025, 0.93929221],
                        [0.9620316, -0.22923111, 0.14814956]])  # fmt: skip
HELMET_CENTRE = np.array([-0.26917647, -1.39156515, 0.31299017])
HELMET_RADIUS = 0.2603991539


@dataclass
class LabelledCapture:
    """A real capture with hand labels, shaped like the synthetic scene for the benchmark's protocol."""

    name: str
    splat: object  # GaussianSplat
    object_names: list[str]
    object_id: np.ndarray  # [N] int32
    up: np.ndarray | None = None

    @property
    def part_names(self) -> list[str]:
        return self.object_names

    @property
    def part_id(self) -> np.ndarray:
        return self.object_id

    @property
    def part_object(self) -> np.ndarray:
        return np.arange(len(self.object_names))


def missing_capture(scene: str) -> str | None:
    """Why a benchmark scene cannot run here (a real capture whose file is absent), or None."""
    if scene in ("guitar", "biker") and not os.path.isfile(os.path.join(REAL, f"{scene}.compressed.ply")):
        return f"[{scene}] skipped: ../shared/data/real is not here"
    return None


def guitar_labels(means: np.ndarray) -> np.ndarray:
    """[N] bool: the guitar (the rest is its stand)."""
    p = (means.astype(np.float64) - GUITAR_CENTRE) @ GUITAR_AXES.T
    a0, a1, d = p[:, 0], p[:, 1], p[:, 2]
    h = -means[:, 1]
    body = (d > -0.24) & (d < 0.17) & (a0 < 0.82) & ~((a1 < -0.62) & (a0 > 0.58))
    return (h > 2.0) | body


def helmet_labels(means: np.ndarray) -> np.ndarray:
    """[N] bool: the helmet (the rest is the person)."""
    return np.linalg.norm(means.astype(np.float64) - HELMET_CENTRE, axis=1) < 1.08 * HELMET_RADIUS


def load_capture(name: str) -> LabelledCapture:
    """``guitar`` or ``biker`` with its labels (FileNotFoundError when ../shared is not here)."""
    from saga_blender.core.splat_io import read_splat

    path = os.path.join(REAL, f"{name}.compressed.ply")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: the real captures live in ../shared/data/real (not in a user's clone)")
    splat = read_splat(path).splat
    if name == "guitar":
        # object 0 is not clicked by the protocol (the floor of the synthetic scenes): an empty placeholder
        labels = np.where(guitar_labels(splat.means), 1, 2).astype(np.int32)
        return LabelledCapture(name, splat, ["(none)", "guitar", "stand"], labels)
    if name == "biker":
        labels = np.where(helmet_labels(splat.means), 2, 1).astype(np.int32)
        return LabelledCapture(name, splat, ["(none)", "person", "helmet"], labels)
    raise ValueError(f"unknown capture {name!r} (guitar or biker)")
