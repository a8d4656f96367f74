"""A scene's work folder: the one route to its checkpoint, its training views' cameras and its caches.

Layout of ``W``::

    saga_features.npz   the checkpoint (features, gate, scale quantiles, visibility; metadata with the training
                        views' cameras at their own size, the training size, the scene file and how it was read)
    cameras.json        the same cameras as a saga camera set, for the user and other tools (``--camera``)
    masks/              the mask cache (entries keyed by content; shared by every prepare)
    records/            per-view training records, only with ``keep_records`` (hundreds of MB)
    .lock               held by the one prepare that may run in this folder
    .prepare-<id>/      a running prepare's staging folder

Changes happen all at once or not at all: a prepare writes everything into its staging folder and ``commit`` swaps
it in at the end (the checkpoint's rename is the moment the new training takes effect; ``cameras.json`` follows
and is rewritten from the checkpoint if a crash came between). A cancelled, failed or killed prepare leaves the
previous checkpoint, cameras and records as they were; its staging folder is removed (or, after a kill, by the next
prepare that takes the lock).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from engine.cameras.cameras import CameraFileError, Cameras
from engine.training.checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    CheckpointMismatchError,
    CheckpointMissingError,
    SceneCheckpoint,
    load_checkpoint,
)
from engine.training.pipeline import RECORDS_NAME
from saga_blender.core.atomic_files import fsync_folder, make_folder

CAMERAS_NAME = "cameras.json"
MASKS_NAME = "masks"
LOCK_NAME = ".lock"
STAGING_PREFIX = ".prepare-"


class WorkFolderBusyError(RuntimeError):
    """Another prepare holds the work folder."""


@dataclass(frozen=True)
class FolderState:
    """Whether a work folder holds a usable training for a scene; ``problem`` says why not (None when prepared)."""

    prepared: bool
    problem: str | None = None
    training_id: str | None = None  # changes with every committed prepare


def _stamp(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class WorkFolder:
    def __init__(self, path: str | os.PathLike):
        self.path = os.path.abspath(os.fspath(path))
        self._state_cache: dict[str, tuple[tuple | None, FolderState]] = {}

    @staticmethod
    def create(path: str | os.PathLike) -> WorkFolder:
        """The folder, made if missing (FileWriteError when it is a file or cannot be written)."""
        folder = WorkFolder(path)
        make_folder(folder.path, "work folder")
        return folder

    @property
    def checkpoint_path(self) -> str:
        return os.path.join(self.path, CHECKPOINT_NAME)

    @property
    def cameras_path(self) -> str:
        return os.path.join(self.path, CAMERAS_NAME)

    @property
    def masks_dir(self) -> str:
        return os.path.join(self.path, MASKS_NAME)

    @property
    def records_dir(self) -> str:
        return os.path.join(self.path, RECORDS_NAME)

    def checkpoint_stamp(self) -> tuple | None:
        """Changes whenever a new checkpoint is committed (inode, size, mtime); None when there is none."""
        return _stamp(self.checkpoint_path)

    # -- reading ---------------------------------------------------------------------------------------------
    def load(self, expected_hash: str | None = None) -> SceneCheckpoint:
        """The checkpoint, fully checked (CheckpointError: missing, damaged, or another scene's)."""
        if not os.path.isdir(self.path):
            what = "is not a folder" if os.path.exists(self.path) else "does not exist"
            raise CheckpointMissingError(f"{self.path}: the work folder {what} (prepare the scene first)")
        return load_checkpoint(self.checkpoint_path, expected_hash)

    def state(self, expected_hash: str) -> FolderState:
        """Prepared for this scene, or why not ("checkpoint damaged: ...; prepare the scene again"). Cached until
        the checkpoint file changes, so asking often costs a stat."""
        stamp = self.checkpoint_stamp()
        cached = self._state_cache.get(expected_hash)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        if stamp is None:
            state = FolderState(False, None)
        else:
            try:
                meta = self.load(expected_hash).metadata
                state = FolderState(True, None, meta.get("training_id") or meta.get("saved_at"))
            except CheckpointMismatchError as exc:
                state = FolderState(False, str(exc))
            except CheckpointError as exc:
                state = FolderState(False, str(exc))
        self._state_cache = {expected_hash: (stamp, state)}
        return state

    def cameras(self, checkpoint: SceneCheckpoint) -> Cameras | None:
        """The training views' cameras at their own size (None when the training did not record them)."""
        data = checkpoint.metadata.get("cameras")
        if isinstance(data, dict):
            try:
                return Cameras.from_json_dict(data, self.checkpoint_path)
            except CameraFileError:
                return None
        if os.path.isfile(self.cameras_path):  # checkpoints of version 1 kept them only in cameras.json
            try:
                return Cameras.load_json(self.cameras_path)
            except CameraFileError:
                return None
        return None

    def repair_cameras_file(self, checkpoint: SceneCheckpoint) -> None:
        """Rewrite ``cameras.json`` from the checkpoint when it is missing or belongs to another training (a crash
        between the two renames of a commit)."""
        data = checkpoint.metadata.get("cameras")
        if not isinstance(data, dict):
            return
        try:
            with open(self.cameras_path) as fh:
                current = json.load(fh)
        except (OSError, ValueError):
            current = None
        if not isinstance(current, dict) or current.get("training_id") != checkpoint.metadata.get("training_id"):
            with contextlib.suppress(OSError):
                self._write_cameras(checkpoint)

    def _write_cameras(self, checkpoint: SceneCheckpoint) -> None:
        from saga_blender.core.atomic_files import write_json

        meta = checkpoint.metadata
        write_json(self.cameras_path, {**meta["cameras"], "training_size": meta.get("training_size"),
                                       "training_id": meta.get("training_id")})  # fmt: skip

    # -- preparing -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for one prepare (across threads and processes); WorkFolderBusyError when taken."""
        make_folder(self.path, "work folder")
        fh = open(os.path.join(self.path, LOCK_NAME), "a+b")
        try:
            if not _try_lock(fh):
                raise WorkFolderBusyError(f"{self.path}: another prepare is running in this work folder; wait for it "
                                          "to finish or cancel it")  # fmt: skip
            try:
                self._remove_dead_staging()
                yield
            finally:
                _unlock(fh)
        finally:
            fh.close()

    def _remove_dead_staging(self) -> None:
        """Staging folders of prepares that were killed (whoever holds the lock owns the folder)."""
        for entry in os.scandir(self.path):
            if entry.name.startswith(STAGING_PREFIX) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)

    @contextlib.contextmanager
    def staging(self) -> Iterator[str]:
        """A fresh staging folder for one prepare (call inside ``lock``); removed when the block ends, whatever
        happens. Commit its contents with ``commit`` before the block ends."""
        path = os.path.join(self.path, f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}")
        make_folder(path, "staging folder")
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def commit(self, staging: str, keep_records: bool) -> None:
        """Swap a finished prepare's results in: the checkpoint (the moment it takes effect), ``cameras.json``,
        and ``records/`` (kept only when asked; otherwise any old records go too)."""
        os.replace(os.path.join(staging, CHECKPOINT_NAME), self.checkpoint_path)
        fsync_folder(self.path)
        checkpoint = load_checkpoint(self.checkpoint_path)
        if isinstance(checkpoint.metadata.get("cameras"), dict):
            self._write_cameras(checkpoint)
        old = os.path.join(self.path, f"{STAGING_PREFIX}old-records-{uuid.uuid4().hex[:8]}")
        if os.path.isdir(self.records_dir):
            os.replace(self.records_dir, old)
        if keep_records and os.path.isdir(os.path.join(staging, RECORDS_NAME)):
            os.replace(os.path.join(staging, RECORDS_NAME), self.records_dir)
        shutil.rmtree(old, ignore_errors=True)


def _try_lock(fh) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fh) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        with contextlib.suppress(OSError):
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
