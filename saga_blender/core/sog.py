"""PlayCanvas SOG (``.sog`` zip bundle, or an unbundled ``meta.json`` with its ``.webp`` files): read, no GPU.

Layout (version 2, as written by ``@playcanvas/splat-transform`` 3.7.0 and read by its ``read-sog.ts``): a
``meta.json`` and lossless WebP textures, one texel per Gaussian in row-major order (texel ``i`` at column
``i % width`` of row ``i // width``, rows from the top):

* ``means``: two RGB textures, the low and high bytes of three 16-bit values ``v``; a coordinate is
  ``sign(t) (exp(|t|) - 1)`` with ``t = lerp(mins, maxs, v / 65535)`` (a log transform of the position);
* ``quats``: RGBA, "smallest three": alpha - 252 is the index (w, x, y, z order) of the largest component,
  the other three in order are ``(b / 255 * 2 - 1) / sqrt(2)``;
* ``scales``: RGB bytes indexing a 256-entry codebook of log scales;
* ``sh0``: RGB bytes indexing a 256-entry codebook of SH band-0 coefficients, alpha = sigmoid(opacity) * 255;
* ``shN`` (optional): ``labels`` (16-bit palette index in R, G) into ``centroids`` (64 palette entries per row,
  each ``coefficients`` texels wide; RGB bytes index ``shN.codebook``), bands 1 to 3.

Writing SOG needs k-means clustering of the SH (splat-transform runs it on a GPU or, slowly, on the CPU); this
project only reads it. SOG version 1 (``meta.json`` without ``version``) is refused with a message.

WebP decoding is injected: ``read_sog(path, decode_webp)`` takes a function ``bytes -> uint8 [H, W, 4]``. The
default uses Pillow (the engine has it); the Blender extension passes Blender's own image loader.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable

import numpy as np

from .errors import SplatFileError
from .gaussians import GaussianSplat

WebpDecoder = Callable[[bytes], np.ndarray]
SH_COEFFS = {1: 3, 2: 8, 3: 15}
ALPHA_EPS = 1e-6


def pillow_webp(data: bytes) -> np.ndarray:
    """uint8 [H, W, 4] RGBA of a WebP image, decoded by Pillow."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise RuntimeError("reading .sog needs a WebP decoder: install Pillow (pip install pillow)") from exc
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGBA"), np.uint8)


class _Files:
    """The textures and meta.json of a bundle (zip) or of a folder."""

    def __init__(self, path: str):
        self.path = path
        self.zip = None
        if not path.lower().endswith(".json"):
            try:
                self.zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise SplatFileError(path, f"not a .sog bundle (not a zip archive: {exc})") from exc
        self.folder = os.path.dirname(path)

    def read(self, name: str) -> bytes:
        if os.path.basename(name) != name or not name:
            raise SplatFileError(self.path, f"SOG names a texture outside its bundle: {name!r}")
        try:
            if self.zip is not None:
                return self.zip.read(name)
            with open(os.path.join(self.folder, name), "rb") as fh:
                return fh.read()
        except (KeyError, OSError) as exc:
            raise SplatFileError(self.path, f"SOG texture {name!r} is missing") from exc
        except (zipfile.BadZipFile, EOFError, ValueError) as exc:
            raise SplatFileError(self.path, f"damaged .sog bundle reading {name!r} ({exc})") from exc

    def meta_name(self) -> str:
        return "meta.json" if self.zip is not None else os.path.basename(self.path)

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def read_sog(path: str | os.PathLike, decode_webp: WebpDecoder | None = None) -> GaussianSplat:
    """Read a ``.sog`` bundle or an unbundled SOG ``meta.json``. Raises SplatFileError naming the problem."""
    path = os.fspath(path)
    decode = decode_webp or pillow_webp
    files = _Files(path)
    try:
        try:
            meta = json.loads(files.read(files.meta_name()))
        except (ValueError, UnicodeDecodeError) as exc:
            raise SplatFileError(path, f"SOG meta.json is not valid JSON ({exc})") from exc
        return _decode(meta, files, decode, path)
    finally:
        files.close()


def _decode(meta, files: _Files, decode: WebpDecoder, path: str) -> GaussianSplat:
    if not isinstance(meta, dict):
        raise SplatFileError(path, "SOG meta.json is not an object")
    if "version" not in meta:
        raise SplatFileError(path, "SOG version 1 is not supported (re-save it with splat-transform)")
    if meta.get("version") != 2:
        raise SplatFileError(path, f"SOG version {meta.get('version')!r} is not supported (version 2 is)")
    try:
        n = int(meta["count"])
        means, scales, quats, sh0 = (meta[k] for k in ("means", "scales", "quats", "sh0"))
    except (KeyError, TypeError, ValueError) as exc:
        raise SplatFileError(path, f"SOG meta.json lacks {exc}") from exc
    if n <= 0:
        raise SplatFileError(path, "SOG holds no Gaussians")

    def texture(entry: dict, index: int, what: str) -> np.ndarray:
        try:
            name = entry["files"][index]
        except (KeyError, IndexError, TypeError) as exc:
            raise SplatFileError(path, f"SOG meta.json names no {what} texture") from exc
        try:
            rgba = np.asarray(decode(files.read(name)), np.uint8)
        except SplatFileError:
            raise
        except Exception as exc:  # decoders raise their own types for bad images
            raise SplatFileError(path, f"SOG texture {name!r} is not a readable WebP image ({exc})") from exc
        if rgba.ndim != 3 or rgba.shape[2] != 4:
            raise SplatFileError(path, f"SOG texture {name!r} decoded to shape {rgba.shape}, expected [H, W, 4]")
        return rgba.reshape(-1, 4)

    def per_gaussian(entry: dict, index: int, what: str) -> np.ndarray:
        texels = texture(entry, index, what)
        if len(texels) < n:
            raise SplatFileError(path, f"SOG {what} texture holds {len(texels)} texels for {n} Gaussians")
        return texels[:n]

    def codebook(entry: dict, what: str) -> np.ndarray:
        book = np.asarray(entry.get("codebook", ()), np.float32)
        if book.shape != (256,):
            raise SplatFileError(path, f"SOG {what} codebook has {book.size} entries, expected 256")
        return book

    lo = per_gaussian(means, 0, "means_l").astype(np.uint32)
    hi = per_gaussian(means, 1, "means_u").astype(np.uint32)
    v = (lo[:, :3] | (hi[:, :3] << 8)).astype(np.float64) / 65535.0
    mins, maxs = (np.asarray(means.get(k, ()), np.float64) for k in ("mins", "maxs"))
    if mins.shape != (3,) or maxs.shape != (3,):
        raise SplatFileError(path, "SOG means need mins and maxs of 3 values")
    span = np.where(maxs - mins == 0, 1.0, maxs - mins)
    t = mins + span * v
    positions = np.sign(t) * (np.exp(np.abs(t)) - 1.0)

    q = per_gaussian(quats, 0, "quats")
    log_scales = codebook(scales, "scales")[per_gaussian(scales, 0, "scales")[:, :3]]
    c0 = per_gaussian(sh0, 0, "sh0")
    sh_dc = codebook(sh0, "sh0")[c0[:, :3]]
    alpha = np.clip(c0[:, 3].astype(np.float64) / 255.0, ALPHA_EPS, 1.0 - ALPHA_EPS)
    return GaussianSplat(
        means=positions.astype(np.float32),
        quats=unpack_quats(q).astype(np.float32),
        log_scales=np.ascontiguousarray(log_scales, np.float32),
        opacity_logits=np.log(alpha / (1.0 - alpha)).astype(np.float32),
        sh_dc=np.ascontiguousarray(sh_dc, np.float32),
        sh_rest=_sh_rest(meta.get("shN"), n, texture, codebook, path),
    )


def unpack_quats(texels: np.ndarray) -> np.ndarray:
    """[N, 4] float64 w, x, y, z from RGBA texels (tag 252..255 in alpha; another tag gives the identity)."""
    n = len(texels)
    tag = texels[:, 3].astype(np.int64) - 252
    valid = (tag >= 0) & (tag <= 3)
    largest = np.where(valid, tag, 0)
    small = (texels[:, :3].astype(np.float64) / 255.0 * 2.0 - 1.0) / np.sqrt(2.0)
    out = np.zeros((n, 4), np.float64)
    rows = np.arange(n)
    for j in range(3):  # j-th stored component goes to slot j, or j + 1 at and after the largest
        out[rows, j + (j >= largest)] = small[:, j]
    out[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - np.sum(small * small, axis=1)))
    out[~valid] = (1.0, 0.0, 0.0, 0.0)
    return out


def _sh_rest(sh_n, n: int, texture, codebook, path) -> np.ndarray:
    if not sh_n:
        return np.zeros((n, 0, 3), np.float32)
    bands = sh_n.get("bands")
    if bands not in SH_COEFFS:
        raise SplatFileError(path, f"SOG shN has {bands!r} bands (1 to 3)")
    k = SH_COEFFS[bands]
    centroids = texture(sh_n, 0, "shN_centroids")
    labels_tex = texture(sh_n, 1, "shN_labels")
    if len(labels_tex) < n:
        raise SplatFileError(path, f"SOG shN labels texture holds {len(labels_tex)} texels for {n} Gaussians")
    book = codebook(sh_n, "shN")
    palette = int(sh_n.get("count", 0))
    width = 64 * k
    if len(centroids) % width:
        raise SplatFileError(path, f"SOG shN centroids texture is not {width} texels wide for {bands} bands")
    labels = labels_tex[:n, 0].astype(np.int64) | (labels_tex[:n, 1].astype(np.int64) << 8)
    ok = (labels < palette) & (labels < len(centroids) // k)
    # the texel of coefficient j of palette entry l: row l // 64, column (l % 64) * k + j
    first = (labels // 64) * width + (labels % 64) * k
    index = np.where(ok, first, 0)[:, None] + np.arange(k)[None, :]  # [N, k]
    values = book[centroids[index][..., :3]]  # [N, k, 3] coefficient-major, colour-inner
    values[~ok] = 0.0
    return np.ascontiguousarray(values, np.float32)
