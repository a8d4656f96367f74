"""The one way every file of the project is written: readers see the old file or the new one, never half of one.

``atomic_write(path)`` yields a file object on a temporary file in the target's own folder (a unique hidden name,
created exclusively, so threads and processes never share one). When the block ends without an error the file is
flushed and fsynced, renamed over ``path`` and the folder is fsynced; on any error (disk full, a cancelled job, a
bug) the temporary file is removed and ``path`` is left as it was. OS errors come out as :class:`FileWriteError`
naming the file, and a full disk as :class:`DiskFullError` ("... the disk is full"), whatever layer (numpy, PIL,
plyfile) was writing.

No bpy here: the Blender extension's exporters and the engine both use it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator

from .errors import DiskFullError, FileWriteError

TEMP_SUFFIX = ".saga-tmp"
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def temp_name(path: str) -> str:
    """A unique hidden temporary name beside ``path`` (same folder, so the final rename is atomic)."""
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}.{uuid.uuid4().hex[:16]}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def write_error(path: str, exc: BaseException) -> FileWriteError:
    """The error to raise for ``exc`` while writing ``path``: DiskFullError for a full disk, else FileWriteError."""
    if isinstance(exc, FileWriteError):
        return exc
    text = str(exc)
    code = getattr(exc, "errno", None)
    # numpy's tofile reports a short write as "N requested and M written" with no errno
    if code in _DISK_FULL or ("requested and" in text and "written" in text):
        folder = os.path.dirname(os.path.abspath(path))
        try:
            free = f"{shutil.disk_usage(folder).free / 2**20:.1f} MiB free"
        except OSError:
            free = "no space left"
        return DiskFullError(path, f"cannot write: the disk is full ({free} in {folder}); free some space and try "
                                   "again")  # fmt: skip
    if code in (errno.EACCES, errno.EPERM):
        return FileWriteError(path, "cannot write: permission denied (choose a folder you can write to)")
    if code == errno.EROFS:
        return FileWriteError(path, "cannot write: the file system is read-only")
    if code == errno.ENOENT:
        return FileWriteError(path, "cannot write: its folder does not exist")
    if code in (errno.EISDIR, errno.ENOTDIR):
        return FileWriteError(path, "cannot write: a folder is in the way (or a file where a folder should be)")
    reason = getattr(exc, "strerror", None) or text or type(exc).__name__
    return FileWriteError(path, f"cannot write: {reason}")


def fsync_folder(folder: str) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_folder(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise FileWriteError(path, f"cannot write: the folder {folder} {what} (create it first)")
    if os.path.isdir(path):
        raise FileWriteError(path, "cannot write: a folder of that name is in the way")
    return folder


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, durable: bool = True, overwrite: bool = True,
                 permissions: int = 0o666, encoding: str | None = None) -> Iterator:  # fmt: skip
    """Write ``path`` atomically through the yielded file object.

    ``durable=False`` skips the fsyncs (scratch files that are staged and swapped in later); ``overwrite=False``
    refuses (FileWriteError, nothing written) when ``path`` exists, decided atomically at the rename;
    ``permissions`` are the new file's mode bits (before the umask), e.g. 0o600 for a secret."""
    path = os.fspath(path)
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write writes whole files: mode 'wb' or 'w', not {mode!r}")
    folder = _check_folder(path)
    if not overwrite and os.path.lexists(path):
        raise FileWriteError(path, "already exists (not replaced)")
    tmp = temp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), permissions)
    except OSError as exc:
        raise write_error(path, exc) from exc
    try:
        with os.fdopen(fd, mode, encoding=encoding if mode == "w" else None) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if path appeared meanwhile: never replaces
            except FileExistsError as exc:
                raise FileWriteError(path, "already exists (not replaced)") from exc
            os.remove(tmp)
        if durable:
            fsync_folder(folder)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from exc
        raise


def write_bytes(path: str | os.PathLike, data: bytes, **kw) -> None:
    with atomic_write(path, "wb", **kw) as fh:
        fh.write(data)


def write_text(path: str | os.PathLike, text: str, **kw) -> None:
    with atomic_write(path, "w", encoding="utf-8", **kw) as fh:
        fh.write(text)


def write_json(path: str | os.PathLike, value, **kw) -> None:
    write_text(path, json.dumps(value, indent=1) + "\n", **kw)


def save_npy(path: str | os.PathLike, array, **kw) -> None:
    """np.save to exactly ``path`` (no ``.npy`` appended), atomically, without pickles."""
    import numpy as np

    with atomic_write(path, "wb", **kw) as fh:
        np.save(fh, np.asarray(array), allow_pickle=False)


def make_folder(path: str | os.PathLike, what: str = "folder") -> str:
    """``path`` as an existing folder (created with its parents); a clear FileWriteError when it cannot be."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileWriteError(path, f"is a file, not a {what}; give a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise FileWriteError(path, f"cannot write in this {what}: permission denied (choose one you can write to)")
    return path


def remove_stale_temps(folder: str, older_than_s: float = 3600.0) -> int:
    """Remove temporary files that a killed writer left in ``folder`` (only ours, only old ones)."""
    removed = 0
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime > older_than_s:
                        os.remove(entry.path)
                        removed += 1
    return removed
