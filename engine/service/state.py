"""What a running engine holds: open scenes, jobs, and its data folders. No HTTP here.

* Scenes are opened by path or from an uploaded file; several at once, each with an id. A scene's work folder is
  ``<data>/scenes/<content hash>``, so a scene prepared before (by this engine or an earlier one) is found again by
  its content; two open scenes of the same content share it, and its lock (``WorkFolder.lock``) lets one prepare
  run there at a time. A scene reloads its features whenever a new checkpoint was committed.
* Jobs (prepare) run in their own threads and outlive the request and the client that started it; their progress,
  result or error stays in the job table until the engine stops, so a client that reconnects finds them. A job that
  raises is marked failed with its message; the engine keeps serving.
* Every table is read and changed under one lock (readers get snapshots), so concurrent requests never see a table
  half-changed.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field

from engine.api.scene_files import SceneFile
from engine.api.trained_scene import TrainedScene, open_trained
from engine.api.work_folder import FolderState, WorkFolder
from engine.training.checkpoint import CheckpointError
from saga_blender.core.atomic_files import AtomicFile, remove_stale_temps

from .errors import ServiceError
from .paths import PathPolicy

UPLOAD_SUFFIXES = (".compressed.ply", ".ply", ".splat")
ACTIVE = ("queued", "running")


def scene_workdir(data_dir: str, content_hash: str) -> str:
    """The work folder of a scene in an engine's data folder: named by the scene's content."""
    return os.path.join(data_dir, "scenes", content_hash[:24])


@dataclass
class OpenScene:
    id: str
    scene: SceneFile
    folder: WorkFolder
    _trained: TrainedScene | None = None
    _trained_stamp: tuple | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def path(self) -> str:
        return self.scene.path

    @property
    def splat(self):
        return self.scene.splat

    @property
    def content_hash(self) -> str:
        return self.scene.content_hash

    @property
    def workdir(self) -> str:
        return self.folder.path

    def folder_state(self) -> FolderState:
        with self.lock:
            return self.folder.state(self.content_hash)

    def trained(self) -> TrainedScene:
        """The prepared scene for queries, (re)loaded whenever a new checkpoint has been committed."""
        with self.lock:
            stamp = self.folder.checkpoint_stamp()
            if self._trained is None or stamp != self._trained_stamp:
                state = self.folder.state(self.content_hash)
                if not state.prepared:
                    raise ServiceError(409, f"scene {self.id} is not prepared: {state.problem}" if state.problem
                                       else f"scene {self.id} is not prepared yet: run prepare first")  # fmt: skip
                try:
                    self._trained = open_trained(self.folder.path, scene=self.scene)
                except CheckpointError as exc:
                    raise ServiceError(409, f"scene {self.id} is not prepared: {exc}") from exc
                self._trained_stamp = stamp
            return self._trained

    def info(self) -> dict:
        state = self.folder_state()
        return {"id": self.id, "path": self.path, "gaussians": len(self.splat), "content_hash": self.content_hash,
                "prepared": state.prepared, "problem": state.problem, "training_id": state.training_id,
                "sh_degree": self.splat.sh_degree,
                "sanitized": self.scene.sanitized}  # fmt: skip


@dataclass
class Job:
    id: str
    scene_id: str
    workdir: str
    kind: str
    state: str = "queued"  # queued, running, done, failed, cancelled
    stage: str = ""
    percent: float = 0.0
    eta_s: float | None = None
    message: str = ""
    error: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def info(self) -> dict:
        return {"id": self.id, "scene_id": self.scene_id, "kind": self.kind, "state": self.state, "stage": self.stage,
                "percent": round(self.percent, 2), "eta_s": self.eta_s, "message": self.message, "error": self.error,
                "started": self.started, "finished": self.finished}  # fmt: skip


class UploadWriter:
    """An upload being written to the uploads folder (a temporary file; named by its bytes' hash when complete;
    removed on any failure)."""

    def __init__(self, folder: str, suffix: str):
        self.suffix = suffix
        self.target = AtomicFile(os.path.join(folder, f"incoming{suffix}"))
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.size += len(chunk)
        self.target.write(chunk)

    def finish(self) -> str:
        if self.size == 0:
            self.abort()
            raise ServiceError(400, "empty upload")
        final = os.path.join(self.target.folder, self.digest.hexdigest()[:24] + self.suffix)
        return self.target.commit(final)

    def abort(self) -> None:
        self.target.abort()


class EngineState:
    def __init__(self, data_dir: str, confine_paths: bool, extra_roots: tuple[str, ...] = (),
                 owned_files: tuple[str, ...] = ()):  # fmt: skip
        self.data_dir = os.path.realpath(data_dir)
        for sub in ("scenes", "uploads", "exports"):
            os.makedirs(os.path.join(self.data_dir, sub), exist_ok=True)
        remove_stale_temps(os.path.join(self.data_dir, "uploads"), older_than_s=0.0)  # a killed upload's leftovers
        self.paths = PathPolicy(self.data_dir, confine_paths, extra_roots)
        self.paths.owned_files.update(os.path.realpath(f) for f in owned_files)
        self._scenes: dict[str, OpenScene] = {}
        self._jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.started = time.time()

    @property
    def confine_paths(self) -> bool:
        return self.paths.confine

    # -- snapshots --------------------------------------------------------------------------------------------
    def scenes(self) -> list[OpenScene]:
        with self.lock:
            return list(self._scenes.values())

    def jobs(self) -> list[Job]:
        with self.lock:
            return list(self._jobs.values())

    # -- scenes -----------------------------------------------------------------------------------------------
    def open_scene(self, path: str, sanitize: bool = False) -> OpenScene:
        from engine.api.scene_files import read_scene
        from saga_blender.core.errors import SplatFileError

        real = self.paths.existing(path, "file")
        try:
            scene_file = read_scene(real, sanitize=sanitize)
        except SplatFileError as exc:
            raise ServiceError(422, str(exc)) from exc
        if len(scene_file) == 0:
            raise ServiceError(422, f"{path}: the file holds no Gaussians")
        digest = scene_file.content_hash
        with self.lock:
            for scene in self._scenes.values():
                if scene.content_hash == digest and scene.path == real and scene.scene.sanitize == sanitize:
                    return scene
            folder = WorkFolder(scene_workdir(self.data_dir, digest))
            scene = OpenScene(uuid.uuid4().hex[:12], scene_file, folder)
            self._scenes[scene.id] = scene
            self.paths.owned_files.add(real)
        return scene

    def begin_upload(self, filename: str) -> UploadWriter:
        base = os.path.basename(filename or "")
        suffix = next((e for e in UPLOAD_SUFFIXES if base.lower().endswith(e)), None)
        if suffix is None:
            raise ServiceError(400, f"upload name {filename!r} must end in .ply, .compressed.ply or .splat")
        return UploadWriter(os.path.join(self.data_dir, "uploads"), suffix)

    def scene(self, scene_id: str) -> OpenScene:
        with self.lock:
            scene = self._scenes.get(scene_id)
            if scene is None:
                known = sorted(self._scenes)
        if scene is None:
            raise ServiceError(404, f"no open scene {scene_id!r} (open it first; open scenes: {known})")
        return scene

    def close_scene(self, scene_id: str) -> None:
        with self.lock:
            if scene_id not in self._scenes:
                raise ServiceError(404, f"no open scene {scene_id!r}")
            busy = [j.id for j in self._jobs.values() if j.scene_id == scene_id and j.state in ACTIVE]
            if busy:
                raise ServiceError(409, f"scene {scene_id} has running jobs {busy}: cancel them first")
            scene = self._scenes.pop(scene_id)
            if not any(s.path == scene.path for s in self._scenes.values()):
                self.paths.owned_files.discard(scene.path)

    # -- jobs -------------------------------------------------------------------------------------------------
    def job(self, job_id: str) -> Job:
        with self.lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ServiceError(404, f"no job {job_id!r}")
        return job

    def start_job(self, scene: OpenScene, kind: str, work, log) -> Job:
        """Run ``work(job)`` in a thread; its exceptions become the job's error, never the server's. One job at a
        time per work folder: scenes of the same content share theirs."""
        with self.lock:
            busy = [j for j in self._jobs.values() if j.workdir == scene.workdir and j.state in ACTIVE]
            if busy:
                other = busy[0]
                if other.scene_id == scene.id:
                    raise ServiceError(409, f"scene {scene.id} already has a {other.kind} job running ({other.id})")
                raise ServiceError(409, f"a {other.kind} job ({other.id}) of scene {other.scene_id}, which has the "
                                        "same content, is using its work folder; wait for it or cancel it")  # fmt: skip
            job = Job(uuid.uuid4().hex[:12], scene.id, scene.workdir, kind)
            self._jobs[job.id] = job

        def run() -> None:
            from engine.training.trainer import TrainingCancelled

            job.state = "running"
            try:
                work(job)
                job.state, job.percent, job.eta_s = "done", 100.0, 0.0
            except TrainingCancelled:
                job.state = "cancelled"
            except Exception as exc:  # a failing job must not take the engine down
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
                log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            finally:
                job.finished = time.time()
                log.info("job %s (%s of scene %s) ended: %s", job.id, kind, scene.id, job.state)

        job.thread = threading.Thread(target=run, name=f"job-{job.id}", daemon=True)
        job.thread.start()
        return job

    def stop_jobs(self, timeout: float = 10.0) -> None:
        """Cancel every running job and wait for them (work folders stay as they were: prepares are staged)."""
        jobs = self.jobs()
        for job in jobs:
            job.cancel.set()
        deadline = time.time() + timeout
        for job in jobs:
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.time()))
