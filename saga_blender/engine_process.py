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

    @property
    def stderr_path(self) -> str:
        """Where the engine's standard error goes (warnings, crashes): a file, never a pipe nobody reads."""
        return os.path.join(self.data_dir, "engine-stderr.log")

    def start(self, timeout: float = 180.0, check: bool = True) -> EngineClient:
        """Start the engine and connect; EngineSetupError (the process stopped) when it does not come up right."""
        if check:
            check_interpreter(self.python)
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.stderr_path, "ab") as err:
            self.process = subprocess.Popen(
                [self.python, "-m", "engine", "serve", "--port", "0", "--data-dir", self.data_dir, *self.extra_args],
                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
            )  # fmt: skip
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.process.stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise EngineSetupError(f"the engine did not report ready within {timeout:.0f} s (see "
                                   f"{self.stderr_path})") from None  # fmt: skip
        if not line:
            self.process.wait(timeout=10)
            raise EngineSetupError(f"the engine exited at start (code {self.process.returncode}): "
                                   f"{self._stderr_tail()}")  # fmt: skip
        try:
            self.ready = json.loads(line)
            self.client = EngineClient.from_ready_line(line)
        except (ValueError, KeyError, TypeError, AttributeError, OSError, EngineError) as exc:
            self.kill()
            reason = exc.message if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
            raise EngineSetupError(f"the engine's ready line is not understood ({reason}): {line[:200]!r}; the "
                                   "process was stopped") from None  # fmt: skip
        # nothing reads stdout from here on: point it nowhere so the engine never blocks on a full pipe
        threading.Thread(target=self._drain_stdout, daemon=True).start()
        return self.client

    def _drain_stdout(self) -> None:
        with open(self.stderr_path, "a") as out:
            for line in self.process.stdout:
                out.write(line)

    def _stderr_tail(self, limit: int = 2000) -> str:
        try:
            with open(self.stderr_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - limit))
                return fh.read().decode(errors="replace").strip()
        except OSError:
            return ""

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

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
