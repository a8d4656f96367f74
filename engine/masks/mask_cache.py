"""An on-disk cache of each view's masks, so a re-run never recomputes SAM.

One file per view: ``<folder>/<key>.npz``, where key = sha256 of (cache format version, source name,
source settings as sorted JSON, view name, view image shape/dtype/bytes). The file holds the stack's
``shape`` and its bits (``np.packbits`` of the flattened bool stack) in ``np.savez_compressed``: a
bool mask costs one bit before compression.

Writes go through the project's atomic-write helper (``saga_blender.core.atomic_files``): a crash
mid-write leaves at most an orphan temporary file (never read; removed when a later cache opens the
folder and it is over an hour old), never a partial entry. An entry that cannot be read back (disk
damage) counts as a miss and is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator

import numpy as np

from engine.masks.source import MaskSource, check_mask_stack
from engine.views.training_view import TrainingView
from saga_blender.core.atomic_files import atomic_write, make_folder, remove_stale_temps

CACHE_VERSION = "saga-mask-cache-v1"
_STALE_TMP_S = 3600.0


def cache_key(source: MaskSource, view: TrainingView) -> str:
    """sha256 hex of everything that determines a view's masks."""
    image = np.ascontiguousarray(view.image)
    digest = hashlib.sha256()
    header = [CACHE_VERSION, source.name, source.settings(), view.name, list(image.shape), str(image.dtype)]
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    digest.update(b"\0")
    digest.update(image.tobytes())
    return digest.hexdigest()


def pack_masks(masks: np.ndarray) -> dict[str, np.ndarray]:
    masks = np.asarray(masks, dtype=bool)
    return {"shape": np.asarray(masks.shape, dtype=np.int64), "bits": np.packbits(masks.reshape(-1))}


def unpack_masks(shape: np.ndarray, bits: np.ndarray) -> np.ndarray:
    shape = tuple(int(s) for s in shape)
    count = int(np.prod(shape))
    return np.unpackbits(bits, count=count).reshape(shape).astype(bool)


class MaskCache:
    """Per-view masks of any MaskSource, computed once and kept on disk in ``folder``."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = make_folder(os.path.abspath(os.fspath(folder)), "mask cache folder")
        self.hits = 0
        self.misses = 0
        remove_stale_temps(self.folder, _STALE_TMP_S)

    def path_for(self, source: MaskSource, view: TrainingView) -> str:
        return os.path.join(self.folder, cache_key(source, view) + ".npz")

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}

    def _read(self, path: str, view: TrainingView) -> np.ndarray | None:
        """The cached stack, or None when absent, unreadable or of the wrong size."""
        if not os.path.isfile(path):
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                masks = unpack_masks(data["shape"], data["bits"])
        except Exception:  # damaged entry: recompute and overwrite
            return None
        if masks.ndim != 3 or masks.shape[1:] != (view.height, view.width):
            return None
        return masks

    def _write_entry(self, fh, masks: np.ndarray) -> None:
        """Write the entry's bytes into the (temporary) file ``fh``."""
        np.savez_compressed(fh, **pack_masks(masks))

    def _store(self, path: str, masks: np.ndarray) -> None:
        with atomic_write(path) as fh:
            self._write_entry(fh, masks)

    def masks_for_view(self, source: MaskSource, view: TrainingView) -> np.ndarray:
        """The view's masks from the cache, or computed by ``source``, stored, and returned."""
        path = self.path_for(source, view)
        masks = self._read(path, view)
        if masks is not None:
            self.hits += 1
            return masks
        self.misses += 1
        masks = check_mask_stack(source.masks_for_view(view), view, source.name)
        self._store(path, masks)
        return masks

    def iter_masks(
        self, source: MaskSource, views: Iterable[TrainingView]
    ) -> Iterator[tuple[TrainingView, np.ndarray]]:
        """(view, masks) one view at a time; nothing of earlier views is kept here."""
        for view in views:
            yield view, self.masks_for_view(source, view)

    def fill(self, source: MaskSource, views: Iterable[TrainingView]) -> dict[str, int]:
        """Make sure every view's masks are cached (each stack dropped at once); returns ``stats()``."""
        for view in views:
            self.masks_for_view(source, view)
        return self.stats()
