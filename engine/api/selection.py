"""Selections as Gaussian ids: checking ids a user or client gives, and cutting a splat by them."""

from __future__ import annotations

import os

import numpy as np

from .npy_files import ArrayInputError, read_npy
from .scene_files import SceneFile


def validate_ids(ids: np.ndarray, count: int, source: str = "ids") -> np.ndarray:
    """Sorted distinct int64 ids from integer ids in [0, count) or a bool mask of length count."""
    ids = np.asarray(ids)
    if ids.dtype == bool:
        if ids.shape != (count,):
            raise ArrayInputError(f"{source}: a bool mask must have one entry per Gaussian ({count}), it has "
                                  f"{ids.shape}")  # fmt: skip
        return np.flatnonzero(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ArrayInputError(f"{source}: expected a 1-D integer array of ids, got {ids.dtype} {ids.shape}")
    if len(ids) and (ids.min() < 0 or ids.max() >= count):
        raise ArrayInputError(f"{source}: ids must be in [0, {count}), found {ids.min()}..{ids.max()} (another "
                              "scene?)")  # fmt: skip
    return np.unique(ids.astype(np.int64))


def load_ids(path: str, count: int) -> np.ndarray:
    """Validated ids from a .npy file (as ``saga-engine segment`` writes them)."""
    return validate_ids(read_npy(path, "ids file", max_elements=max(count, 1)), count, path)


def select_rows(ids: np.ndarray, count: int, invert: bool = False, source: str = "ids") -> np.ndarray:
    """The rows to write: the validated ids, or every other row with ``invert``; refuses an empty result."""
    keep = np.zeros(count, bool)
    keep[validate_ids(ids, count, source)] = True
    if invert:
        keep = ~keep
    if not keep.any():
        raise ArrayInputError("nothing to write: the selection is empty" + (" after invert" if invert else ""))
    return np.flatnonzero(keep)


def extract(scene: SceneFile, rows: np.ndarray, out: str, overwrite: bool = True) -> int:
    """Write the Gaussians ``rows`` (from ``select_rows``) of the scene as an INRIA .ply at ``out`` (atomically; the
    folder must exist; with ``overwrite=False`` an existing file is refused). Returns the count written."""
    from saga_blender.core.splat_io import write_splat

    if os.path.abspath(out) == scene.path:
        from saga_blender.core.errors import FileWriteError

        raise FileWriteError(out, "is the scene's own file: write the part to another file")
    write_splat(out, scene.splat.subset(rows), overwrite=overwrite)
    return len(rows)
