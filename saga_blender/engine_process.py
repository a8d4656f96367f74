"""Start, find and stop a local engine process (no bpy; standard library only).

The engine runs in the Python interpreter the user chose (one that has the engine's packages: torch, ...),
never inside Blender. ``LocalEngine.start`` checks that interpreter first and explains what is missing and how to
install it, then starts ``python -m engine serve --port 0`` and reads its ready line.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading

from .engine_client import EngineClient, EngineError

INSTALL_HINT = (
    "install the engine into that Python: python -m pip install 'saga-blender[engine]' from the project's folder "
    "(python -m pip install -e '/path/to/saga-blender[engine,sam]'), or run scripts/setup_env.sh and use "
    "/path/to/saga-blender/.venv/bin/python"
)
CHECK_IMPORTS = "import engine.service.serve_command, torch, fastapi, uvicorn, scipy"


class EngineSetupError(RuntimeError):
    """The local engine cannot start; the message says why and what to do."""


def check_interpreter(python: str, timeout: float = 120.0) -> None:
    """Raise EngineSetupError unless ``python`` exists and imports the engine's packages."""
    if not python:
        raise EngineSetupError("no engine Python is set: choose one in the add-on's preferences; " + INSTALL_HINT)
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise EngineSetupError(f"the engine Python {python!r} does not exist or is not executable")
    try:
        done = subprocess.run([python, "-c", CHECK_IMPORTS], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineSetupError(f"cannot run {python}: {exc}") from exc
    if done.returncode != 0:
        missing = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise EngineSetupError(f"{python} lacks the engine ({missing}); {INSTALL_HINT}")


class LocalEngine:
    """An engine process started by the add-on; ``client`` talks to it."""

    def __init__(self, python: str, data_dir: str, extra_args: tuple[str, ...] = ()):
        self.python, self.data_dir, self.extra_args = python, data_dir, extra_args
        self.process: subprocess.Popen | None = None
        self.client: EngineClient | None = None
        self.ready: dict = {}

    def start(self, timeout: float = 180.0, check: bool = True) -> EngineClient:
        if check:
            check_interpreter(self.python)
        os.makedirs(self.data_dir, exist_ok=True)
        self.process = subprocess.Popen(
            [self.python, "-m", "engine", "serve", "--port", "0", "--data-dir", self.data_dir, *self.extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.process.stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise EngineSetupError(f"the engine did not report ready within {timeout:.0f} s") from None
        if not line:
            err = self.process.stderr.read()[-2000:] if self.process.stderr else ""
            self.process.wait(timeout=10)
            raise EngineSetupError(f"the engine exited at start (code {self.process.returncode}): {err.strip()}")
        self.ready = json.loads(line)
        self.client = EngineClient.from_ready_line(line)
        return self.client

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the engine to shut down (jobs are cancelled, caches kept); kill it if it does not go."""
        if self.process is None:
            return
        if self.client is not None and self.running:
            try:
                self.client.shutdown()
            except EngineError:
                pass
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
