"""Reading ``.npy`` arrays a user or a client hands in (ids, masks): header first, so a file that claims billions of
elements is refused before anything is allocated; never pickles."""

from __future__ import annotations

import io
import os

import numpy as np

#: the most elements an input array may hold (a 16k x 16k mask; ids of 268M Gaussians)
MAX_ELEMENTS = 1 << 28


class ArrayInputError(ValueError):
    """An input array is unreadable, too large, or of the wrong kind; the message names it."""


def _header(fh, what: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(fh)
        shape, _, dtype = np.lib.format._read_array_header(fh, version)
    except Exception as exc:  # numpy's header parser raises ValueError, SyntaxError, TokenError... on bad input
        raise ArrayInputError(f"{what}: not a .npy array ({type(exc).__name__}: {exc})") from exc
    return tuple(shape), np.dtype(dtype)


def read_npy(source: bytes | str | os.PathLike, what: str, max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    """The array in ``source`` (bytes of a .npy, or a path to one); ArrayInputError when it is not a plain numeric or
    bool array of at most ``max_elements`` elements, or its data is cut short."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise ArrayInputError(f"{what} {path}: file not found")
        if not os.path.isfile(path):
            raise ArrayInputError(f"{what} {path}: not a regular file")
        opener = open(path, "rb")
        what = f"{what} {path}"
    else:
        opener = io.BytesIO(source)
    with opener as fh:
        shape, dtype = _header(fh, what)
        if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biuf":
            raise ArrayInputError(f"{what}: arrays of {dtype} are not accepted (give integers, floats or bools)")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count > max_elements:
            raise ArrayInputError(f"{what}: {count} elements is more than the limit of {max_elements}")
        fh.seek(0)
        try:
            return np.load(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ArrayInputError(f"{what}: not a complete .npy array ({exc})") from exc
