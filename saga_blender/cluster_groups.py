"""Segment Everything's result on a splat object: one vertex group per cluster, the ``saga_cluster`` attribute and
distinct display colours; and the cluster under a click."""

from __future__ import annotations

import contextlib

import bpy
import numpy as np

from .selection_groups import set_group
from .splat_mesh import gs_ids

CLUSTER_ATTRIBUTE = "saga_cluster"


def cluster_colors(count: int) -> np.ndarray:
    """[count, 4] distinct colours (golden-ratio hues, alternating value)."""
    import colorsys

    return np.array([(*colorsys.hsv_to_rgb((i * 0.61803398875) % 1.0, 0.75, 0.95 if i % 2 else 0.7), 1.0)
                     for i in range(count)], np.float32)  # fmt: skip


def apply_clusters(obj, labels) -> str:
    """Write the engine's labels (one per Gaussian) onto ``obj``; returns a summary."""
    per_vertex = np.asarray(labels, np.int32)[gs_ids(obj)]
    mesh = obj.data
    attr = mesh.attributes.get(CLUSTER_ATTRIBUTE) or mesh.attributes.new(CLUSTER_ATTRIBUTE, "INT", "POINT")
    attr.data.foreach_set("value", per_vertex)
    for group in [g for g in obj.vertex_groups if g.name.startswith("cluster_")]:
        obj.vertex_groups.remove(group)
    present = np.unique(per_vertex)
    for label in present:
        set_group(obj, f"cluster_{label:03d}", per_vertex == label)
    colors = cluster_colors(int(per_vertex.max()) + 1)[per_vertex]
    mesh.color_attributes["gs_color"].data.foreach_set("color", colors.ravel())
    mesh.update()
    with contextlib.suppress(RuntimeError):  # an undo step where there is a window to push it to
        bpy.ops.ed.undo_push(message="SAGA Segment Everything")
    return f"{len(present)} clusters"


def cluster_under(obj, mask: np.ndarray) -> np.ndarray:
    """The points of the Segment Everything cluster most of ``mask`` belongs to (``mask`` if none was made)."""
    attr = obj.data.attributes.get(CLUSTER_ATTRIBUTE)
    if attr is None:
        return mask
    labels = np.empty(len(obj.data.vertices), np.int32)
    attr.data.foreach_get("value", labels)
    return labels == np.bincount(labels[mask]).argmax()
