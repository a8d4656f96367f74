"""How a splat lives on a Blender mesh, without bpy: one vertex per Gaussian, every property a POINT attribute.

``splat_to_attributes`` gives the vertex positions, one column per attribute (with its Blender attribute
type), the display colour and radius, and a small JSON-able layout record (property order, original dtypes,
renamed properties) that the mesh keeps so that ``attributes_to_splat`` can rebuild the exact same splat
for export: an unmoved object writes back the numbers it was read from.

Blender attribute rules handled here: positions are the vertex coordinates (not attributes); names that
Blender reserves ("position", "id", ".select_vert", ...) or that are too long are stored under
``ply_<i>`` and renamed back on export; int8/uint8/int16/uint16/int32 properties become INT attributes,
floats FLOAT (float64 properties are narrowed to float32, which the layout records).
"""

from __future__ import annotations

import numpy as np

from .array_blocks import column_rows
from .gaussians import SH_C0, GaussianSplat
from .ply_inria import splat_from_columns

LAYOUT_VERSION = 1
ID_ATTRIBUTE = "gs_id"  # int: the Gaussian's index in the file it was read from
COLOR_ATTRIBUTE = "gs_color"  # RGBA float colour of SH band 0, alpha = opacity
RADIUS_ATTRIBUTE = "gs_radius"  # float: display radius of the point
FOOTPRINT_U = "gs_footprint_u"  # float vector: the Gaussian's longest axis times its scale (display)
FOOTPRINT_V = "gs_footprint_v"  # float vector: its second axis times its scale (display)
#: Attributes the display derives from the splat: rebuilt, never exported.
DISPLAY_ATTRIBUTES = (COLOR_ATTRIBUTE, RADIUS_ATTRIBUTE, FOOTPRINT_U, FOOTPRINT_V)
POSITION_NAMES = ("x", "y", "z")
RESERVED = {"position", "id", "radius", "material_index", "sharp_face", "normal", "crease", "UVMap", ID_ATTRIBUTE,
            *DISPLAY_ATTRIBUTES}  # fmt: skip
MAX_NAME = 63
INT_KINDS = {"i1", "u1", "i2", "u2", "i4"}


def blender_name(name: str, index: int) -> str:
    """The attribute name a property is stored under."""
    if name in RESERVED or name.startswith(".") or len(name.encode()) > MAX_NAME or not name:
        return f"ply_{index}"
    return name


def splat_to_attributes(splat: GaussianSplat) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, str]], dict]:
    """(positions [N, 3] float32, {attribute name: (column [N], 'FLOAT' | 'INT')}, layout record)."""
    columns = contiguous_columns(splat)
    order = list(columns)
    attrs: dict[str, tuple[np.ndarray, str]] = {}
    dtypes, renamed, narrowed = {}, {}, []
    for i, (name, col) in enumerate(columns.items()):
        dtypes[name] = col.dtype.str
        if name in POSITION_NAMES:
            continue
        stored = blender_name(name, i)
        if stored != name:
            renamed[stored] = name
        kind = col.dtype.str.lstrip("<>|=")
        if kind in INT_KINDS:
            attrs[stored] = (col.astype(np.int32), "INT")
        elif np.issubdtype(col.dtype, np.floating):
            if col.dtype != np.float32:
                narrowed.append(name)
            attrs[stored] = (col.astype(np.float32, copy=False), "FLOAT")
        else:
            raise ValueError(f"property {name!r} has type {col.dtype}, which cannot be stored on a Blender mesh")
    layout = {"version": LAYOUT_VERSION, "property_order": order, "dtypes": dtypes, "renamed": renamed,
              "narrowed": narrowed}  # fmt: skip
    positions = np.ascontiguousarray(splat.means, dtype=np.float32)
    return positions, attrs, layout


def contiguous_columns(splat: GaussianSplat) -> dict[str, np.ndarray]:
    """``splat.columns()`` with every column contiguous (copied blockwise out of the [N, K] arrays, which
    ``foreach_set`` would otherwise copy one strided column at a time)."""
    n = len(splat)
    k = splat.sh_rest.shape[1]
    rows = {
        "xyz": column_rows(splat.means), "n": column_rows(splat.normals), "dc": column_rows(splat.sh_dc),
        "rest": column_rows(splat.sh_rest.transpose(0, 2, 1).reshape(n, 3 * k)) if k else None,
        "scale": column_rows(splat.log_scales), "rot": column_rows(splat.quats),
    }  # fmt: skip
    cols = {}
    for i, axis in enumerate("xyz"):
        cols[axis] = rows["xyz"][i]
    for i, axis in enumerate("xyz"):
        cols[f"n{axis}"] = rows["n"][i]
    for c in range(3):
        cols[f"f_dc_{c}"] = rows["dc"][c]
    for i in range(3 * k):  # channel-major, as the file stores f_rest_*
        cols[f"f_rest_{i}"] = rows["rest"][i]
    cols["opacity"] = splat.opacity_logits
    for i in range(3):
        cols[f"scale_{i}"] = rows["scale"][i]
    for i in range(4):
        cols[f"rot_{i}"] = rows["rot"][i]
    cols.update(splat.extras)
    if splat.property_order is not None and set(splat.property_order) == set(cols):
        return {name: cols[name] for name in splat.property_order}
    return cols


def display_colors(splat: GaussianSplat) -> np.ndarray:
    """[N, 4] float32: SH band-0 colour clamped to [0, 1], alpha = opacity."""
    rgba = np.empty((len(splat), 4), np.float32)
    rgba[:, :3] = np.clip(0.5 + SH_C0 * splat.sh_dc, 0.0, 1.0)
    rgba[:, 3] = splat.opacities
    return rgba


def display_radii(splat: GaussianSplat, factor: float = 1.0) -> np.ndarray:
    """[N] float32 point radius for display: the geometric mean of the three axis scales (times ``factor``)."""
    return (np.exp(splat.log_scales.astype(np.float64).mean(axis=1)) * factor).astype(np.float32)


def footprint_axes(splat: GaussianSplat) -> tuple[np.ndarray, np.ndarray]:
    """([N, 3], [N, 3]) float32: the Gaussian's two largest principal axes, each times its standard deviation (in
    the file's frame). The display draws the quad ``centre +- u +- v`` (times the point size): the 1-sigma footprint
    of the Gaussian as a splat renderer sees it face on, and edge on it is as thin as the Gaussian."""
    n = len(splat)
    u, v = np.empty((n, 3), np.float32), np.empty((n, 3), np.float32)
    for start in range(0, n, 1 << 18):  # chunks stay in cache
        part = slice(start, start + (1 << 18))
        q = splat.quats[part].astype(np.float32)
        norm = np.sqrt(np.sum(q * q, axis=1, keepdims=True))
        q = np.where(norm > 0, q / np.where(norm > 0, norm, 1), np.array([1, 0, 0, 0], np.float32))
        w, x, y, z = q.T
        axes = np.stack([  # the rotation matrix's columns: the Gaussian's axes
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)], axis=1),
            np.stack([2 * (x * y - w * z), 1 - 2 * (x * x + z * z), 2 * (y * z + w * x)], axis=1),
            np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], axis=1),
        ], axis=1)  # fmt: skip
        log_s = splat.log_scales[part].astype(np.float32)
        order = np.argsort(-log_s, axis=1)  # largest first
        rows = np.arange(len(log_s))
        for out, k in ((u, 0), (v, 1)):
            axis = order[:, k]
            out[part] = axes[rows, axis] * np.exp(log_s[rows, axis])[:, None]
    return u, v


def attributes_to_splat(positions: np.ndarray, attributes: dict[str, np.ndarray], layout: dict) -> GaussianSplat:
    """Rebuild the splat from vertex positions [N, 3] and the stored attribute columns (by stored name)."""
    if int(layout.get("version", 0)) != LAYOUT_VERSION:
        raise ValueError(f"this object was imported by another version of the add-on (layout {layout.get('version')})")
    order = list(layout["property_order"])
    dtypes = layout["dtypes"]
    stored_of = {original: stored for stored, original in layout.get("renamed", {}).items()}
    columns = {}
    for name in order:
        if name in POSITION_NAMES:
            columns[name] = positions[:, POSITION_NAMES.index(name)]
            continue
        stored = stored_of.get(name, name)
        if stored not in attributes:
            raise ValueError(f"the mesh lost the attribute {stored!r} (property {name!r}); it cannot be exported")
        columns[name] = attributes[stored]
    for name in order:
        if np.dtype(dtypes[name]).kind not in "fiu":
            raise ValueError(f"property {name!r} has type {dtypes[name]}, which a splat cannot hold")
    return splat_from_columns(columns, order, dtypes)
