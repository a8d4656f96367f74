"""Niantic ``.spz``: read and write versions 2 and 3 (gzip) and 4 (zstd), vectorised numpy.

Layout (checked against nianticlabs/spz ``load-spz.cc`` as documented in ``@adobe/spz`` 0.2.3, and against the
pure-JS reader of ``@playcanvas/splat-transform`` 3.7.0, ``read-spz.ts``):

* versions 2 and 3: one gzip stream holding a 16-byte header (magic ``NGSP``, version, point count, SH degree,
  fractional bits, flags, reserved) then the attribute blocks one after the other: positions, alphas, colours,
  scales, rotations, SH. (A file that is not gzipped but starts with the header is read too, as splat-transform
  does.)
* version 4: a plain 32-byte header (the same fields, then the stream count, the table-of-contents offset and 12
  reserved bytes), optional extension records up to the table of contents, the table (per stream: compressed
  and uncompressed size, u64 each), then one zstd stream per attribute block, in the same order.

Attribute encodings (per Gaussian):

* position: 3 x signed 24-bit fixed point, ``round(x * 2^fractional_bits)``; we write 12 fractional bits (as
  the reference, 1/4096 units) unless the scene does not fit in 24 bits, then fewer;
* alpha: ``round(sigmoid(opacity) * 255)``; colour: ``round(f_dc * 0.15 * 255 + 127.5)`` (the SH band-0
  coefficient, not the RGB value); scale: ``round((log_scale + 10) * 16)``; each clamped to a byte;
* rotation: version 3 and 4 "smallest three" (2-bit index of the largest |component| of the x, y, z, w
  quaternion, then the other three as sign + 9-bit magnitude of ``|q| / sqrt(1/2)``, first component in the
  highest bits); version 2: 3 bytes ``x, y, z`` of the quaternion with w >= 0, as ``round(q * 127.5 + 127.5)``;
* SH: coefficient-major, colour-inner bytes ``round(v * 128) + 128``, rounded to buckets of 8 (band 1) or 16
  (bands 2, 3) on writing, as the reference does (5 and 4 significant bits); decoded as ``(b - 128) / 128``.

Coordinates are read and written as stored (no axis conversion): that is what splat-transform and SuperSplat
do, so files they write come in where they were. Niantic's own tools store "right, up, back" axes; such a
file comes in with y and z negated, which the import's up-axis choice (Y) puts upright. Extension records and
the antialiasing flag are skipped on reading.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .atomic_files import atomic_write
from .errors import SplatFileError
from .gaussians import GaussianSplat

MAGIC = 0x5053474E  # "NGSP" little-endian
HEADER_V3 = struct.Struct("<IIIBBBB")  # magic, version, count, sh degree, fractional bits, flags, reserved
HEADER_V4 = struct.Struct("<IIIBBBBI12x")  # ... flags, stream count, table-of-contents offset, reserved
TOC_ENTRY = struct.Struct("<QQ")
COLOR_SCALE = 0.15
SH_COUNT = {0: 0, 1: 9, 2: 24, 3: 45, 4: 72}  # SH bytes per Gaussian by degree
DEFAULT_FRACTIONAL_BITS = 12
#: Opacity is clamped to [eps, 1 - eps] before the logit (bytes 0 and 255 stay finite), as splat-transform does.
ALPHA_EPS = 1e-6
WRITE_VERSIONS = (2, 3, 4)
GZIP_LEVEL = 2  # the reference uses zlib's 6: 2 writes ~4.5x faster a file 8-11% larger (version 4: both better)
ZSTD_LEVEL = 3
GZIP_SEGMENT = 4 << 20  # bytes compressed per thread (independent deflate segments, as pigz)
CHUNK = 1 << 20  # values quantised per pass


@dataclass
class SpzHeader:
    version: int
    count: int
    sh_degree: int
    fractional_bits: int
    flags: int


def _zstd(path, what: str):
    try:
        import zstandard
    except ImportError as exc:
        raise SplatFileError(path, f"{what} .spz version 4 needs the 'zstandard' package (pip install zstandard; "
                                   "Blender ships it), or use version 3") from exc  # fmt: skip
    return zstandard


# --- reading ------------------------------------------------------------------------------------------------------


def read_spz(path: str | os.PathLike) -> GaussianSplat:
    """Read a ``.spz`` file (versions 2, 3, 4). Raises SplatFileError naming the file and the problem."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise SplatFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise SplatFileError(path, f"truncated or damaged .spz (gzip: {exc})") from exc
    header, blocks = parse_spz(raw, path)
    return decode_blocks(header, blocks, path)


def parse_spz(raw: bytes, path=None) -> tuple[SpzHeader, list[bytes]]:
    """(header, [positions, alphas, colours, scales, rotations, sh] raw bytes) of a decompressed-or-v4 buffer."""
    if len(raw) < HEADER_V3.size:
        raise SplatFileError(path, f"not a .spz file: {len(raw)} bytes is shorter than its header")
    magic, version, count, degree, frac, flags, _ = HEADER_V3.unpack_from(raw)
    if magic != MAGIC:
        raise SplatFileError(path, "not a .spz file (no NGSP header, not gzip)")
    if version < 2 or version > 4:
        raise SplatFileError(path, f".spz version {version} is not supported (versions 2, 3 and 4 are)")
    if degree not in SH_COUNT:
        raise SplatFileError(path, f".spz SH degree {degree} is invalid (0 to 4)")
    if degree == 4:
        raise SplatFileError(path, ".spz SH degree 4 is not supported (bands up to 3, as 3DGS and splat-transform)")
    if frac > 23:
        raise SplatFileError(path, f".spz has {frac} fractional bits for 24-bit positions")
    header = SpzHeader(version, count, degree, frac, flags)
    sizes = block_sizes(header)
    if version < 4:
        need = HEADER_V3.size + sum(sizes)
        if len(raw) < need:
            raise SplatFileError(path, f"truncated .spz: {count:,} Gaussians need {need:,} bytes, it holds "
                                       f"{len(raw):,}")  # fmt: skip
        blocks, at = [], HEADER_V3.size
        for size in sizes:
            blocks.append(raw[at : at + size])
            at += size
        return header, blocks
    return header, _v4_blocks(raw, header, sizes, path)


def block_sizes(h: SpzHeader) -> list[int]:
    n = h.count
    sizes = [9 * n, n, 3 * n, 3 * n, (3 if h.version == 2 else 4) * n]
    if h.sh_degree:
        sizes.append(SH_COUNT[h.sh_degree] * n)
    return sizes


def _v4_blocks(raw: bytes, header: SpzHeader, sizes: list[int], path) -> list[bytes]:
    if len(raw) < HEADER_V4.size:
        raise SplatFileError(path, "truncated .spz version 4 header")
    *_, streams, toc_at = HEADER_V4.unpack_from(raw)
    if streams != len(sizes):
        raise SplatFileError(path, f".spz holds {streams} streams; SH degree {header.sh_degree} needs {len(sizes)}")
    data_at = toc_at + streams * TOC_ENTRY.size
    if toc_at < HEADER_V4.size or data_at > len(raw):
        raise SplatFileError(path, "damaged .spz: its table of contents lies outside the file")
    zstandard = _zstd(path, "reading")
    blocks = []
    for i, size in enumerate(sizes):
        packed, unpacked = TOC_ENTRY.unpack_from(raw, toc_at + i * TOC_ENTRY.size)
        if unpacked != size:
            raise SplatFileError(path, f"damaged .spz: stream {i} holds {unpacked} bytes, expected {size}")
        if data_at + packed > len(raw):
            raise SplatFileError(path, f"truncated .spz: stream {i} ends past the end of the file")
        try:
            block = zstandard.ZstdDecompressor().decompress(raw[data_at : data_at + packed], max_output_size=size)
        except zstandard.ZstdError as exc:
            raise SplatFileError(path, f"damaged .spz: stream {i} ({exc})") from exc
        if len(block) != size:
            raise SplatFileError(path, f"damaged .spz: stream {i} decompressed to {len(block)} bytes, expected {size}")
        blocks.append(block)
        data_at += packed
    return blocks


def decode_blocks(h: SpzHeader, blocks: list[bytes], path=None) -> GaussianSplat:
    n = h.count
    if n == 0:
        raise SplatFileError(path, ".spz holds no Gaussians")
    pos = np.frombuffer(blocks[0], np.uint8).reshape(n, 3, 3).astype(np.int32)
    fixed = pos[..., 0] | (pos[..., 1] << 8) | (pos[..., 2] << 16)
    fixed = np.where(fixed & 0x800000, fixed - (1 << 24), fixed)
    means = (fixed.astype(np.float64) / (1 << h.fractional_bits)).astype(np.float32)
    alpha = np.clip(np.frombuffer(blocks[1], np.uint8).astype(np.float64) / 255.0, ALPHA_EPS, 1 - ALPHA_EPS)
    colors = np.frombuffer(blocks[2], np.uint8).reshape(n, 3).astype(np.float64)
    scales = np.frombuffer(blocks[3], np.uint8).reshape(n, 3).astype(np.float64)
    if h.version == 2:
        quats = _rotations_v2(np.frombuffer(blocks[4], np.uint8).reshape(n, 3))
    else:
        quats = unpack_smallest_three(np.frombuffer(blocks[4], "<u4"))
    if h.sh_degree:
        k = SH_COUNT[h.sh_degree] // 3
        sh = np.frombuffer(blocks[5], np.uint8).reshape(n, k, 3).astype(np.float32)
        sh_rest = (sh - 128.0) / 128.0
    else:
        sh_rest = np.zeros((n, 0, 3), np.float32)
    return GaussianSplat(
        means=means,
        quats=quats.astype(np.float32),
        log_scales=(scales / 16.0 - 10.0).astype(np.float32),
        opacity_logits=np.log(alpha / (1.0 - alpha)).astype(np.float32),
        sh_dc=((colors / 255.0 - 0.5) / COLOR_SCALE).astype(np.float32),
        sh_rest=np.ascontiguousarray(sh_rest, np.float32),
    )


def _rotations_v2(b: np.ndarray) -> np.ndarray:
    xyz = b.astype(np.float64) / 127.5 - 1.0
    w = np.sqrt(np.maximum(0.0, 1.0 - np.sum(xyz * xyz, axis=1)))
    return np.concatenate([w[:, None], xyz], axis=1)


def unpack_smallest_three(words: np.ndarray) -> np.ndarray:
    """[N, 4] float64 w, x, y, z from the version 3/4 words (components indexed x, y, z, w inside the word)."""
    words = words.astype(np.uint32)
    n = len(words)
    largest = (words >> np.uint32(30)).astype(np.int64)
    xyzw = np.zeros((n, 4), np.float64)
    rows = np.arange(n)
    bits = words.copy()
    total = np.zeros(n, np.float64)
    for j in (3, 2, 1, 0):  # the last stored component sits in the lowest bits
        take = largest != j
        mag = (bits & np.uint32(511)).astype(np.float64) / 511.0 * np.sqrt(0.5)
        value = np.where((bits >> np.uint32(9)) & np.uint32(1), -mag, mag)
        xyzw[take, j] = value[take]
        total += np.where(take, value * value, 0.0)
        bits = np.where(take, bits >> np.uint32(10), bits)
    xyzw[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - total))
    return xyzw[:, [3, 0, 1, 2]]


# --- writing ------------------------------------------------------------------------------------------------------


def fractional_bits_for(means: np.ndarray) -> int:
    """12 (the reference's 1/4096 units) unless the largest coordinate does not fit 24 signed bits, then fewer."""
    reach = float(np.max(np.abs(means))) if len(means) else 0.0
    bits = DEFAULT_FRACTIONAL_BITS
    while bits > 0 and round(reach * (1 << bits)) > (1 << 23) - 1:
        bits -= 1
    if round(reach * (1 << bits)) > (1 << 23) - 1:
        raise ValueError(f"coordinates up to {reach:g} do not fit .spz's 24-bit positions")
    return bits


def round_away(values: np.ndarray) -> np.ndarray:
    """C's ``round``: halves away from zero (numpy's ``rint`` rounds them to even)."""
    return np.trunc(values.astype(np.float64) + np.copysign(0.5, values))


def _bytes(values: np.ndarray) -> np.ndarray:
    return np.clip(round_away(values), 0, 255).astype(np.uint8)


F32 = np.float32


def unit_xyzw(quats_wxyz: np.ndarray) -> np.ndarray:
    """[N, 4] float32 x, y, z, w normalised as the reference does (float32 division; zero -> identity)."""
    q = np.ascontiguousarray(np.asarray(quats_wxyz, F32)[:, [1, 2, 3, 0]])
    norm = np.sqrt(np.sum(q * q, axis=1, dtype=F32))[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, q / norm, np.array([0.0, 0.0, 0.0, 1.0], F32)).astype(F32)


def pack_smallest_three(q_wxyz: np.ndarray) -> np.ndarray:
    """uint32 words of w, x, y, z quaternions [N, 4], the reference's version 3/4 packing (float32 arithmetic)."""
    q = unit_xyzw(q_wxyz)
    largest = np.argmax(np.abs(q), axis=1)
    q = np.where((q[np.arange(len(q)), largest] < 0)[:, None], -q, q)
    word = largest.astype(np.uint32)
    for i in range(4):
        take = largest != i
        neg = (q[:, i] < 0).astype(np.uint32)
        mag = (F32(511.0) * (np.abs(q[:, i]) / F32(np.sqrt(0.5))) + F32(0.5)).astype(np.uint32)
        word = np.where(take, (word << np.uint32(10)) | (neg << np.uint32(9)) | np.minimum(mag, 511), word)
    return word.astype("<u4")


def quantize_sh(rest: np.ndarray) -> np.ndarray:
    """SH bytes of ``rest`` [N, K-1, 3]: ``round(v * 128) + 128`` rounded to a multiple of 8 for band 1 (5 bits) and
    of 16 for bands 2-3 (4 bits), as the reference packs them. Rows in chunks that stay in cache, on every core
    (numpy releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    n, k, _ = rest.shape
    flat_in = np.ascontiguousarray(rest, F32).reshape(n, 3 * k)  # coefficient-major, colour-inner: the file order
    out = np.empty((n, 3 * k), np.uint8)
    bucket = np.where(np.arange(3 * k) < 9, 8, 16).astype(np.int32)  # the first 3 coefficients are band 1
    rows = max(1, CHUNK // (3 * k))

    def one(start: int) -> None:
        y = flat_in[start : start + rows].astype(np.float64) * 128.0  # exact, as the reference's float32 product
        r = np.clip(np.trunc(y + np.copysign(0.5, y)), -144.0, 143.0).astype(np.int32)
        q = (r + 128 + bucket // 2) // bucket * bucket
        out[start : start + rows] = np.clip(q, 0, 255)

    starts = range(0, n, rows)
    if len(starts) > 1:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(one, starts))
    else:
        for start in starts:
            one(start)
    return out


def encode_blocks(splat: GaussianSplat, version: int) -> tuple[SpzHeader, list[bytes]]:
    """The header and raw attribute blocks of ``splat`` (values quantised as the reference does)."""
    if version not in (2, 3, 4):
        raise ValueError(f".spz version {version}: this writer writes 2, 3 or 4")
    n = len(splat)
    frac = fractional_bits_for(splat.means)
    # float32 arithmetic and C rounding, as the reference encoder computes (its bytes come out the same)
    fixed = round_away(splat.means.astype(F32) * F32(1 << frac)).astype(np.int32)
    pos = np.stack([fixed & 0xFF, (fixed >> 8) & 0xFF, (fixed >> 16) & 0xFF], axis=-1).astype(np.uint8)
    with np.errstate(over="ignore"):
        opacity = F32(1.0) / (F32(1.0) + np.exp(-splat.opacity_logits.astype(F32)))
    blocks = [
        pos.tobytes(),
        _bytes(opacity * F32(255.0)).tobytes(),
        _bytes(splat.sh_dc.astype(F32) * F32(COLOR_SCALE * 255.0) + F32(127.5)).tobytes(),
        _bytes((splat.log_scales.astype(F32) + F32(10.0)) * F32(16.0)).tobytes(),
    ]
    if version == 2:
        q = unit_xyzw(splat.quats)
        q = q * np.where(q[:, 3:] < 0, F32(-127.5), F32(127.5)) + F32(127.5)
        blocks.append(_bytes(q[:, :3]).tobytes())
    else:
        blocks.append(pack_smallest_three(splat.quats).tobytes())
    degree = splat.sh_degree
    if degree:
        blocks.append(quantize_sh(splat.sh_rest).tobytes())  # [N, K-1, 3] is the .spz order already
    return SpzHeader(version, n, degree, frac, 0), blocks


def spz_bytes(splat: GaussianSplat, version: int = 3, path=None) -> bytes:
    """The whole ``.spz`` file of ``splat``, version 2 or 3 (gzip) or 4 (zstd)."""
    header, blocks = encode_blocks(splat, version)
    if version < 4:
        head = HEADER_V3.pack(MAGIC, version, header.count, header.sh_degree, header.fractional_bits, 0, 0)
        return gzip_parallel(head + b"".join(blocks))
    zstandard = _zstd(path, "writing")
    packed = _compress_streams(zstandard, blocks)
    head = HEADER_V4.pack(MAGIC, 4, header.count, header.sh_degree, header.fractional_bits, 0, len(blocks),
                          HEADER_V4.size)  # fmt: skip
    toc = b"".join(TOC_ENTRY.pack(len(p), len(b)) for p, b in zip(packed, blocks, strict=True))
    return head + toc + b"".join(packed)


def gzip_parallel(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    """One gzip member of ``data``, deflated in independent segments on every core (pigz's method): each
    segment but the last ends with a sync flush, so their concatenation is a single valid deflate stream that
    any gzip reader (the reference's ``inflate`` included) decodes in one pass."""
    from concurrent.futures import ThreadPoolExecutor

    view = memoryview(data)
    segments = [view[i : i + GZIP_SEGMENT] for i in range(0, len(data), GZIP_SEGMENT)] or [view]

    def deflate(item) -> bytes:
        index, segment = item
        c = zlib.compressobj(level, zlib.DEFLATED, -15)
        last = index == len(segments) - 1
        return c.compress(segment) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        body = b"".join(pool.map(deflate, enumerate(segments)))
    crc = 0
    for segment in segments:
        crc = zlib.crc32(segment, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no time, unknown OS
    return header + body + struct.pack("<II", crc & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)


def _compress_streams(zstandard, blocks: list[bytes]) -> list[bytes]:
    """zstd of each block, in parallel threads (zstandard releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(block: bytes) -> bytes:
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True).compress(block)

    with ThreadPoolExecutor(max_workers=min(len(blocks), os.cpu_count() or 1)) as pool:
        return list(pool.map(one, blocks))


def write_spz(path: str | os.PathLike, splat: GaussianSplat, version: int = 3, *, overwrite: bool = True) -> None:
    """Write ``splat`` as ``.spz`` atomically. Quantises (see the module docstring); extras and normals are not
    stored. Version 3 (gzip) is the one every reader knows; 4 (zstd) is smaller and faster; 2 only for the oldest
    readers (8-bit quaternions)."""
    path = os.fspath(path)
    if version not in WRITE_VERSIONS:
        raise SplatFileError(path, f"can write .spz versions {WRITE_VERSIONS}, not {version}")
    try:
        data = spz_bytes(splat, version, path)
    except ValueError as exc:
        raise SplatFileError(path, str(exc)) from exc
    with atomic_write(path, overwrite=overwrite) as fh:
        fh.write(data)
