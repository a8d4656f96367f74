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


class AtomicFile:
    """A file being written atomically: ``file`` is open on a unique temporary beside ``path``; ``commit()`` makes it
    ``path`` (or another name in the same folder, e.g. one known only once the content is: an upload named by its
    hash); ``abort()`` removes it. OS errors come out as FileWriteError / DiskFullError naming ``path``."""

    def __init__(self, path: str | os.PathLike, mode: str = "wb", *, durable: bool = True, overwrite: bool = True,
                 permissions: int = 0o666, encoding: str | None = None):  # fmt: skip
        self.path = os.fspath(path)
        if mode not in ("wb", "w"):
            raise ValueError(f"atomic files are written whole: mode 'wb' or 'w', not {mode!r}")
        self.folder = _check_folder(self.path)
        self.durable, self.overwrite = durable, overwrite
        if not overwrite and os.path.lexists(self.path):
            raise FileWriteError(self.path, "already exists (not replaced)")
        self.temp = temp_name(self.path)
        try:
            fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), permissions)
        except OSError as exc:
            raise write_error(self.path, exc) from exc
        self.file = os.fdopen(fd, mode, encoding=encoding if mode == "w" else None)
        self.done = False

    def write(self, data) -> None:
        try:
            self.file.write(data)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise write_error(self.path, exc) from exc
            raise

    def commit(self, final_path: str | os.PathLike | None = None) -> str:
        """Flush, fsync, rename into place (``final_path`` must be in the same folder); returns the final path."""
        target = self.path if final_path is None else os.fspath(final_path)
        if os.path.dirname(os.path.abspath(target)) != self.folder:
            raise ValueError(f"{target}: an atomic file can only be renamed within {self.folder}")
        try:
            self.file.flush()
            if self.durable:
                os.fsync(self.file.fileno())
            self.file.close()
            if self.overwrite:
                os.replace(self.temp, target)
            else:
                try:
                    os.link(self.temp, target)  # fails if target appeared meanwhile: never replaces
                except FileExistsError as exc:
                    raise FileWriteError(target, "already exists (not replaced)") from exc
                os.remove(self.temp)
            if self.durable:
                fsync_folder(self.folder)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise write_error(target, exc) from exc
            raise
        self.done = True
        return target

    def abort(self) -> None:
        """Remove the temporary file (the target stays as it was). Safe to call more than once."""
        if self.done:
            return
        self.done = True
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            os.remove(self.temp)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, durable: bool = True, overwrite: bool = True,
                 permissions: int = 0o666, encoding: str | None = None) -> Iterator:  # fmt: skip
    """Write ``path`` atomically through the yielded file object (``AtomicFile``).

    ``durable=False`` skips the fsyncs (scratch files that are staged and swapped in later); ``overwrite=False``
    refuses (FileWriteError, nothing written) when ``path`` exists, decided atomically at the rename;
    ``permissions`` are the new file's mode bits (before the umask), e.g. 0o600 for a secret."""
    target = AtomicFile(path, mode, durable=durable, overwrite=overwrite, permissions=permissions, encoding=encoding)
    try:
        yield target.file
    except BaseException as exc:
        target.abort()
        if isinstance(exc, OSError):
            raise write_error(target.path, exc) from exc
        raise
    target.commit()


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
