"""Selections are vertex groups of the splat object; this module reads, writes and edits them with numpy.

Reading goes through Geometry Nodes (``geometry_nodes.read_group_weights``), writing through
``VertexGroup.add`` with one Python list, and point edits (delete, duplicate, separate) through a Geometry
Nodes "Delete Geometry" evaluated in C++: every attribute, ``gs_id`` included, and every other vertex group
come along, so selections and ids survive every edit.
"""

from __future__ import annotations

import bpy
import numpy as np

from .display_nodes import MATERIAL, add_display_modifier, splat_material
from .geometry_nodes import mesh_without_group, read_group_weights
from .splat_mesh import IMPORT_MATRIX_KEY, LAYOUT_KEY, SOURCE_KEY


class SelectionError(ValueError):
    """A selection operation cannot run (the message says why and what to do)."""


def require_group(obj, name: str) -> bpy.types.VertexGroup:
    group = obj.vertex_groups.get(name)
    if group is None:
        raise SelectionError(f"'{obj.name}' has no selection (vertex group) named '{name}'")
    return group


def group_masks(obj, names: list[str]) -> dict[str, np.ndarray]:
    """{name: [N] bool membership} of the vertex groups ``names`` (weight > 0 counts as a member)."""
    for name in names:
        require_group(obj, name)
    return {name: w > 0 for name, w in read_group_weights(obj.data, names).items()}


def group_mask(obj, name: str) -> np.ndarray:
    return group_masks(obj, [name])[name]


def set_group(obj, name: str, mask: np.ndarray) -> bpy.types.VertexGroup:
    """Make vertex group ``name`` hold exactly the points of ``mask`` [N] bool (weight 1)."""
    mask = np.asarray(mask, bool)
    if mask.shape != (len(obj.data.vertices),):
        raise SelectionError(f"a selection of {mask.shape} for {len(obj.data.vertices)} points")
    old = obj.vertex_groups.get(name)
    if old is not None:
        obj.vertex_groups.remove(old)
    group = obj.vertex_groups.new(name=name)
    members = np.flatnonzero(mask)
    if len(members):
        group.add(members.tolist(), 1.0, "REPLACE")
    return group


def unique_name(obj, base: str) -> str:
    name, i = base, 1
    while obj.vertex_groups.get(name) is not None:
        i += 1
        name = f"{base}.{i:03d}"
    return name


def new_selection(obj, base: str, mask: np.ndarray) -> str:
    """Store ``mask`` as a new vertex group named after ``base`` (made unique), make it active and preview it in
    the viewport (``selection_preview``); its name."""
    from .selection_preview import sync_highlight

    name = unique_name(obj, base)
    set_group(obj, name, mask)
    obj.vertex_groups.active = obj.vertex_groups[name]
    sync_highlight(obj)
    return name


def _copy_splat_properties(src_mesh, dst_mesh) -> None:
    dst_mesh[LAYOUT_KEY] = src_mesh[LAYOUT_KEY]
    if dst_mesh.materials.get(MATERIAL) is None:
        dst_mesh.materials.append(splat_material())


def delete_points(obj, group: str) -> int:
    """Remove the points of ``group`` from ``obj`` (a new mesh replaces the old one). Returns how many."""
    require_group(obj, group)
    old = obj.data
    new = mesh_without_group(old, group, keep_group=False, name=old.name)
    removed = len(old.vertices) - len(new.vertices)
    _copy_splat_properties(old, new)
    obj.data = new
    if old.users == 0:
        bpy.data.meshes.remove(old)
    return removed


def new_object_from_group(context, obj, group: str, suffix: str) -> bpy.types.Object:
    """A new splat object holding only the points of ``group`` (same transform, collections, attributes)."""
    require_group(obj, group)
    mesh = mesh_without_group(obj.data, group, keep_group=True, name=f"{obj.data.name}.{suffix}")
    if len(mesh.vertices) == 0:
        bpy.data.meshes.remove(mesh)
        raise SelectionError(f"the selection '{group}' is empty: nothing to {suffix}")
    _copy_splat_properties(obj.data, mesh)
    new = bpy.data.objects.new(f"{obj.name}.{suffix}", mesh)
    new.matrix_world = obj.matrix_world.copy()
    for key in (IMPORT_MATRIX_KEY, SOURCE_KEY):
        if key in obj:
            new[key] = obj[key]
    add_display_modifier(new)
    for collection in obj.users_collection or [context.collection]:
        collection.objects.link(new)
    return new
