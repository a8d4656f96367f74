"""``saga-engine serve``: run the engine service until shutdown.

Prints one JSON line once it accepts requests::

    {"saga_engine": "ready", "url": "http://127.0.0.1:41234", "protocol": 1, "pid": 123, "token_file": ..., "log": ...}

The token is read from ``--token-file`` (created with a fresh random token, mode 0600, when missing). The default
bind is loopback; any other address needs ``--allow-remote`` and then confines client paths to the data folder
(plus ``--allow-path`` folders). The log goes to ``--log-file`` (default ``<data>/engine.log``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time

from engine.cli_support import UsageError, int_range

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
MAX_CONNECTIONS = 256  # requests past this many open connections get 503 (each one is bounded in time)


def add_parser(sub) -> None:
    s = sub.add_parser("serve", help="run the engine service (HTTP API) for Blender or other clients")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    s.add_argument("--port", type=int_range(0, 65535), default=0,
                   help="port (0: any free port, printed in the ready line)")  # fmt: skip
    s.add_argument("--token-file", help="file holding the access token (created if missing; default <data>/token)")
    s.add_argument("--data-dir", default=os.environ.get("SAGA_ENGINE_DATA", os.path.expanduser("~/.cache/saga-engine")),
                   help="work folders of prepared scenes, uploads, log (default ~/.cache/saga-engine)")  # fmt: skip
    s.add_argument("--log-file", help="log file (default <data>/engine.log)")
    s.add_argument("--allow-remote", action="store_true", help="allow binding to a non-loopback address")
    s.add_argument("--allow-path", action="append", default=[], help="extra folder remote clients may name")
    s.add_argument("--confine", action="store_true", help="confine client paths to the data folder (and --allow-path "
                   "folders) on loopback too, as for a remote engine (a shared machine)")  # fmt: skip
    s.add_argument("--header-timeout", type=float, default=10.0, help="seconds a client has to send a request's head "
                   "(default 10; then 408 and the connection closes)")  # fmt: skip
    s.add_argument("--body-timeout", type=float, default=30.0, help="seconds for a request body (or, for an upload, "
                   "between two chunks) before 408 (default 30)")  # fmt: skip
    s.set_defaults(func=cmd_serve)


def read_or_create_token(path: str) -> str:
    if os.path.exists(path):
        if not os.path.isfile(path):
            raise UsageError(f"{path}: the token file is not a regular file")
        with open(path) as fh:
            token = fh.read(4096).strip()
        if len(token) < 16:
            raise UsageError(f"{path}: the token must be at least 16 characters")
        return token
    from saga_blender.core.atomic_files import make_folder, write_text

    make_folder(os.path.dirname(os.path.abspath(path)), "token folder")
    token = secrets.token_urlsafe(32)
    write_text(path, token + "\n", permissions=0o600)
    return token


def cmd_serve(args) -> int:
    import uvicorn

    from .app import PROTOCOL_VERSION, create_app
    from .state import EngineState

    loopback = args.host in LOOPBACK
    if not loopback and not args.allow_remote:
        raise UsageError(f"binding to {args.host} exposes the engine to the network; add --allow-remote if you mean "
                         "it (clients then need the token, and their paths stay inside the data folder)")  # fmt: skip
    if not loopback:
        print(f"warning: the engine listens on {args.host}:{args.port or '(any port)'}, reachable from other "
              "machines; anyone with the token can use it", file=sys.stderr, flush=True)  # fmt: skip
    from saga_blender.core.atomic_files import make_folder

    data_dir = make_folder(os.path.abspath(args.data_dir), "data folder")
    token_file = os.path.abspath(args.token_file or os.path.join(data_dir, "token"))
    token = read_or_create_token(token_file)
    log_file = os.path.abspath(args.log_file or os.path.join(data_dir, "engine.log"))
    try:
        handler = logging.FileHandler(log_file)
    except OSError as exc:
        raise UsageError(f"{log_file}: cannot write the log ({exc.strerror or exc}); give --log-file") from exc
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.captureWarnings(True)  # library warnings go to the log, not to a stderr nobody may read
    for name in ("saga.engine", "uvicorn", "uvicorn.error", "py.warnings"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    engine_lock = hold_data_folder(data_dir)

    state = EngineState(data_dir, confine_paths=args.confine or not loopback, extra_roots=tuple(args.allow_path),
                        owned_files=(token_file, log_file))  # fmt: skip
    from engine.render.rasterization import gsplat_status

    logging.getLogger("saga.engine").info("gsplat: %s", gsplat_status()["reason"])
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    sock.listen(64)
    port = sock.getsockname()[1]
    server: uvicorn.Server | None = None

    def stop() -> None:
        if server is not None:
            server.should_exit = True

    from .http_protocol import protocol_with

    if not (0 < args.header_timeout <= 3600 and 0 < args.body_timeout <= 3600):
        raise UsageError("--header-timeout and --body-timeout must be between 0 and 3600 seconds")
    app = create_app(state, token, on_shutdown=stop, log_file=log_file, body_timeout_s=args.body_timeout)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                            http=protocol_with(args.header_timeout), limit_concurrency=MAX_CONNECTIONS,
                            timeout_keep_alive=5)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="http", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.01)
    if not thread.is_alive():
        raise UsageError("the HTTP server did not start (see the log: " + log_file + ")")
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    ready = {"saga_engine": "ready", "url": f"http://{host}:{port}", "protocol": PROTOCOL_VERSION,
             "pid": os.getpid(), "token_file": token_file, "log": log_file}  # fmt: skip
    print(json.dumps(ready), flush=True)
    logging.getLogger("saga.engine").info("ready: %s", ready)

    def on_signal(_signum, _frame) -> None:
        state.stop_jobs(timeout=5.0)
        stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while thread.is_alive():
        thread.join(0.2)
    state.stop_jobs(timeout=5.0)
    logging.getLogger("saga.engine").info("stopped")
    engine_lock.close()
    return 0


def hold_data_folder(data_dir: str):
    """Hold ``<data>/.engine.lock`` for the engine's life: two engines on one data folder would share work folders
    and uploads behind each other's back. Returns the open lock file (closing it releases the lock)."""
    path = os.path.join(data_dir, ".engine.lock")
    fh = open(path, "a+")
    try:
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # Windows: no advisory locks here; one engine per data folder is then up to the user
        return fh
    except BlockingIOError:
        fh.close()
        raise UsageError(f"another engine is running with the data folder {data_dir}; stop it, or give this one "
                         "another --data-dir") from None  # fmt: skip
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh
