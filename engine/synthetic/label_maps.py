"""2D ground truth of the synthetic scene: per view, the object and part label of every pixel.

A pixel's label is the label whose Gaussians carry the largest share of the pixel's alpha-blending
weight: one-hot label features are rendered with the ordinary rasteriser and the argmax is taken.
Pixels whose accumulated alpha is not above 0.5 (empty, or the edge of the splat) are -1, exactly
where a rendered TrainingView's depth is NaN. These maps are
the ground truth of the 2D mask benchmark (:func:`mask_recall`) and the source of the damaged masks.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.render.rasterization import rasterization
from engine.render.splat_tensors import cameras_to_tensors, splat_to_tensors


def render_label_maps(
    scene, cameras, min_alpha: float = 0.5, device: str = "cpu", backend: str = "auto"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(object_map, part_map) int32 [H, W] per camera of ``cameras``; -1 where alpha <= ``min_alpha``.

    The part map is the argmax over parts of the summed blending weights; the object map is the argmax
    over objects of the weights summed over each object's parts (so a pixel where a small part wins
    narrowly over another object's part may still belong to the larger object)."""
    st = splat_to_tensors(scene.splat, device)
    viewmats, Ks = cameras_to_tensors(cameras, device)
    n_parts, n_objects = len(scene.part_names), len(scene.object_names)
    part_id = torch.from_numpy(np.asarray(scene.part_id, np.int64)).to(device)
    onehot = torch.nn.functional.one_hot(part_id, n_parts).to(torch.float32)
    to_object = torch.nn.functional.one_hot(
        torch.from_numpy(np.asarray(scene.part_object, np.int64)).to(device), n_objects
    ).to(torch.float32)  # [P, O]
    maps = []
    for i in range(len(cameras)):
        with torch.no_grad():
            weights, alpha, _ = rasterization(
                st.means, st.quats, st.scales, st.opacities, onehot, viewmats[i : i + 1], Ks[i : i + 1],
                cameras.width, cameras.height, backend=backend,
            )  # fmt: skip
        weights, empty = weights[0], ~(alpha[0, ..., 0] > min_alpha)
        part_map = weights.argmax(-1).to(torch.int32)
        object_map = (weights @ to_object).argmax(-1).to(torch.int32)
        part_map[empty], object_map[empty] = -1, -1
        maps.append((object_map.cpu().numpy(), part_map.cpu().numpy()))
    return maps


def mask_recall(masks: np.ndarray, label_map: np.ndarray, min_area: int = 100) -> dict:
    """How well a mask stack [M, H, W] covers the regions of one label map [H, W] (-1 = no label).

    For every label with at least ``min_area`` pixels, the best IoU of any mask with its region.
    Returns {"labels": [L] int, "best_iou": [L] float, "mean_best_iou": float (NaN if no region),
    "fraction_at_0.8": float}. Pool ``best_iou`` over views for a scene-level number.
    """
    masks = np.asarray(masks, bool).reshape(-1, label_map.size)
    flat = np.asarray(label_map).reshape(-1)
    labels, counts = np.unique(flat[flat >= 0], return_counts=True)
    labels = labels[counts >= min_area]
    best = np.zeros(len(labels))
    if len(masks) and len(labels):
        region = flat[None, :] == labels[:, None]  # [L, HW]
        inter = region.astype(np.float32) @ masks.T.astype(np.float32)  # [L, M]
        union = region.sum(1)[:, None] + masks.sum(1)[None, :] - inter
        best = (inter / np.maximum(union, 1)).max(axis=1)
    mean = float(best.mean()) if len(best) else float("nan")
    frac = float((best >= 0.8).mean()) if len(best) else float("nan")
    return {"labels": labels.astype(np.int64), "best_iou": best, "mean_best_iou": mean, "fraction_at_0.8": frac}


def pooled_recall(masks_per_view, maps, min_area: int = 100) -> dict:
    """Mean best IoU and fraction >= 0.8 of objects and of parts over views, each visible region of each
    view counted once: ``masks_per_view`` [V] mask stacks, ``maps`` [V] (object_map, part_map)."""
    out = {}
    for level, k in (("objects", 0), ("parts", 1)):
        best = [mask_recall(m, lm[k], min_area)["best_iou"] for m, lm in zip(masks_per_view, maps, strict=True)]
        best = np.concatenate(best) if best else np.zeros(0)
        out[level] = {"n": len(best), "mean_best_iou": float(best.mean()) if len(best) else float("nan"),
                      "fraction_at_0.8": float((best >= 0.8).mean()) if len(best) else float("nan")}  # fmt: skip
    return out
