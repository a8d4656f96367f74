"""Several splats as one (merge on export): SH degrees, normals and extra properties reconciled, with notes.

* SH: the merged splat has the highest degree among the parts; a part with fewer bands gets zero coefficients for
  the missing ones (its view-dependent colour stays what it was: none for those bands).
* Extra properties (``obj_dc_*``, labels...): kept when every part has them with the same type, dropped otherwise
  (a note names them); the property order is the first part's when it fits.
* Normals are concatenated (zeros where a part had none).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .gaussians import GaussianSplat


def merge_splats(parts: Sequence[GaussianSplat]) -> tuple[GaussianSplat, list[str]]:
    """(one splat holding every part's Gaussians in order, notes on what could not be kept)."""
    if not parts:
        raise ValueError("nothing to merge: no splats")
    notes: list[str] = []
    if len(parts) == 1:
        return parts[0], notes
    k = max(p.sh_rest.shape[1] for p in parts)
    padded = []
    for i, p in enumerate(parts):
        rest = p.sh_rest
        if rest.shape[1] < k:
            notes.append(f"part {i + 1} had SH degree {p.sh_degree}: its missing bands are zero")
            rest = np.concatenate([rest, np.zeros((len(p), k - rest.shape[1], 3), rest.dtype)], axis=1)
        padded.append(rest)
    common = [name for name, col in parts[0].extras.items()
              if all(name in p.extras and p.extras[name].dtype == col.dtype for p in parts[1:])]  # fmt: skip
    dropped = sorted({name for p in parts for name in p.extras} - set(common))
    if dropped:
        notes.append(f"extra properties not in every part were dropped: {', '.join(dropped)}")
    merged = GaussianSplat(
        means=np.concatenate([p.means for p in parts]),
        quats=np.concatenate([p.quats for p in parts]),
        log_scales=np.concatenate([p.log_scales for p in parts]),
        opacity_logits=np.concatenate([p.opacity_logits for p in parts]),
        sh_dc=np.concatenate([p.sh_dc for p in parts]),
        sh_rest=np.concatenate(padded),
        normals=np.concatenate([p.normals for p in parts]),
        extras={name: np.concatenate([p.extras[name] for p in parts]) for name in common},
    )
    order = parts[0].property_order
    if order is not None and set(order) == set(merged.columns()):
        merged.property_order = order
    return merged, notes
