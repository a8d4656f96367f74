"""The add-on's connection to an engine, and the background work it runs through it (no bpy).

One ``EngineSession`` per Blender process: a local engine it started (stopped when Blender quits) or a remote
engine reached by URL and token. Long calls (start, prepare polling) run in worker threads; their results wait
in a queue that the UI drains from a ``bpy.app.timers`` callback, so Blender never freezes.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from dataclasses import dataclass, field

from .engine_client import EngineClient, EngineError
from .engine_process import EngineSetupError, LocalEngine


@dataclass
class PrepareState:
    scene_id: str
    job_id: str
    object_name: str
    state: str = "running"
    stage: str = ""
    percent: float = 0.0
    eta_s: float | None = None
    message: str = ""
    error: str = ""


@dataclass
class EngineSession:
    client: EngineClient | None = None
    local: LocalEngine | None = None
    status: str = "not connected"
    error: str = ""
    busy: str = ""  # what a worker is doing now ("starting the engine", ...)
    prepare: PrepareState | None = None
    scene_ids: dict[str, str] = field(default_factory=dict)  # splat content path -> engine scene id
    #: the engine's last answer about each splat file (``prepared``, ``problem``...), for the panel to show
    scene_info: dict[str, dict] = field(default_factory=dict)
    events: queue.Queue = field(default_factory=queue.Queue)

    # -- connection ---------------------------------------------------------------------------------------
    def start_local(self, python: str, data_dir: str) -> None:
        """Start a local engine in a worker thread; the outcome arrives as an event."""
        self.busy, self.error = "starting the engine", ""

        def work():
            try:
                engine = LocalEngine(python, data_dir)
                client = engine.start()
                self.events.put(("connected", engine, client))
            except (EngineSetupError, EngineError, OSError, ValueError) as exc:
                self.events.put(("error", str(exc)))

        threading.Thread(target=work, daemon=True).start()

    def connect_remote(self, url: str, token: str) -> None:
        client = EngineClient(url, token, timeout=30)
        info = client.status()  # raises EngineError with the reason
        self.client, self.local = client, None
        self.status, self.error = f"remote engine at {url} (protocol {info['protocol']}, {info['device']})", ""

    def stop(self) -> None:
        if self.local is not None:
            self.local.stop()
        self.client, self.local, self.prepare = None, None, None
        self.scene_ids.clear()
        self.scene_info.clear()
        self.status = "not connected"

    def check(self) -> bool:
        """Health check: True when the engine answers (updates ``status``)."""
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

    # -- scenes and prepare -------------------------------------------------------------------------------
    def scene_id_for(self, path: str) -> tuple[str, bool]:
        """(engine scene id, prepared) for a splat file, opening it on the engine when needed."""
        client = self.require_client()
        sid = self.scene_ids.get(path)
        info = None
        if sid is not None:
            try:
                info = client.scene(sid)
            except EngineError:
                info = None  # the engine restarted: open again
        if info is None:
            # a local engine reads the file where it is; a remote one gets it uploaded (its paths are its own)
            info = client.open_scene(path) if self.local is not None else client.upload_scene(path)
            self.scene_ids[path] = info["id"]
        self.scene_info[path] = info
        return info["id"], bool(info["prepared"])

    def require_prepared(self, path: str, object_name: str) -> str:
        """The engine scene id of a prepared splat; EngineError saying why it is not (never prepared, or its
        training is damaged)."""
        sid, prepared = self.scene_id_for(path)
        if not prepared:
            problem = self.scene_info[path].get("problem")
            raise EngineError(409, f"'{object_name}' is not prepared: {problem}" if problem
                              else f"'{object_name}' is not prepared yet: run Prepare Scene first")  # fmt: skip
        return sid

    def start_prepare(self, path: str, object_name: str, params: dict) -> PrepareState:
        client = self.require_client()
        sid, _ = self.scene_id_for(path)
        job = client.prepare(sid, **params)
        self.prepare = PrepareState(sid, job["id"], object_name)

        def poll():
            while True:
                try:
                    info = client.job(job["id"])
                except EngineError as exc:
                    self.events.put(("prepare-lost", exc.message))
                    return
                self.events.put(("prepare", info))
                if info["state"] in ("done", "failed", "cancelled"):
                    return
                time.sleep(0.5)

        threading.Thread(target=poll, daemon=True).start()
        return self.prepare

    def cancel_prepare(self) -> None:
        if self.prepare is not None and self.client is not None:
            self.client.cancel(self.prepare.job_id)

    def drain(self) -> bool:
        """Apply finished background work to the session; True when something changed (the UI redraws)."""
        changed = False
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return changed
            changed = True
            kind = event[0]
            if kind == "connected":
                _, self.local, self.client = event
                self.busy = ""
                self.check()
            elif kind == "error":
                self.busy, self.error, self.status = "", event[1], "not connected"
            elif kind == "prepare" and self.prepare is not None:
                info = event[1]
                p = self.prepare
                p.state, p.stage, p.percent, p.eta_s = info["state"], info["stage"], info["percent"], info["eta_s"]
                p.message, p.error = info["message"], info["error"]
            elif kind == "prepare-lost" and self.prepare is not None:
                self.prepare.state = "failed"
                self.prepare.error = f"lost the engine during prepare: {event[1]}"


SESSION = EngineSession()


@atexit.register
def _stop_local_engine_on_quit() -> None:
    if SESSION.local is not None:
        SESSION.local.stop(timeout=5.0)
