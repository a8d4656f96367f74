"""INRIA 3DGS ``.ply`` (the reference trainer's layout): read binary or ASCII, write binary.

Properties: ``x y z [nx ny nz] f_dc_0..2 f_rest_* opacity scale_0..2 rot_0..3``; any other vertex
property is kept in :attr:`GaussianSplat.extras` and written back unchanged, in its original place.
"""

from __future__ import annotations

import os

import numpy as np

from .array_blocks import stack_columns
from .atomic_files import atomic_write
from .errors import SplatFileError
from .gaussians import GaussianSplat, sh_degree_for_rest_count

REQUIRED = (
    "x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
    "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
)  # fmt: skip
NORMALS = ("nx", "ny", "nz")


def is_inria_vertex(names: set[str]) -> bool:
    return all(name in names for name in REQUIRED)


def splat_from_vertex_array(data: np.ndarray, path: str | os.PathLike | None) -> GaussianSplat:
    """Build a splat from the structured ``vertex`` array of an INRIA ply (no copy of extras' dtype)."""
    names = list(data.dtype.names or ())
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise SplatFileError(
            path,
            "not a Gaussian splat: the vertex element lacks "
            + ", ".join(missing)
            + " (an INRIA 3DGS .ply needs x, y, z, f_dc_*, opacity, scale_*, rot_*)",
        )
    rest_names = [n for n in names if n.startswith("f_rest_")]
    degree = sh_degree_for_rest_count(len(rest_names))
    expected_rest = [f"f_rest_{i}" for i in range(len(rest_names))]
    if degree is None or sorted(rest_names, key=_rest_index) != expected_rest:
        raise SplatFileError(
            path,
            f"wrong spherical-harmonic count: {len(rest_names)} f_rest_* properties "
            "(expected 0, 9, 24 or 45 named f_rest_0..f_rest_{n-1})",
        )

    matrix = _float32_matrix(data)  # fast path: every property little-endian float32, packed in order
    position = {name: i for i, name in enumerate(names)}

    def col(name: str) -> np.ndarray:
        column = data[name]
        if not np.issubdtype(column.dtype, np.floating):
            raise SplatFileError(path, f"property {name!r} has type {column.dtype}, expected float")
        return np.asarray(column, dtype=np.float32)

    def stack(keys) -> np.ndarray:
        if matrix is not None:
            cols = [position[k] for k in keys]
            if cols == list(range(cols[0], cols[0] + len(cols))):  # the usual layout: a slice, no gather
                return np.ascontiguousarray(matrix[:, cols[0] : cols[0] + len(cols)])
            return np.ascontiguousarray(matrix[:, cols])
        return np.stack([col(k) for k in keys], axis=1)

    n = data.shape[0]
    n_rest = len(rest_names) // 3
    if n_rest:
        rest = stack(expected_rest).reshape(n, 3, n_rest).transpose(0, 2, 1)  # channel-major -> [N,K-1,3]
        rest = np.ascontiguousarray(rest)
    else:
        rest = np.zeros((n, 0, 3), np.float32)
    known = set(REQUIRED) | set(rest_names)
    has_normals = all(k in names for k in NORMALS)
    if has_normals:
        known |= set(NORMALS)
    extras = {name: np.ascontiguousarray(data[name]) for name in names if name not in known}
    order = tuple(names) if has_normals else None
    return GaussianSplat(
        means=stack("xyz"),
        quats=stack(["rot_0", "rot_1", "rot_2", "rot_3"]),
        log_scales=stack(["scale_0", "scale_1", "scale_2"]),
        opacity_logits=col("opacity"),
        sh_dc=stack(["f_dc_0", "f_dc_1", "f_dc_2"]),
        sh_rest=rest,
        normals=stack(NORMALS) if has_normals else None,
        extras=extras,
        property_order=order,
    )


def splat_from_columns(columns: dict[str, np.ndarray], order: list[str], dtypes: dict[str, str]) -> GaussianSplat:
    """The splat of named 1-D columns (property name -> values) in the property ``order`` with their ``dtypes``:
    what :func:`splat_from_vertex_array` gives for a vertex array of those columns, without building that array
    (a structured array of 62 float fields is written one strided field at a time: seconds at 1M Gaussians)."""
    names = list(order)
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise SplatFileError(None, "not a Gaussian splat: it lacks " + ", ".join(missing))
    rest_names = [name for name in names if name.startswith("f_rest_")]
    expected_rest = [f"f_rest_{i}" for i in range(len(rest_names))]
    if sh_degree_for_rest_count(len(rest_names)) is None or sorted(rest_names, key=_rest_index) != expected_rest:
        raise SplatFileError(None, f"wrong spherical-harmonic count: {len(rest_names)} f_rest_* properties")

    def col(name: str) -> np.ndarray:
        return np.asarray(columns[name]).astype(dtypes[name], copy=False)

    def stack(keys) -> np.ndarray:
        return stack_columns([col(k) for k in keys])

    n = len(columns[names[0]])
    k = len(rest_names) // 3
    rest = stack(expected_rest).reshape(n, 3, k).transpose(0, 2, 1) if k else np.zeros((n, 0, 3), np.float32)
    known = set(REQUIRED) | set(rest_names)
    has_normals = all(name in names for name in NORMALS)
    if has_normals:
        known |= set(NORMALS)
    return GaussianSplat(
        means=stack("xyz"),
        quats=stack(["rot_0", "rot_1", "rot_2", "rot_3"]),
        log_scales=stack(["scale_0", "scale_1", "scale_2"]),
        opacity_logits=col("opacity").astype(np.float32, copy=False),
        sh_dc=stack(["f_dc_0", "f_dc_1", "f_dc_2"]),
        sh_rest=np.ascontiguousarray(rest),
        normals=stack(NORMALS) if has_normals else None,
        extras={name: np.ascontiguousarray(col(name)) for name in names if name not in known},
        property_order=tuple(names) if has_normals else None,
    )


def _float32_matrix(data: np.ndarray) -> np.ndarray | None:
    """[N, F] float32 view of a structured array whose F fields are packed little-endian float32 in
    order, or None. Taking columns from it is one pass over memory instead of one pass per column."""
    dtype = data.dtype
    fields = [dtype.fields[name] for name in dtype.names or ()]
    packed = all(ft == np.dtype("<f4") and offset == 4 * i for i, (ft, offset, *_) in enumerate(fields))
    if not fields or not packed or dtype.itemsize != 4 * len(fields) or not data.flags.c_contiguous:
        return None
    return data.view(np.float32).reshape(len(data), len(fields))


def _rest_index(name: str) -> int:
    try:
        return int(name.rsplit("_", 1)[1])
    except ValueError:
        return -1


def write_inria_ply(path: str | os.PathLike, splat: GaussianSplat, *, overwrite: bool = True) -> None:
    """Write a binary little-endian INRIA ``.ply`` atomically (``atomic_files``)."""
    from plyfile import PlyData, PlyElement

    columns = splat.columns()
    dtype = [(name, col.dtype.newbyteorder("<").str) for name, col in columns.items()]
    if all(col.dtype == np.float32 for col in columns.values()):  # the usual case: one matrix, filled blockwise
        data = stack_columns(list(columns.values())).view(dtype).reshape(len(splat))
    else:
        data = np.empty(len(splat), dtype=dtype)
        for name, col in columns.items():
            data[name] = col
    element = PlyElement.describe(data, "vertex")
    with atomic_write(path, overwrite=overwrite) as fh:
        PlyData([element], text=False, byte_order="<").write(fh)
