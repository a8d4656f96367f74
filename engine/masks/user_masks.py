"""Masks the user made elsewhere (another segmenter, hand annotation), read from a folder.

Folder format. For each training view, named by the view's name without its image extension
(view ``frames/IMG_0042.jpg`` -> ``IMG_0042``), the folder holds EITHER

- ``IMG_0042.npz``: a NumPy archive with an array ``masks`` of shape [M, H, W], dtype bool (or an
  integer dtype holding only 0 and 1), one boolean mask per entry; OR
- one or more label images ``IMG_0042.png`` and/or ``IMG_0042.<level>.png`` (``<level>`` an integer,
  e.g. ``IMG_0042.0.png``, ``IMG_0042.1.png``): every distinct non-zero value of a label image is one
  mask. Several levels give masks at several granularities (parts in one, whole objects in another).
  Grey-level (8/16/32-bit), palette (the index is the label), 1-bit, and RGB(A) images (each distinct
  non-black colour is a label; alpha is ignored) are read; float images are refused.

H, W are the view's image size: the size of its own image (the photo of a capture, as you have it), or
the size the engine trains at; masks at the photo's size are resized to the training size (nearest
pixel). Masks come back in file order (``.png`` first, then levels in numerical order; within an
image, by label value). Other files (not ``.npz``/``.png``, or hidden) are ignored. Every problem is
a MaskSourceError naming the file; :meth:`UserMaskSource.check_folder` reports all problems of a
folder at once before training starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Iterable

import numpy as np

from engine.masks.source import MaskSource, MaskSourceError, check_mask_stack
from engine.views.training_view import TrainingView

_IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".exr", ".hdr", ".gif"}
_LEVEL_RE = re.compile(r"^(?P<stem>.+?)(?:\.(?P<level>\d+))?\.png$", re.IGNORECASE)


def view_stem(name: str) -> str:
    """The file stem for a view name: its base name without an image extension."""
    base = os.path.basename(name.replace("\\", "/"))
    root, ext = os.path.splitext(base)
    return root if ext.lower() in _IMAGE_EXTS else base


def _npz_header(path: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the ``masks`` array of an .npz without reading the data."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
            if "masks" not in names:
                raise MaskSourceError(f"{path}: no array named 'masks' (found {names or 'nothing'})")
            with zf.open("masks.npy") as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    shape, _, dtype = np.lib.format._read_array_header(f, version)
    except MaskSourceError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise MaskSourceError(f"{path}: cannot read as .npz ({exc})") from exc
    return tuple(shape), np.dtype(dtype)


def _check_dtype(path: str, dtype: np.dtype) -> None:
    if dtype != np.bool_ and not np.issubdtype(dtype, np.integer):
        raise MaskSourceError(f"{path}: 'masks' has dtype {dtype}; it must be bool (or integer 0/1)")


def _png_labels(path: str) -> np.ndarray:
    """The label image [H, W] (integer) of a PNG."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode in ("RGB", "RGBA"):
                rgb = np.asarray(im.convert("RGB")).astype(np.uint32)
                return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
            if mode == "LA":
                return np.asarray(im.getchannel("L"))
            if mode in ("F", "I;16F"):
                raise MaskSourceError(f"{path}: a float image ({mode}) is not a label image; use integer labels")
            arr = np.asarray(im)
    except MaskSourceError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MaskSourceError(f"{path}: cannot read as PNG ({exc})") from exc
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer) or arr.ndim != 2:
        raise MaskSourceError(f"{path}: unsupported label image ({arr.dtype} {arr.shape}); use a grey-level PNG")
    return arr


def _png_size(path: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.height, im.width
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MaskSourceError(f"{path}: cannot read as PNG ({exc})") from exc


def _sizes_of(view) -> tuple[str, set[tuple[int, int]]]:
    """(name, the accepted (height, width)s: the training size and the view's own image size)."""
    if isinstance(view, tuple):
        name, height, width = view
        return str(name), {(int(height), int(width))}
    sizes = {(int(view.height), int(view.width))}
    src_w, src_h = getattr(view, "source_size", (view.width, view.height))
    sizes.add((int(src_h), int(src_w)))
    return view.name, sizes


def _resize_nearest(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[M, h, w] bool -> [M, H, W] by the nearest source pixel of each target pixel centre."""
    _, h, w = masks.shape
    rows = np.minimum(((np.arange(size[0]) + 0.5) * h / size[0]).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * w / size[1]).astype(np.int64), w - 1)
    return masks[:, rows][:, :, cols]


def _size_text(sizes: set[tuple[int, int]]) -> str:
    return " or ".join(f"{w}x{h}" for h, w in sorted(sizes, reverse=True))


class UserMaskSource(MaskSource):
    """Masks read from a folder in the format above."""

    name = "user-masks"

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = os.path.abspath(os.fspath(folder))
        if not os.path.isdir(self.folder):
            raise MaskSourceError(f"mask folder not found: {self.folder}")
        self._files = self._scan()
        if not self._files:
            raise MaskSourceError(
                f"mask folder {self.folder} holds no .npz or .png mask files (see the format "
                "in engine/masks/user_masks.py: <view>.npz or <view>.png / <view>.<level>.png)"
            )

    def _scan(self) -> list[str]:
        return sorted(
            f
            for f in os.listdir(self.folder)
            if not f.startswith(".")
            and f.lower().endswith((".npz", ".png"))
            and os.path.isfile(os.path.join(self.folder, f))
        )

    def files_for(self, stem: str) -> tuple[str | None, list[str]]:
        """(the .npz path or None, the label PNG paths in order) for a view stem."""
        npz = next((f for f in self._files if f.lower() == f"{stem.lower()}.npz"), None)
        pngs = []
        for f in self._files:
            m = _LEVEL_RE.match(f)
            if m is None:
                continue
            if f.lower() == f"{stem.lower()}.png":
                pngs.append((-1, f))
            elif m.group("level") is not None and m.group("stem").lower() == stem.lower():
                pngs.append((int(m.group("level")), f))
        paths = [os.path.join(self.folder, f) for _, f in sorted(pngs)]
        return (os.path.join(self.folder, npz) if npz else None), paths

    def settings(self) -> dict:
        """The folder and a digest of its mask files' names, sizes and modification times."""
        digest = hashlib.sha256()
        for f in self._files:
            st = os.stat(os.path.join(self.folder, f))
            digest.update(json.dumps([f, st.st_size, st.st_mtime_ns]).encode())
        return {"folder": self.folder, "files": digest.hexdigest()}

    def _locate(self, name: str) -> tuple[str | None, list[str]]:
        stem = view_stem(name)
        npz, pngs = self.files_for(stem)
        if npz is None and not pngs:
            raise MaskSourceError(
                f"no masks for view {name!r} in {self.folder}: expected {stem}.npz, {stem}.png or {stem}.<level>.png"
            )
        if npz is not None and pngs:
            raise MaskSourceError(
                f"view {name!r} has both {os.path.basename(npz)} and label PNGs in {self.folder}; keep one kind"
            )
        return npz, pngs

    def masks_for_view(self, view: TrainingView) -> np.ndarray:
        npz, pngs = self._locate(view.name)
        size = (view.height, view.width)
        _, accepted = _sizes_of(view)
        if npz is not None:
            shape, dtype = _npz_header(npz)
            _check_dtype(npz, dtype)
            if len(shape) != 3 or tuple(shape[1:]) not in accepted:
                raise MaskSourceError(
                    f"{npz}: 'masks' has shape {list(shape)}, expected [M, H, W] with W x H = {_size_text(accepted)} "
                    f"(view {view.name!r})"
                )
            try:
                with np.load(npz, allow_pickle=False) as data:
                    masks = data["masks"]
            except (OSError, ValueError, zipfile.BadZipFile) as exc:
                raise MaskSourceError(f"{npz}: cannot read 'masks' ({exc})") from exc
            if masks.dtype != np.bool_:
                if masks.size and (masks.min() < 0 or masks.max() > 1):
                    raise MaskSourceError(
                        f"{npz}: integer 'masks' must hold only 0 and 1 (found values up to "
                        f"{masks.max()}); for labels use a label PNG"
                    )
                masks = masks.astype(bool)
            if masks.shape[1:] != size:
                masks = _resize_nearest(masks, size)
            return check_mask_stack(masks, view, self.name)
        stacks = []
        for path in pngs:
            labels = _png_labels(path)
            if labels.shape not in accepted:
                raise MaskSourceError(
                    f"{path}: label image is {labels.shape[1]}x{labels.shape[0]}, but view "
                    f"{view.name!r} is {_size_text(accepted)}"
                )
            values = np.unique(labels)
            values = values[values != 0]
            stack = labels[None] == values[:, None, None]
            stacks.append(stack if stack.shape[1:] == size else _resize_nearest(stack, size))
        masks = np.concatenate(stacks) if stacks else np.zeros((0, *size), dtype=bool)
        return check_mask_stack(masks, view, self.name)

    def problems(self, views: Iterable, allow_extra: bool = False) -> list[str]:
        """Every problem of the folder for these views (TrainingView-like objects with name/height/width and
        optionally source_size, or (name, height, width) tuples): missing views, both kinds for one view, wrong
        sizes, unreadable files, bad dtypes, and (unless ``allow_extra``) files that belong to no view."""
        self._files = self._scan()
        out, used = [], set()
        for view in views:
            name, accepted = _sizes_of(view)
            npz, pngs = self.files_for(view_stem(name))
            used.update(os.path.basename(p) for p in [npz, *pngs] if p)
            try:
                self._locate(name)  # none, or both kinds
            except MaskSourceError as exc:
                out.append(str(exc))
                continue
            for path in [npz] if npz else pngs:
                try:
                    if path.endswith(".npz"):
                        shape, dtype = _npz_header(path)
                        _check_dtype(path, dtype)
                        found = tuple(shape[1:]) if len(shape) == 3 else shape
                    else:
                        found = _png_size(path)
                except MaskSourceError as exc:
                    out.append(str(exc))
                    continue
                if found not in accepted:
                    what = f"'masks' has shape {list(found)}" if len(found) != 2 else f"masks are {found[1]}x{found[0]}"
                    out.append(f"{path}: {what}, but view {name!r} is {_size_text(accepted)}")
        if not allow_extra:
            out.extend(
                f"{os.path.join(self.folder, f)}: matches no training view" for f in self._files if f not in used
            )
        return out

    def check_folder(self, views: Iterable, allow_extra: bool = False) -> None:
        """Raise one MaskSourceError listing every problem (see :meth:`problems`), or return quietly."""
        found = self.problems(views, allow_extra)
        if found:
            raise MaskSourceError(f"mask folder {self.folder} has {len(found)} problem(s):\n  " + "\n  ".join(found))
