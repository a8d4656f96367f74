"""What a running engine holds: open scenes, jobs, and its data folders. No HTTP here.

* Scenes are opened by path or from an uploaded file; several at once, each with an id. A scene's work folder
  is ``<data>/scenes/<content hash>``, so a scene prepared before (by this engine or an earlier one) is found
  again by its content, and its predictor is loaded on the first query.
* Jobs (prepare) run in their own threads and outlive the request and the client that started it; their
  progress, result or error stays in the job table until the engine stops, so a client that reconnects
  finds them. A job that raises is marked failed with its message; the engine keeps serving.
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


def scene_workdir(data_dir: str, content_hash: str) -> str:
    """The work folder of a scene in an engine's data folder: named by the scene's content."""
    return os.path.join(data_dir, "scenes", content_hash[:24])


class ServiceError(Exception):
    """An error with an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


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
        return self.folder.state(self.content_hash)

    def trained(self) -> TrainedScene:
        """The prepared scene for queries, (re)loaded whenever a new checkpoint has been committed."""
        with self.lock:
            stamp = self.folder.checkpoint_stamp()
            if self._trained is None or stamp != self._trained_stamp:
                state = self.folder_state()
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
                "prepared": state.prepared, "problem": state.problem, "sh_degree": self.splat.sh_degree,
                "sanitized": self.scene.sanitized}  # fmt: skip


@dataclass
class Job:
    id: str
    scene_id: str
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


class EngineState:
    def __init__(self, data_dir: str, confine_paths: bool, extra_roots: tuple[str, ...] = ()):
        self.data_dir = os.path.realpath(data_dir)
        for sub in ("scenes", "uploads", "exports"):
            os.makedirs(os.path.join(self.data_dir, sub), exist_ok=True)
        self.confine_paths = confine_paths
        self.roots = (self.data_dir, *(os.path.realpath(r) for r in extra_roots))
        self.scenes: dict[str, OpenScene] = {}
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.started = time.time()

    # -- paths ------------------------------------------------------------------------------------------------
    def resolve_path(self, path: str, must_exist: bool = True) -> str:
        """An absolute, symlink-free path; refused outside the data folders when paths are confined."""
        if not isinstance(path, str) or not path or "\x00" in path:
            raise ServiceError(400, "a path must be a non-empty string")
        real = os.path.realpath(os.path.expanduser(path))
        if self.confine_paths and not any(real == r or real.startswith(r + os.sep) for r in self.roots):
            raise ServiceError(403, f"path {path!r} is outside the engine's data folders ({', '.join(self.roots)})")
        if must_exist and not os.path.exists(real):
            raise ServiceError(404, f"{path}: no such file or folder on the engine's machine")
        return real

    # -- scenes -----------------------------------------------------------------------------------------------
    def open_scene(self, path: str, sanitize: bool = False) -> OpenScene:
        from engine.api.scene_files import read_scene
        from saga_blender.core.errors import SplatFileError

        real = self.resolve_path(path)
        if os.path.isdir(real):
            raise ServiceError(400, f"{path} is a folder; give a .ply, .compressed.ply or .splat file")
        try:
            scene_file = read_scene(real, sanitize=sanitize)
        except SplatFileError as exc:
            raise ServiceError(422, str(exc)) from exc
        if len(scene_file) == 0:
            raise ServiceError(422, f"{path}: the file holds no Gaussians")
        digest = scene_file.content_hash
        with self.lock:
            for scene in self.scenes.values():
                if scene.content_hash == digest and scene.path == real:
                    return scene
            folder = WorkFolder(scene_workdir(self.data_dir, digest))
            scene = OpenScene(uuid.uuid4().hex[:12], scene_file, folder)
            self.scenes[scene.id] = scene
        return scene

    def save_upload(self, filename: str, chunks) -> str:
        """Store an uploaded splat under the uploads folder (named by its bytes' hash); returns its path."""
        base = os.path.basename(filename or "")
        ext = next((e for e in (".compressed.ply", ".ply", ".splat") if base.lower().endswith(e)), None)
        if ext is None:
            raise ServiceError(400, f"upload name {filename!r} must end in .ply, .compressed.ply or .splat")
        tmp = os.path.join(self.data_dir, "uploads", f".upload-{uuid.uuid4().hex}")
        digest = hashlib.sha256()
        with open(tmp, "wb") as fh:
            for chunk in chunks:
                digest.update(chunk)
                fh.write(chunk)
        final = os.path.join(self.data_dir, "uploads", digest.hexdigest()[:24] + ext)
        os.replace(tmp, final)
        return final

    def scene(self, scene_id: str) -> OpenScene:
        scene = self.scenes.get(scene_id)
        if scene is None:
            raise ServiceError(404, f"no open scene {scene_id!r} (open it first; open scenes: {sorted(self.scenes)})")
        return scene

    def close_scene(self, scene_id: str) -> None:
        scene = self.scene(scene_id)
        busy = [j.id for j in self.jobs.values() if j.scene_id == scene_id and j.state in ("queued", "running")]
        if busy:
            raise ServiceError(409, f"scene {scene_id} has running jobs {busy}: cancel them first")
        with self.lock:
            self.scenes.pop(scene.id, None)

    # -- jobs -------------------------------------------------------------------------------------------------
    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise ServiceError(404, f"no job {job_id!r}")
        return job

    def start_job(self, scene: OpenScene, kind: str, work, log) -> Job:
        """Run ``work(job)`` in a thread; its exceptions become the job's error, never the server's."""
        with self.lock:
            busy = [j for j in self.jobs.values() if j.scene_id == scene.id and j.state in ("queued", "running")]
            if busy:
                raise ServiceError(409, f"scene {scene.id} already has a {busy[0].kind} job running ({busy[0].id})")
            job = Job(uuid.uuid4().hex[:12], scene.id, kind)
            self.jobs[job.id] = job

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
        """Cancel every running job and wait for them (caches stay intact: writes are atomic)."""
        for job in self.jobs.values():
            job.cancel.set()
        deadline = time.time() + timeout
        for job in self.jobs.values():
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.time()))
