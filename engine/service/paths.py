"""Which paths a client may name, and how: symlinks resolved, confinement to the data folders in remote mode, only
regular files opened (a FIFO or a device would block a worker forever), and never a file the engine owns written."""

from __future__ import annotations

import os
import stat

from .errors import ServiceError


class PathPolicy:
    def __init__(self, data_dir: str, confine: bool, extra_roots: tuple[str, ...] = ()):
        self.data_dir = os.path.realpath(data_dir)
        self.confine = confine
        self.roots = (self.data_dir, *(os.path.realpath(r) for r in extra_roots))
        #: files and folders no client may write: the engine's own (more are added as scenes open)
        self.owned_folders = [os.path.join(self.data_dir, sub) for sub in ("scenes", "uploads", "exports")]
        self.owned_files: set[str] = set()

    def _real(self, path: str) -> str:
        if not isinstance(path, str) or not path or "\x00" in path or len(path) > 4096:
            raise ServiceError(400, "a path must be a non-empty string of at most 4096 characters")
        real = os.path.realpath(os.path.expanduser(path))
        if self.confine and not any(real == r or real.startswith(r + os.sep) for r in self.roots):
            raise ServiceError(403, f"path {path!r} is outside the engine's data folders ({', '.join(self.roots)})")
        return real

    def existing(self, path: str, kind: str) -> str:
        """An existing ``kind`` ("file": a regular file; "folder"; "file or folder") as a real path."""
        real = self._real(path)
        try:
            mode = os.stat(real).st_mode
        except OSError:
            raise ServiceError(404, f"{path}: no such file or folder on the engine's machine") from None
        is_file, is_dir = stat.S_ISREG(mode), stat.S_ISDIR(mode)
        ok = {"file": is_file, "folder": is_dir, "file or folder": is_file or is_dir}[kind]
        if not ok:
            what = "a folder" if is_dir else "a regular file" if is_file else "not a regular file (a pipe, device...)"
            raise ServiceError(400, f"{path} is {what}; expected a {kind}")
        return real

    def new_file(self, path: str, suffix: str, overwrite: bool) -> str:
        """A path the engine may write a new file at (its folder exists; not the engine's own; an existing file only
        with ``overwrite``, and only a regular one)."""
        real = self._real(path)
        if not real.lower().endswith(suffix):
            raise ServiceError(400, f"{path}: the output must be a {suffix} file")
        if not os.path.isdir(os.path.dirname(real)):
            raise ServiceError(404, f"the folder of {path} does not exist on the engine's machine")
        if real in self.owned_files or any(real.startswith(f + os.sep) for f in self.owned_folders):
            raise ServiceError(403, f"{path} is a file the engine owns (a scene's source, an upload, a work folder); "
                                    "write elsewhere")  # fmt: skip
        if os.path.lexists(real):
            if not os.path.isfile(real) or os.path.islink(real):
                raise ServiceError(400, f"{path} exists and is not a regular file")
            if not overwrite:
                raise ServiceError(409, f"{path} exists; pass overwrite=true to replace it")
        return real
