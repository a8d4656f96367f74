"""SuperSplat / PlayCanvas ``.compressed.ply``: decode to a :class:`GaussianSplat` and write one (vectorised numpy).

Layout (checked against playcanvas/splat-transform ``decompress-ply.ts`` / ``compressed-chunk.ts`` and
playcanvas/engine ``gsplat-compressed-data.js`` and the ``compressed.js`` shader chunk):

* element ``chunk`` (one per 256 splats, float32): ``min_/max_{x,y,z}``, ``min_/max_scale_{x,y,z}`` (log
  scales), optionally ``min_/max_{r,g,b}`` (band-0 colour bounds).
* element ``vertex`` (uint32): ``packed_position`` and ``packed_scale`` are 11-10-11 bit unorms (x in the
  top 11 bits) lerped inside the chunk bounds; ``packed_rotation`` is 2 bits for the index of the largest
  component of the (rot_0..rot_3 = w, x, y, z) quaternion, then the other three in order, 10 bits each,
  each stored as ``q * sqrt(2)/2 + 0.5``; ``packed_color`` is RGBA8 (R in the top byte), RGB lerped inside
  the chunk colour bounds when present, alpha = sigmoid(opacity).
* optional element ``sh`` (uint8 ``f_rest_0..f_rest_{n-1}``, n = 9, 24 or 45, INRIA channel-major order),
  written as ``trunc((v / 8 + 0.5) * 256)`` clamped to 0..255; decoded to the bin centre as splat-transform
  does (0 -> -4, 255 -> +4, else ``((b + 0.5) / 256 - 0.5) * 8``).

The writer (:func:`write_compressed_ply`) packs as splat-transform's ``write-compressed-ply.ts`` does: Gaussians
sorted along a Morton curve (so each chunk of 256 is compact and its bounds tight), per-chunk bounds of
position, log scale (clamped to [-20, 20]) and band-0 RGB, unorms rounded to nearest, the quaternion with its
largest component made positive, the last chunk padded (for its bounds) with the last Gaussian.
"""

from __future__ import annotations

import os

import numpy as np

from .atomic_files import atomic_write
from .errors import SplatFileError
from .gaussians import SH_C0, GaussianSplat, sh_degree_for_rest_count

CHUNK_SIZE = 256
CHUNK_REQUIRED = (
    "min_x", "min_y", "min_z", "max_x", "max_y", "max_z",
    "min_scale_x", "min_scale_y", "min_scale_z", "max_scale_x", "max_scale_y", "max_scale_z",
)  # fmt: skip
CHUNK_COLOUR = ("min_r", "min_g", "min_b", "max_r", "max_g", "max_b")
VERTEX_REQUIRED = ("packed_position", "packed_rotation", "packed_scale", "packed_color")
#: Opacity in (0, 1) is clamped to [eps, 1 - eps] before the logit, so alpha bytes 0 and 255 stay finite.
ALPHA_EPS = 1e-6


def unpack_unorm(bits: np.ndarray, shift: int, width: int) -> np.ndarray:
    """[N] float64 in [0, 1] from the ``width``-bit field starting at bit ``shift`` of uint32 ``bits``."""
    mask = (1 << width) - 1
    return ((bits >> np.uint32(shift)) & np.uint32(mask)).astype(np.float64) / mask


def unpack_111011(bits: np.ndarray) -> np.ndarray:
    """[N, 3] float64 in [0, 1]: x = top 11 bits, y = middle 10 bits, z = low 11 bits."""
    return np.stack([unpack_unorm(bits, 21, 11), unpack_unorm(bits, 11, 10), unpack_unorm(bits, 0, 11)], 1)


def unpack_8888(bits: np.ndarray) -> np.ndarray:
    """[N, 4] float64 in [0, 1]: R = top byte ... A = low byte."""
    return np.stack([unpack_unorm(bits, s, 8) for s in (24, 16, 8, 0)], axis=1)


def unpack_rotation(bits: np.ndarray) -> np.ndarray:
    """[N, 4] float64 unit quaternions (w, x, y, z) from the 2-10-10-10 "smallest three" encoding."""
    n = bits.shape[0]
    small = np.stack([unpack_unorm(bits, s, 10) for s in (20, 10, 0)], axis=1)
    small = (small - 0.5) * np.sqrt(2.0)  # [N, 3]
    largest = (bits >> np.uint32(30)).astype(np.int64)  # [N] index 0..3 of the largest component
    out = np.empty((n, 4), np.float64)
    rows = np.arange(n)
    out[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - np.sum(small * small, axis=1)))
    for j in range(3):  # j-th stored component goes to slot j, or j + 1 at and after the largest
        out[rows, j + (j >= largest)] = small[:, j]
    return out


def _lerp(lo: np.ndarray, hi: np.ndarray, t: np.ndarray) -> np.ndarray:
    return lo * (1.0 - t) + hi * t


def splat_from_compressed_ply(ply, path: str | os.PathLike | None) -> GaussianSplat:
    """Decode a parsed ``plyfile.PlyData`` of a ``.compressed.ply``. Raises SplatFileError if malformed."""
    elements = {el.name: el for el in ply.elements}
    for name in ("chunk", "vertex"):
        if name not in elements:
            raise SplatFileError(path, f"not a valid compressed PLY: no '{name}' element (elements: {list(elements)})")
    chunk = elements["chunk"].data
    vertex = elements["vertex"].data
    chunk_names = set(chunk.dtype.names or ())
    vertex_names = set(vertex.dtype.names or ())

    missing = [p for p in CHUNK_REQUIRED if p not in chunk_names]
    if missing:
        raise SplatFileError(path, f"not a valid compressed PLY: the chunk element lacks {', '.join(missing)}")
    colour_present = [p for p in CHUNK_COLOUR if p in chunk_names]
    if colour_present and len(colour_present) != len(CHUNK_COLOUR):
        lacking = [p for p in CHUNK_COLOUR if p not in chunk_names]
        raise SplatFileError(path, f"not a valid compressed PLY: chunk colour bounds lack {', '.join(lacking)}")
    missing = [p for p in VERTEX_REQUIRED if p not in vertex_names]
    if missing:
        raise SplatFileError(path, f"not a valid compressed PLY: the vertex element lacks {', '.join(missing)}")
    for p in VERTEX_REQUIRED:
        if vertex.dtype[p].kind not in "ui" or vertex.dtype[p].itemsize != 4:
            raise SplatFileError(path, f"compressed PLY property {p!r} has type {vertex.dtype[p]}, expected uint")

    n = vertex.shape[0]
    n_chunks = chunk.shape[0]
    if n == 0:
        raise SplatFileError(path, "compressed PLY holds no splats (vertex count is 0)")
    if n_chunks != -(-n // CHUNK_SIZE):
        raise SplatFileError(
            path,
            f"compressed PLY is inconsistent: {n} splats need {-(-n // CHUNK_SIZE)} chunks of "
            f"{CHUNK_SIZE}, the file has {n_chunks}",
        )

    def bounds(prefix: str, axes: tuple[str, str, str]) -> tuple[np.ndarray, np.ndarray]:
        """Per-splat [N, 3] float64 (min, max) of a chunk bound group."""
        lo = np.stack([chunk[f"min_{prefix}{a}"] for a in axes], axis=1).astype(np.float64)
        hi = np.stack([chunk[f"max_{prefix}{a}"] for a in axes], axis=1).astype(np.float64)
        ci = np.arange(n) // CHUNK_SIZE
        return lo[ci], hi[ci]

    def packed(name: str) -> np.ndarray:
        return np.ascontiguousarray(vertex[name]).astype(np.uint32)

    lo, hi = bounds("", ("x", "y", "z"))
    means = _lerp(lo, hi, unpack_111011(packed("packed_position")))
    lo, hi = bounds("scale_", ("x", "y", "z"))
    log_scales = _lerp(lo, hi, unpack_111011(packed("packed_scale")))
    quats = unpack_rotation(packed("packed_rotation"))
    rgba = unpack_8888(packed("packed_color"))
    rgb = rgba[:, :3]
    if colour_present:
        lo, hi = bounds("", ("r", "g", "b"))
        rgb = _lerp(lo, hi, rgb)
    alpha = np.clip(rgba[:, 3], ALPHA_EPS, 1.0 - ALPHA_EPS)

    return GaussianSplat(
        means=means.astype(np.float32),
        quats=quats.astype(np.float32),
        log_scales=log_scales.astype(np.float32),
        opacity_logits=(-np.log(1.0 / alpha - 1.0)).astype(np.float32),
        sh_dc=((rgb - 0.5) / SH_C0).astype(np.float32),
        sh_rest=_decode_sh(elements.get("sh"), n, path),
    )


def _decode_sh(element, n: int, path) -> np.ndarray:
    """[N, K - 1, 3] float32 from the optional uint8 ``sh`` element (zeros [N, 0, 3] when absent)."""
    if element is None:
        return np.zeros((n, 0, 3), np.float32)
    data = element.data
    names = list(data.dtype.names or ())
    if sh_degree_for_rest_count(len(names)) in (None, 0):
        raise SplatFileError(
            path, f"compressed PLY 'sh' element has {len(names)} properties (expected 9, 24 or 45 f_rest_*)"
        )
    expected = [f"f_rest_{i}" for i in range(len(names))]
    if sorted(names) != sorted(expected):
        raise SplatFileError(path, "compressed PLY 'sh' element properties must be named f_rest_0..f_rest_{n-1}")
    if data.shape[0] != n:
        raise SplatFileError(
            path, f"compressed PLY 'sh' element has {data.shape[0]} rows, expected one per splat ({n})"
        )
    if any(data.dtype[name] != np.uint8 for name in expected):
        raise SplatFileError(path, "compressed PLY 'sh' element properties must be uchar (uint8)")
    raw = np.stack([data[name] for name in expected], axis=1)  # [N, 3 * (K - 1)] channel-major
    norm = (raw.astype(np.float64) + 0.5) / 256.0
    norm[raw == 0] = 0.0
    norm[raw == 255] = 1.0
    values = ((norm - 0.5) * 8.0).astype(np.float32)
    k = len(expected) // 3
    return np.ascontiguousarray(values.reshape(n, 3, k).transpose(0, 2, 1))


# --- writing ------------------------------------------------------------------------------------------------------


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """10-bit integers with two zero bits between their bits (for a 30-bit Morton code)."""
    v = v.astype(np.uint32) & np.uint32(0x3FF)
    v = (v | (v << np.uint32(16))) & np.uint32(0x030000FF)
    v = (v | (v << np.uint32(8))) & np.uint32(0x0300F00F)
    v = (v | (v << np.uint32(4))) & np.uint32(0x030C30C3)
    return (v | (v << np.uint32(2))) & np.uint32(0x09249249)


def morton_order(means: np.ndarray) -> np.ndarray:
    """Indices sorting the points along a 3D Morton curve over their bounding box (1024 cells per axis)."""
    lo = means.min(axis=0)
    extent = np.maximum(means.max(axis=0) - lo, 1e-30)
    cell = np.clip((means - lo) / extent * 1023.0, 0, 1023).astype(np.uint32)
    code = (_spread_bits(cell[:, 0]) << np.uint32(2)) | (_spread_bits(cell[:, 1]) << np.uint32(1))
    code |= _spread_bits(cell[:, 2])
    return np.argsort(code, kind="stable")


def pack_unorm(t: np.ndarray, bits: int) -> np.ndarray:
    top = (1 << bits) - 1
    return np.clip(np.floor(t * top + 0.5), 0, top).astype(np.uint32)


def pack_111011(t: np.ndarray) -> np.ndarray:
    """uint32 of [N, 3] values in [0, 1]: x in the top 11 bits, y in the next 10, z in the low 11."""
    return (pack_unorm(t[:, 0], 11) << 21) | (pack_unorm(t[:, 1], 10) << 11) | pack_unorm(t[:, 2], 11)


def pack_8888(t: np.ndarray) -> np.ndarray:
    """uint32 of [N, 4] values in [0, 1], R in the top byte."""
    return (pack_unorm(t[:, 0], 8) << 24) | (pack_unorm(t[:, 1], 8) << 16) | (pack_unorm(t[:, 2], 8) << 8) | \
        pack_unorm(t[:, 3], 8)  # fmt: skip


def pack_rotation(q_wxyz: np.ndarray) -> np.ndarray:
    """uint32 "2-10-10-10" words of w, x, y, z quaternions (normalised here)."""
    q = np.asarray(q_wxyz, np.float64)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(norm > 0, q / np.where(norm > 0, norm, 1.0), np.array([1.0, 0.0, 0.0, 0.0]))
    largest = np.argmax(np.abs(q), axis=1)
    q = np.where((q[np.arange(len(q)), largest] < 0)[:, None], -q, q)
    word = largest.astype(np.uint32)
    for i in range(4):
        take = largest != i
        word = np.where(take, (word << np.uint32(10)) | pack_unorm(q[:, i] * np.sqrt(0.5) + 0.5, 10), word)
    return word


def _chunk_bounds(values: np.ndarray, n_chunks: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-chunk (min, max) [C, 3] of [C * 256, 3] values."""
    chunks = values.reshape(n_chunks, CHUNK_SIZE, 3)
    return chunks.min(axis=1), chunks.max(axis=1)


def _normalised(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """Values in [0, 1] inside their chunk's bounds, splat-transform's ``normalize``: 0 at or below the minimum, 1 at
    or above the maximum, 0 where the chunk's range is below 1e-5."""
    ci = np.arange(n) // CHUNK_SIZE
    lo, hi = lo[ci].astype(np.float64), hi[ci].astype(np.float64)
    span = hi - lo
    t = np.where(span < 1e-5, 0.0, (values - lo) / np.where(span < 1e-5, 1.0, span))
    return np.where(values <= lo, 0.0, np.where(values >= hi, 1.0, t))


def compressed_ply_arrays(splat: GaussianSplat) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(chunk, vertex, sh or None) structured arrays of ``splat`` as a ``.compressed.ply`` (Morton-sorted)."""
    n = len(splat)
    if n == 0:
        raise ValueError("a .compressed.ply needs at least one Gaussian")
    order = morton_order(splat.means)
    n_chunks = -(-n // CHUNK_SIZE)
    padded = np.concatenate([order, np.full(n_chunks * CHUNK_SIZE - n, order[-1])])
    groups = {  # float32 values, as the reference holds them
        "position": splat.means[padded].astype(np.float32).astype(np.float64),
        "scale": splat.log_scales[padded].astype(np.float32).astype(np.float64),
        "colour": (splat.sh_dc[padded].astype(np.float64) * SH_C0 + 0.5).astype(np.float32).astype(np.float64),
    }
    names = CHUNK_REQUIRED + CHUNK_COLOUR
    chunk_values = np.empty((n_chunks, len(names)), np.float32)  # fields side by side: viewed as the element
    packed = {}
    for key, axes in (("position", ("x", "y", "z")), ("scale", ("scale_x", "scale_y", "scale_z")),
                      ("colour", ("r", "g", "b"))):  # fmt: skip
        lo, hi = _chunk_bounds(groups[key], n_chunks)
        if key == "scale":  # "clamp scale because sometimes values are at infinity"
            lo, hi = np.clip(lo, -20.0, 20.0), np.clip(hi, -20.0, 20.0)
        lo, hi = lo.astype(np.float32), hi.astype(np.float32)
        for i, axis in enumerate(axes):
            chunk_values[:, names.index(f"min_{axis}")] = lo[:, i]
            chunk_values[:, names.index(f"max_{axis}")] = hi[:, i]
        packed[key] = _normalised(groups[key][:n], lo, hi, n)
    pos, scl, rgb = packed["position"], packed["scale"], packed["colour"]
    alpha = 1.0 / (1.0 + np.exp(-splat.opacity_logits[order].astype(np.float64)))
    words = np.empty((n, 4), "<u4")  # packed_position, packed_rotation, packed_scale, packed_color
    words[:, 0] = pack_111011(pos)
    words[:, 1] = pack_rotation(splat.quats[order])
    words[:, 2] = pack_111011(scl)
    words[:, 3] = pack_8888(np.concatenate([rgb, alpha[:, None]], axis=1))
    chunk = chunk_values.view([(name, "<f4") for name in names]).reshape(n_chunks)
    vertex = words.view([(name, "<u4") for name in VERTEX_REQUIRED]).reshape(n)
    sh = None
    k = splat.sh_rest.shape[1]
    if k:
        raw = np.empty((n, 3 * k), np.uint8)  # channel-major, as the file stores f_rest_*
        for start in range(0, n, 1 << 16):  # bounded float64 temporaries
            rest = splat.sh_rest[order[start : start + (1 << 16)]].transpose(0, 2, 1).reshape(-1, 3 * k)
            raw[start : start + (1 << 16)] = np.clip(np.trunc((rest.astype(np.float64) / 8.0 + 0.5) * 256.0), 0, 255)
        sh = raw.view([(f"f_rest_{i}", "u1") for i in range(3 * k)]).reshape(n)
    return chunk, vertex, sh


def write_compressed_ply(path: str | os.PathLike, splat: GaussianSplat, *, overwrite: bool = True) -> None:
    """Write ``splat`` as a SuperSplat ``.compressed.ply`` atomically (quantised; Morton order; no extras)."""
    from plyfile import PlyData, PlyElement

    path = os.fspath(path)
    try:
        chunk, vertex, sh = compressed_ply_arrays(splat)
    except ValueError as exc:
        raise SplatFileError(path, str(exc)) from exc
    elements = [PlyElement.describe(chunk, "chunk"), PlyElement.describe(vertex, "vertex")]
    if sh is not None:
        elements.append(PlyElement.describe(sh, "sh"))
    with atomic_write(path, overwrite=overwrite) as fh:
        PlyData(elements, text=False, byte_order="<", comments=["Generated by saga-blender"]).write(fh)
