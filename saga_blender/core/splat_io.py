"""Read any supported splat file, write one by its extension: the one entry point for formats.

Read: INRIA 3DGS ``.ply`` (binary or ASCII), SuperSplat ``.compressed.ply``, antimatter15 ``.splat``, Niantic
``.spz`` (versions 2-4), PlayCanvas ``.sog`` (or its unbundled ``meta.json``). Write (:func:`write_splat`, by
the output's extension): ``.ply`` (INRIA, every property kept), ``.compressed.ply``, ``.splat``, ``.spz``.
Every failure raises :class:`SplatFileError` naming the file and the problem; NaN/inf values raise
:class:`NonFiniteValuesError` unless ``sanitize=True``, which drops those Gaussians and says so in the returned
:class:`ReadResult`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .errors import NonFiniteValuesError, SplatFileError
from .finite_check import FiniteReport, check_finite
from .finite_check import sanitize as drop_non_finite
from .gaussians import GaussianSplat
from .ply_inria import splat_from_vertex_array, write_inria_ply

FORMAT_INRIA = "inria-ply"
FORMAT_COMPRESSED = "supersplat-compressed-ply"
FORMAT_ANTIMATTER = "antimatter15-splat"
FORMAT_SPZ = "niantic-spz"
FORMAT_SOG = "playcanvas-sog"
SUPPORTED_SUFFIXES = (".ply", ".splat", ".spz", ".sog", "meta.json")
#: What :func:`write_splat` writes, by the output's extension (longest first): (format, description).
WRITE_FORMATS = {
    ".compressed.ply": (FORMAT_COMPRESSED, "SuperSplat .compressed.ply"),
    ".ply": (FORMAT_INRIA, "INRIA .ply"),
    ".splat": (FORMAT_ANTIMATTER, "antimatter15 .splat"),
    ".spz": (FORMAT_SPZ, "Niantic .spz"),
}


@dataclass
class ReadResult:
    splat: GaussianSplat
    format: str
    finite_report: FiniteReport
    #: What sanitising changed ("" when nothing was changed).
    sanitized: str = ""
    #: Header encoding of a ply ("binary_little_endian", "ascii", ...), "" otherwise.
    encoding: str = ""


def detect_format(path: str | os.PathLike) -> str:
    """The format of a file by its header (ply) or suffix (.splat, .spz, .sog, meta.json)."""
    path = os.fspath(path)
    lower = path.lower()
    if lower.endswith(".splat"):
        return FORMAT_ANTIMATTER
    if lower.endswith(".spz"):
        return FORMAT_SPZ
    if lower.endswith((".sog", "meta.json")):
        return FORMAT_SOG
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if not head.startswith(b"ply"):
        raise SplatFileError(path, "not a PLY file (it does not start with 'ply') and not a .splat file")
    end = head.find(b"end_header")
    if end < 0:
        raise SplatFileError(path, "malformed PLY header: no 'end_header' in the first 64 KiB")
    header = head[:end].decode("ascii", errors="replace")
    if "element chunk" in header and "packed_position" in header:
        return FORMAT_COMPRESSED
    return FORMAT_INRIA


def read_splat(path: str | os.PathLike, *, sanitize: bool = False, decode_webp=None) -> ReadResult:
    """Read a splat file of any supported format. ``decode_webp`` (``bytes -> uint8 [H, W, 4]``) decodes SOG
    textures (default: Pillow).

    Raises SplatFileError (missing, truncated, malformed, unsupported) or NonFiniteValuesError.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SplatFileError(path, "file not found")
    if os.path.isdir(path):
        raise SplatFileError(path, "is a folder, not a splat file")
    if not os.path.isfile(path):  # a pipe or a device would block the reader forever
        raise SplatFileError(path, "is not a regular file (a pipe, socket or device); give a splat file")
    if not path.lower().endswith(SUPPORTED_SUFFIXES):
        raise SplatFileError(path, "unsupported file type (expected .ply, .compressed.ply, .splat, .spz or .sog)")
    fmt = detect_format(path)
    encoding = ""
    if fmt == FORMAT_ANTIMATTER:
        from .splat_antimatter import read_antimatter_splat

        splat = read_antimatter_splat(path)
    elif fmt == FORMAT_SPZ:
        from .spz import read_spz

        splat = read_spz(path)
    elif fmt == FORMAT_SOG:
        from .sog import read_sog

        try:
            splat = read_sog(path, decode_webp)
        except RuntimeError as exc:  # no WebP decoder here
            raise SplatFileError(path, str(exc)) from exc
    else:
        ply = _read_ply(path)
        if ply.text:
            encoding = "ascii"
        else:
            encoding = {"<": "binary_little_endian", ">": "binary_big_endian"}.get(ply.byte_order, ply.byte_order)
        if fmt == FORMAT_COMPRESSED:
            from .ply_compressed import splat_from_compressed_ply

            splat = splat_from_compressed_ply(ply, path)
        else:
            names = [el.name for el in ply.elements]
            if "vertex" not in names:
                raise SplatFileError(path, f"not a Gaussian splat: no 'vertex' element (elements: {names})")
            splat = splat_from_vertex_array(ply["vertex"].data, path)
    report, _ = check_finite(splat)
    message = ""
    if not report.ok:
        if not sanitize:
            raise NonFiniteValuesError(path, report)
        splat, report, message = drop_non_finite(splat)
    return ReadResult(splat, fmt, report, message, encoding)


def _read_ply(path: str):
    from plyfile import PlyData

    try:
        # plyfile's mmap=False path parses binary data row by row in Python (minutes for 1M splats);
        # its mmap path is vectorised and checks the size (a truncated file fails here). Copy the
        # data out of the map so that no file stays mapped (Windows could not replace it).
        with open(path, "rb") as fh:
            ply = PlyData.read(fh, mmap="c")
        for element in ply.elements:
            if isinstance(element.data, np.memmap):
                element.data = np.array(element.data)
        _check_no_undeclared_data(path, ply)
        return ply
    except SplatFileError:
        raise
    except MemoryError as exc:
        raise SplatFileError(path, "not enough memory to read the file") from exc
    except Exception as exc:  # plyfile raises several types for bad files
        reason = str(exc) or type(exc).__name__
        if "early end-of-file" in reason or "end-of-file" in reason.lower():
            reason = f"truncated file ({reason})"
        raise SplatFileError(path, f"malformed or truncated PLY: {reason}") from exc


def _check_no_undeclared_data(path: str, ply) -> None:
    """Refuse a file whose body holds more rows than its header declares (plyfile reads the declared count and
    ignores the rest: a wrong count would silently drop Gaussians)."""
    if any(hasattr(prop, "len_dtype") for el in ply.elements for prop in el.properties):
        return  # list properties: rows have no fixed size (no splat format uses them)
    with open(path, "rb") as fh:
        head = fh.read(65536)
        end = head.find(b"end_header")
        newline = head.find(b"\n", end)
        body_start = newline + 1
        if ply.text:
            fh.seek(body_start)
            rows = sum(1 for line in fh if line.strip())
            declared = sum(len(el.data) for el in ply.elements)
            extra = rows - declared
            unit = "lines"
        else:
            size = os.fstat(fh.fileno()).st_size
            declared = sum(len(el.data) * el.data.dtype.itemsize for el in ply.elements)
            extra = size - body_start - declared
            unit = "bytes"
    if extra > 0:
        counts = ", ".join(f"{len(el.data)} {el.name}" for el in ply.elements)
        last = ply.elements[-1]
        rows = extra if ply.text else extra // max(last.data.dtype.itemsize, 1)
        raise SplatFileError(path, f"the header declares {counts}, but {extra} more {unit} of data follow (about "
                                   f"{rows} more '{last.name}' rows): the header's count is wrong or the file was "
                                   "written over; fix the count in the header")  # fmt: skip


def output_format(path: str | os.PathLike) -> tuple[str, str]:
    """(format, description) that :func:`write_splat` writes for ``path``, by its extension."""
    lower = os.fspath(path).lower()
    for suffix, value in WRITE_FORMATS.items():
        if lower.endswith(suffix):
            return value
    raise SplatFileError(path, "cannot write this file type: name it .ply, .compressed.ply, .splat or .spz")


def write_splat(path: str | os.PathLike, splat: GaussianSplat, *, spz_version: int = 3, overwrite: bool = True) -> str:
    """Write ``splat`` in the format the extension names (see ``WRITE_FORMATS``); returns the format's description.

    ``.ply`` keeps every property (extras included) bit for bit; the others quantise (README, "File formats") and
    keep only the standard properties. ``spz_version``: 3 (gzip, read everywhere) or 4 (zstd, smaller). Always
    atomic; with ``overwrite=False`` an existing file is refused (FileWriteError) and left as it was."""
    path = os.fspath(path)
    fmt, description = output_format(path)
    if fmt == FORMAT_INRIA:
        write_inria_ply(path, splat, overwrite=overwrite)
    elif fmt == FORMAT_COMPRESSED:
        from .ply_compressed import write_compressed_ply

        write_compressed_ply(path, splat, overwrite=overwrite)
    elif fmt == FORMAT_ANTIMATTER:
        from .splat_antimatter import write_antimatter_splat

        write_antimatter_splat(path, splat, overwrite=overwrite)
    else:
        from .spz import write_spz

        write_spz(path, splat, spz_version, overwrite=overwrite)
        description = f"{description} version {spz_version}"
    return description
