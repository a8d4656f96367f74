"""Per-view training records: everything the trainer needs from one view, computed once.

Because the splat's geometry is frozen, each covered pixel's top-K contributors and blending weights never
change, so a record stores them with the pixel's mask membership (bit-packed, masks in ascending scale
order), the masks' metric scales and areas. Records live on disk as ``.npy`` files and are memory-mapped,
so training samples a view's rows without holding every view (or every mask) in memory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import torch

from saga_blender.core.atomic_files import save_npy, write_json

from .mask_scales import mask_scales
from .pixel_identity import pack_membership

ARRAYS = ("pixels", "ids", "weights", "membership", "scales", "areas", "mean_area", "mask_offsets", "mask_rows")


@dataclass
class ViewRecord:
    """pixels [P] int64 flat indices of covered pixels; ids [P, K] int32 (-1 none); weights [P, K] float32;
    membership [P, W] int64 packed (mask j = bit j, masks sorted by metric scale ascending); scales [M]
    metric; areas [M] pixels; mean_area [P] mean area of the masks containing the pixel (H*W if none);
    mask_rows[mask_offsets[j]:mask_offsets[j + 1]] are the rows (into ``pixels``) covered by mask j."""

    name: str
    height: int
    width: int
    pixels: np.ndarray
    ids: np.ndarray
    weights: np.ndarray
    membership: np.ndarray
    scales: np.ndarray
    areas: np.ndarray
    mean_area: np.ndarray
    mask_offsets: np.ndarray
    mask_rows: np.ndarray

    @property
    def num_masks(self) -> int:
        return len(self.scales)

    def save(self, folder: str) -> None:
        """Write the record's files into ``folder`` (a new folder inside a prepare's staging folder, so the files are
        scratch: written through the atomic helper without fsync; ``meta.json`` last marks the record complete)."""
        os.makedirs(folder, exist_ok=True)
        for key in ARRAYS:
            save_npy(os.path.join(folder, f"{key}.npy"), getattr(self, key), durable=False)
        write_json(os.path.join(folder, "meta.json"), {"name": self.name, "height": self.height, "width": self.width},
                   durable=False)  # fmt: skip

    @staticmethod
    def load(folder: str, mmap: bool = True) -> ViewRecord:
        with open(os.path.join(folder, "meta.json")) as fh:
            meta = json.load(fh)
        mode = "r" if mmap else None
        arrays = {
            key: np.load(os.path.join(folder, f"{key}.npy"), mmap_mode=mode, allow_pickle=False) for key in ARRAYS
        }
        return ViewRecord(meta["name"], meta["height"], meta["width"], **arrays)


def build_view_record(
    name: str,
    masks: np.ndarray,  # [M, H, W] bool
    depth: np.ndarray,  # [H, W], NaN where empty
    K: np.ndarray,  # [3, 3]
    contrib_ids: np.ndarray,  # [H, W, Kc] int
    contrib_weights: np.ndarray,  # [H, W, Kc]
    alpha: np.ndarray,  # [H, W]
    min_alpha: float = 0.5,
) -> ViewRecord:
    """Combine one view's masks and contributors into a record (masks without a valid scale are dropped)."""
    h, w = depth.shape
    metric = mask_scales(masks, depth, K) if len(masks) else np.zeros(0)
    keep = np.isfinite(metric)
    masks, metric = masks[keep], metric[keep]
    order = np.argsort(metric, kind="stable")
    masks, metric = masks[order], metric[order]
    flat_ids = contrib_ids.reshape(h * w, -1)
    pixels = np.flatnonzero((alpha.reshape(-1) > min_alpha) & (flat_ids[:, 0] >= 0))
    member = masks.reshape(len(masks), h * w)[:, pixels].T  # [P, M]
    areas = masks.reshape(len(masks), h * w).sum(axis=1).astype(np.float32)
    counts = member.sum(axis=1)
    mean_area = np.where(counts > 0, (member * areas[None, :]).sum(axis=1) / np.maximum(counts, 1), h * w)
    packed = pack_membership(torch.from_numpy(np.ascontiguousarray(member))).numpy()
    mask_idx, rows = np.nonzero(member.T)  # CSR of each mask's covered rows, for mask-balanced sampling
    offsets = np.zeros(len(masks) + 1, np.int64)
    offsets[1:] = np.cumsum(np.bincount(mask_idx, minlength=len(masks)))
    return ViewRecord(
        name=name, height=h, width=w, pixels=pixels.astype(np.int64),
        ids=flat_ids[pixels].astype(np.int32), weights=contrib_weights.reshape(h * w, -1)[pixels].astype(np.float32),
        membership=packed, scales=metric.astype(np.float64), areas=areas, mean_area=mean_area.astype(np.float32),
        mask_offsets=offsets, mask_rows=rows.astype(np.int64),
    )  # fmt: skip
