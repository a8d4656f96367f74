"""Splat <-> Blender object: a mesh with one vertex per Gaussian and every property as a POINT attribute.

The mesh keeps the file's coordinates; the up-axis correction is the object's transform, remembered as the
"import matrix", so export writes the file's own frame with only the user's later motion applied (an
unmoved object exports the numbers it was imported from). The layout record (property order, dtypes,
renamed properties) is stored on the mesh as JSON.
"""

from __future__ import annotations

import json
import math

import bpy
import numpy as np
from mathutils import Matrix

from .core.gaussians import GaussianSplat
from .core.point_attributes import (
    COLOR_ATTRIBUTE,
    DISPLAY_ATTRIBUTES,
    FOOTPRINT_U,
    FOOTPRINT_V,
    ID_ATTRIBUTE,
    RADIUS_ATTRIBUTE,
    attributes_to_splat,
    display_colors,
    display_radii,
    footprint_axes,
    splat_to_attributes,
)
from .display_nodes import add_display_modifier

LAYOUT_KEY = "saga_layout"
IMPORT_MATRIX_KEY = "saga_import_matrix"
SOURCE_KEY = "saga_source"
UP_AXES = {  # the rotation that makes the file's up axis Blender's +Z
    "Z": Matrix.Identity(4),
    "Y": Matrix.Rotation(math.pi / 2, 4, "X"),
    "-Y": Matrix.Rotation(-math.pi / 2, 4, "X"),
}


def gs_ids(obj) -> np.ndarray:
    """[V] each vertex's Gaussian id (its index in the file it was imported from)."""
    ids = np.empty(len(obj.data.vertices), np.int32)
    obj.data.attributes["gs_id"].data.foreach_get("value", ids)
    return ids


def is_splat_object(obj) -> bool:
    return obj is not None and obj.type == "MESH" and LAYOUT_KEY in obj.data


def create_splat_object(context, splat: GaussianSplat, name: str, up_axis: str = "-Y", source: str = "",
                        ids: np.ndarray | None = None) -> bpy.types.Object:  # fmt: skip
    """Build and link the object; on any error nothing is left in the file."""
    positions, attrs, layout = splat_to_attributes(splat)
    n = len(splat)
    mesh = bpy.data.meshes.new(name)
    obj = None
    try:
        mesh.vertices.add(n)
        mesh.vertices.foreach_set("co", positions.ravel())
        for attr_name, (column, kind) in attrs.items():
            mesh.attributes.new(attr_name, kind, "POINT").data.foreach_set("value", column)
        gs_id = np.arange(n, dtype=np.int32) if ids is None else np.asarray(ids, np.int32)
        mesh.attributes.new(ID_ATTRIBUTE, "INT", "POINT").data.foreach_set("value", gs_id)
        write_display_attributes(mesh, splat)
        mesh[LAYOUT_KEY] = json.dumps(layout)
        mesh.update()
        obj = bpy.data.objects.new(name, mesh)
        obj.matrix_world = UP_AXES[up_axis]
        obj[IMPORT_MATRIX_KEY] = [v for row in UP_AXES[up_axis] for v in row]
        obj[SOURCE_KEY] = source
        add_display_modifier(obj)
        context.collection.objects.link(obj)
        return obj
    except BaseException:
        if obj is not None:
            bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(mesh)
        raise


def write_display_attributes(mesh: bpy.types.Mesh, splat: GaussianSplat) -> None:
    """The attributes the display draws (colour, radius, footprint axes), from the splat's own values."""
    color = mesh.color_attributes.get(COLOR_ATTRIBUTE) or mesh.color_attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR",
                                                                                    "POINT")  # fmt: skip
    color.data.foreach_set("color", display_colors(splat).ravel())
    mesh.color_attributes.active_color = color
    mesh.color_attributes.render_color_index = mesh.color_attributes.active_color_index
    values = {RADIUS_ATTRIBUTE: ("FLOAT", "value", display_radii(splat))}
    u, v = footprint_axes(splat)
    values.update({FOOTPRINT_U: ("FLOAT_VECTOR", "vector", u), FOOTPRINT_V: ("FLOAT_VECTOR", "vector", v)})
    for name, (kind, field, column) in values.items():
        attr = mesh.attributes.get(name) or mesh.attributes.new(name, kind, "POINT")
        attr.data.foreach_set(field, np.ascontiguousarray(column).ravel())


def import_matrix(obj) -> Matrix:
    values = obj.get(IMPORT_MATRIX_KEY)
    if values is None or len(values) != 16:
        return Matrix.Identity(4)
    return Matrix([values[0:4], values[4:8], values[8:12], values[12:16]])


def export_matrix(obj, frame_of=None) -> np.ndarray:
    """[4, 4] float64 taking the object's mesh coordinates to the file frame of ``frame_of`` (default: its own):
    the inverse of that object's import matrix times this object's world matrix. For the object itself that is
    its motion since import, the identity when unmoved."""
    reference = obj if frame_of is None else frame_of
    rel = np.linalg.inv(np.array(import_matrix(reference), np.float64)) @ np.array(obj.matrix_world, np.float64)
    if np.allclose(rel, np.eye(4), atol=1e-6):  # float32 round-off of an unmoved object
        return np.eye(4)
    return rel


def read_columns(mesh: bpy.types.Mesh, names: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(positions [N, 3], {name: column}) read with foreach_get."""
    n = len(mesh.vertices)
    positions = np.empty(n * 3, np.float32)
    mesh.vertices.foreach_get("co", positions)
    out = {}
    for name in names:
        attr = mesh.attributes.get(name)
        if attr is None or attr.domain != "POINT" or attr.data_type not in ("FLOAT", "INT"):
            continue
        col = np.empty(n, np.int32 if attr.data_type == "INT" else np.float32)
        attr.data.foreach_get("value", col)
        out[name] = col
    return positions.reshape(n, 3), out


def splat_from_object(obj, keep: np.ndarray | None = None) -> tuple[GaussianSplat, np.ndarray]:
    """(the object's splat in the file's frame, its gs_id column); ``keep`` [N] bool restricts the points."""
    mesh = obj.data
    layout = json.loads(mesh[LAYOUT_KEY])
    stored = [n for n in mesh.attributes.keys() if not n.startswith(".") and n not in DISPLAY_ATTRIBUTES]
    positions, cols = read_columns(mesh, stored)
    ids = cols.pop(ID_ATTRIBUTE, np.arange(len(positions), dtype=np.int32))
    if keep is not None:
        positions, ids = positions[keep], ids[keep]
        cols = {k: v[keep] for k, v in cols.items()}
    return attributes_to_splat(positions, cols, layout), ids
