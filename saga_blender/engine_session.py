"""The add-on's connection to an engine, and the background work it runs through it (no bpy).

One ``EngineSession`` per Blender process: a local engine it started (stopped when Blender quits) or a remote engine
reached by URL and token. Everything that waits on the network or a long computation (starting the engine,
connecting, uploading a splat, a prepare and its polling, Segment Everything) runs as a ``Task`` in a worker thread.
Workers never touch Blender: they put events, each carrying its task's id, in a queue that the UI drains from a
``bpy.app.timers`` callback, so Blender never freezes and a job's news reaches the task (and the object) that
started it, whatever else was started since.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from .engine_client import EngineClient, EngineError
from .engine_process import EngineSetupError, LocalEngine

CONNECT_TIMEOUT_S = 30.0
POLL_S = 0.5
FINISHED = ("done", "failed", "cancelled")


@dataclass
class Task:
    """One piece of background work, as the panel and the status bar show it."""

    id: str
    kind: str  # "start", "connect", "prepare", "cluster"
    label: str
    object_name: str = ""
    state: str = "running"  # running, done, failed, cancelled
    stage: str = ""
    percent: float = 0.0
    eta_s: float | None = None
    message: str = ""
    error: str = ""
    scene_id: str = ""
    job_id: str = ""  # the engine's job, for a prepare
    result: object = None
    applied: bool = False  # the UI has applied the result (e.g. clusters written to the object)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def status_text(self) -> str:
        eta = f", ETA {self.eta_s:.0f} s" if self.eta_s else ""
        return f"SAGA {self.label}: {self.stage or self.state} {self.percent:.0f}%{eta}"


class TaskEnded(Exception):
    """A worker's way to end its task as failed or cancelled (the engine said so)."""

    def __init__(self, state: str, error: str):
        super().__init__(error)
        self.state, self.error = state, error


@dataclass
class EngineSession:
    client: EngineClient | None = None
    local: LocalEngine | None = None
    status: str = "not connected"
    error: str = ""
    tasks: dict[str, Task] = field(default_factory=dict)
    scene_ids: dict[str, str] = field(default_factory=dict)  # splat content path -> engine scene id
    #: the engine's last answer about each splat file (``prepared``, ``problem``...), for the panel to show
    scene_info: dict[str, dict] = field(default_factory=dict)
    events: queue.Queue = field(default_factory=queue.Queue)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- tasks --------------------------------------------------------------------------------------------
    def _run(self, kind: str, label: str, work: Callable[[Task], object], object_name: str = "") -> Task:
        """Start ``work(task)`` in a worker; its return value becomes the task's result, an exception its error."""
        task = Task(uuid.uuid4().hex[:10], kind, label, object_name)
        with self.lock:
            self.tasks[task.id] = task

        def body():
            try:
                result = work(task)
                self.events.put((task.id, {"state": "done", "percent": 100.0, "eta_s": 0.0, "result": result}))
            except TaskEnded as end:
                self.events.put((task.id, {"state": end.state, "error": end.error}))
            except (EngineError, EngineSetupError, OSError, ValueError) as exc:
                message = exc.message if isinstance(exc, EngineError) else str(exc)
                self.events.put((task.id, {"state": "failed", "error": message}))
            except Exception as exc:  # a bug: the task must still end, saying what happened
                self.events.put((task.id, {"state": "failed", "error": f"internal error: {type(exc).__name__}: {exc}"}))

        threading.Thread(target=body, name=f"saga-{kind}-{task.id}", daemon=True).start()
        return task

    def update(self, task: Task, **changes) -> None:
        """From a worker: news about ``task`` (applied on the UI thread by ``drain``)."""
        self.events.put((task.id, changes))

    def running(self, kind: str | None = None) -> list[Task]:
        with self.lock:
            return [t for t in self.tasks.values() if not t.finished and (kind is None or t.kind == kind)]

    @property
    def busy(self) -> str:
        """What the session is doing now, for the panel ("" when idle)."""
        tasks = self.running()
        return tasks[-1].status_text() if tasks else ""

    def latest(self, kind: str, object_name: str | None = None) -> Task | None:
        with self.lock:
            found = [t for t in self.tasks.values() if t.kind == kind and object_name in (None, t.object_name)]
        return found[-1] if found else None

    @property
    def prepare(self) -> Task | None:
        """The prepare started last (whichever object)."""
        return self.latest("prepare")

    def drain(self) -> list[Task]:
        """Apply the workers' news on the UI thread; returns the tasks that changed (the UI redraws, and applies
        the results of those that finished)."""
        changed: dict[str, Task] = {}
        while True:
            try:
                task_id, changes = self.events.get_nowait()
            except queue.Empty:
                break
            with self.lock:
                task = self.tasks.get(task_id)
            if task is None:
                continue
            if task.finished and changes.get("state") not in (None, *FINISHED):
                continue  # late news from a poll after the end
            for key, value in changes.items():
                setattr(task, key, value)
            changed[task.id] = task
            if task.kind in ("start", "connect") and task.state == "done":
                self.local, self.client = task.result if task.kind == "start" else (None, task.result)
                self.error = ""
                self.status = task.message or self.status
            elif task.kind in ("start", "connect") and task.state == "failed":
                self.error, self.status = task.error, "not connected"
        return list(changed.values())

    def wait(self, task: Task, timeout: float) -> Task:
        """Drain until ``task`` ends (scripts and tests: the UI's timer does this in Blender)."""
        deadline = time.monotonic() + timeout
        while not task.finished and time.monotonic() < deadline:
            self.drain()
            time.sleep(0.05)
        self.drain()
        return task

    # -- connection ---------------------------------------------------------------------------------------
    def start_local(self, python: str, data_dir: str) -> Task:
        """Start a local engine in a worker; the session holds it when the task is done."""

        def work(task: Task):
            engine = LocalEngine(python, data_dir)
            self.update(task, stage="checking the engine's Python")
            client = engine.start()
            info = client.status()
            self.update(task, message=f"local engine ready ({info['device']}; {info['gsplat']['reason']})")
            return engine, client

        return self._run("start", "starting the engine", work)

    def connect_remote(self, url: str, token: str) -> Task:
        """Connect to a remote engine in a worker (up to 30 s); the session holds it when the task is done."""

        def work(task: Task):
            client = EngineClient(url, token, timeout=CONNECT_TIMEOUT_S)
            info = client.status()  # raises EngineError with the reason
            self.update(task, message=f"remote engine at {url} (protocol {info['protocol']}, {info['device']})")
            client.timeout = 60.0
            return client

        return self._run("connect", f"connecting to {url}", work)

    def stop(self) -> None:
        if self.local is not None:
            self.local.stop()
        self.client, self.local = None, None
        self.scene_ids.clear()
        self.scene_info.clear()
        self.status = "not connected"

    def check(self) -> bool:
        """Health check: True when the engine answers (updates ``status``). A short call: for a script or a test,
        not for the UI thread."""
        if self.client is None:
            self.status = "not connected"
            return False
        try:
            info = self.client.status()
        except EngineError as exc:
            self.status, self.error = "engine not answering", exc.message
            return False
        where = "local" if self.local is not None else "remote"
        self.status = f"{where} engine ready ({info['device']}, {len(info['scenes'])} scene(s) open)"
        return True

    def require_client(self) -> EngineClient:
        if self.client is None:
            raise EngineError(0, "no engine: start a local engine or connect to a remote one in the SAGA panel")
        return self.client

    # -- scenes (called from workers; a remote engine gets the file uploaded) --------------------------------
    def scene_id_for(self, path: str, task: Task | None = None) -> tuple[str, bool]:
        """(engine scene id, prepared) for a splat file, opening (or uploading) it on the engine when needed."""
        client = self.require_client()
        sid = self.scene_ids.get(path)
        info = None
        if sid is not None:
            try:
                info = client.scene(sid)
            except EngineError:
                info = None  # the engine restarted: open again
        if info is None:
            if self.local is not None:  # a local engine reads the file where it is
                info = client.open_scene(path)
            else:  # a remote one has its own paths: send the file

                def progress(sent: int, total: int) -> None:
                    if task is not None:
                        self.update(task, stage=f"uploading {sent >> 20} / {total >> 20} MiB",
                                    percent=100.0 * sent / max(total, 1))  # fmt: skip

                info = client.upload_scene(path, progress=progress)
            self.scene_ids[path] = info["id"]
        self.scene_info[path] = info
        return info["id"], bool(info["prepared"])

    def require_prepared(self, path: str, object_name: str, task: Task | None = None) -> str:
        """The engine scene id of a prepared splat; EngineError saying why it is not (never prepared, or its
        training is damaged)."""
        sid, prepared = self.scene_id_for(path, task)
        if not prepared:
            problem = self.scene_info[path].get("problem")
            raise EngineError(409, f"'{object_name}' is not prepared: {problem}" if problem
                              else f"'{object_name}' is not prepared yet: run Prepare Scene first")  # fmt: skip
        return sid

    # -- prepare and Segment Everything ----------------------------------------------------------------------
    def start_prepare(self, path: str, object_name: str, params: dict) -> Task:
        """Open (or upload) the splat, start the engine's prepare job and follow it, all in a worker."""
        client = self.require_client()

        def work(task: Task):
            sid, _ = self.scene_id_for(path, task)
            job = client.prepare(sid, **params)
            self.update(task, scene_id=sid, job_id=job["id"], stage="queued", percent=0.0)
            while True:
                try:
                    info = client.job(job["id"])
                except EngineError as exc:
                    raise EngineError(0, f"lost the engine during prepare: {exc.message}") from None
                if info["state"] in FINISHED:
                    if info["state"] != "done":
                        raise TaskEnded(info["state"], info["error"] or f"the prepare was {info['state']}")
                    self.scene_info.setdefault(path, {})["prepared"] = True
                    self.scene_info[path].pop("problem", None)
                    return sid
                self.update(task, stage=info["stage"], percent=info["percent"], eta_s=info["eta_s"],
                            message=info["message"])  # fmt: skip
                time.sleep(POLL_S)

        return self._run("prepare", f"prepare {object_name}", work, object_name)

    def cancel_prepare(self, object_name: str | None = None) -> Task | None:
        """Ask the engine (in a worker) to cancel the running prepare of ``object_name`` (or the latest one)."""
        task = self.latest("prepare", object_name)
        if task is None or task.finished or self.client is None:
            return None
        if not task.job_id:
            raise EngineError(0, "the prepare has not reached the engine yet (still uploading); try again in a moment")
        client, job_id = self.client, task.job_id
        return self._run("cancel", f"cancel {task.label}", lambda _t: client.cancel(job_id), task.object_name)

    def start_cluster(self, path: str, object_name: str, scale: float) -> Task:
        """Segment Everything in a worker; the task's result is the label of every Gaussian (the UI applies it)."""
        client = self.require_client()

        def work(task: Task):
            sid = self.require_prepared(path, object_name, task)
            self.update(task, stage="clustering", scene_id=sid, percent=10.0)
            return client.cluster(sid, scale)

        return self._run("cluster", f"segment everything in {object_name}", work, object_name)


SESSION = EngineSession()


@atexit.register
def _stop_local_engine_on_quit() -> None:
    if SESSION.local is not None:
        SESSION.local.stop(timeout=5.0)
