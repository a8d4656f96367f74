"""Client of the SAGA engine service: one typed call per endpoint, standard library only.

It lives in the Blender extension (no third-party packages; numpy, which Blender ships, is imported only to
turn ``.npy`` bytes into arrays). Every call raises :class:`EngineError` with the engine's own message, or
with "cannot reach the engine" when there is no answer.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

PROTOCOL_VERSION = 1


class EngineError(RuntimeError):
    """The engine refused a request (``status`` is the HTTP code) or could not be reached (``status`` 0)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class QueryResult:
    ids: object  # numpy int64 [M]: the selected Gaussian ids
    notes: list[str] = field(default_factory=list)
    timings_ms: dict = field(default_factory=dict)


def _npy_bytes(array) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def _npy_array(data: bytes):
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


class _CountingReader:
    """A file object that reports how much of it has been read (urllib streams a body by read())."""

    def __init__(self, fh, progress):
        self.fh, self.progress = fh, progress
        self.total = os.fstat(fh.fileno()).st_size
        self.sent = 0

    def fileno(self) -> int:
        return self.fh.fileno()

    def read(self, size: int = -1) -> bytes:
        chunk = self.fh.read(size)
        self.sent += len(chunk)
        self.progress(self.sent, self.total)
        return chunk


class EngineClient:
    def __init__(self, url: str, token: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @staticmethod
    def from_ready_line(line: str) -> EngineClient:
        """Connect with the JSON ready line that ``saga-engine serve`` prints (reads its token file)."""
        ready = json.loads(line)
        if ready.get("saga_engine") != "ready":
            raise EngineError(0, f"not an engine ready line: {line[:200]!r}")
        if ready.get("protocol") != PROTOCOL_VERSION:
            raise EngineError(0, f"engine speaks protocol {ready.get('protocol')}, this add-on {PROTOCOL_VERSION}")
        with open(ready["token_file"]) as fh:
            return EngineClient(ready["url"], fh.read().strip())

    # -- transport ----------------------------------------------------------------------------------------
    def request(self, method: str, path: str, body=None, data: bytes | None = None, query: dict | None = None,
                content_type: str = "application/json", timeout: float | None = None):  # fmt: skip
        """(status, headers, body bytes). JSON ``body`` or raw ``data`` (bytes or a file object)."""
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        if data is not None and not isinstance(data, bytes):  # a file: stream it with its length
            headers["Content-Length"] = str(os.fstat(data.fileno()).st_size)
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                return resp.status, resp.headers, resp.read()  # headers: case-insensitive lookups
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw).get("detail", raw.decode(errors="replace"))
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace") or exc.reason
            raise EngineError(exc.code, str(message)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EngineError(0, f"cannot reach the engine at {self.url} ({reason})") from None

    def _json(self, method: str, path: str, body=None, **kw):
        return json.loads(self.request(method, path, body, **kw)[2])

    # -- endpoints ----------------------------------------------------------------------------------------
    def status(self) -> dict:
        return self._json("GET", "/v1/status")

    def openapi(self) -> dict:
        return self._json("GET", "/v1/openapi.json")

    def open_scene(self, path: str, sanitize: bool = False) -> dict:
        return self._json("POST", "/v1/scenes", {"path": path, "sanitize": sanitize})

    def upload_scene(self, filepath: str, progress=None) -> dict:
        """Send a splat file to the engine (streamed from disk); ``progress(sent, total)`` is called as it goes."""
        with open(filepath, "rb") as fh:
            data = _CountingReader(fh, progress) if progress is not None else fh
            _, _, raw = self.request("POST", "/v1/scenes/upload", data=data, content_type="application/octet-stream",
                                     query={"filename": os.path.basename(filepath)}, timeout=3600)  # fmt: skip
        return json.loads(raw)

    def scene(self, scene_id: str) -> dict:
        return self._json("GET", f"/v1/scenes/{scene_id}")

    def views(self, scene_id: str) -> dict:
        """A prepared scene's training views: a saga camera set (each view at its own size) + ``training_size``."""
        return self._json("GET", f"/v1/scenes/{scene_id}/views")

    def close_scene(self, scene_id: str) -> dict:
        return self._json("DELETE", f"/v1/scenes/{scene_id}")

    def prepare(self, scene_id: str, **params) -> dict:
        """Start a prepare job (views, masks, training); see the engine's PrepareRequest for ``params``."""
        return self._json("POST", f"/v1/scenes/{scene_id}/prepare", params)

    def jobs(self) -> list[dict]:
        return self._json("GET", "/v1/jobs")

    def job(self, job_id: str) -> dict:
        return self._json("GET", f"/v1/jobs/{job_id}")

    def cancel(self, job_id: str) -> dict:
        return self._json("POST", f"/v1/jobs/{job_id}/cancel")

    def wait(self, job_id: str, poll: float = 0.5, timeout: float | None = None, on_progress=None) -> dict:
        """Poll a job until it ends; returns its final record (state done, failed or cancelled)."""
        start = time.monotonic()
        while True:
            info = self.job(job_id)
            if on_progress is not None:
                on_progress(info)
            if info["state"] in ("done", "failed", "cancelled"):
                return info
            if timeout is not None and time.monotonic() - start > timeout:
                raise EngineError(0, f"job {job_id} still {info['state']} after {timeout:.0f} s")
            time.sleep(poll)

    def query(self, scene_id: str, camera: dict | None, scale: float, positive=(), negative=(), threshold: float = 0.75,
              positive_scribbles=(), negative_scribbles=(), mask=None, outlier_filter: bool = False,
              grow: bool = False, more_views=(), view: int | None = None) -> QueryResult:  # fmt: skip
        """camera: {"viewmat": 4x4, "K": 3x3, "width": W, "height": H, "camera_model": "pinhole"|"ortho"} (OpenCV
        axes, world-to-camera), or None with ``view``: a training view's index (prompts in its own pixels).
        ``more_views``: [{"camera", "positive", "negative"}] of points clicked in other views, combined with these."""
        body = {"scale": scale, "threshold": threshold, "positive": [list(p) for p in positive],
                "negative": [list(p) for p in negative], "outlier_filter": outlier_filter, "grow": grow,
                "positive_scribbles": [[list(p) for p in s] for s in positive_scribbles],
                "negative_scribbles": [[list(p) for p in s] for s in negative_scribbles]}  # fmt: skip
        if more_views:
            body["more_views"] = [
                {"camera": v["camera"], "positive": [list(p) for p in v.get("positive", ())],
                 "negative": [list(p) for p in v.get("negative", ())]} for v in more_views
            ]  # fmt: skip
        if mask is not None:
            body["mask_npy"] = base64.b64encode(_npy_bytes(mask)).decode()
        body.update({"camera": camera} if view is None else {"view": view})
        _, headers, raw = self.request("POST", f"/v1/scenes/{scene_id}/query", body)
        return QueryResult(_npy_array(raw), json.loads(headers.get("X-Saga-Notes", "[]")),
                           json.loads(headers.get("X-Saga-Timings", "{}")))  # fmt: skip

    def cluster(self, scene_id: str, scale: float, seed: int = 0, sample_fraction: float = 0.02):
        """[N] int32 cluster label per Gaussian."""
        body = {"scale": scale, "seed": seed, "sample_fraction": sample_fraction}
        return _npy_array(self.request("POST", f"/v1/scenes/{scene_id}/cluster", body, timeout=3600)[2])

    def similar(self, scene_id: str, ids, scale: float, threshold: float = 0.75):
        """[M] int64 ids: the selection ``ids`` and every Gaussian whose feature matches it at ``scale``."""
        query = {"scale": scale, "threshold": threshold}
        _, _, raw = self.request("POST", f"/v1/scenes/{scene_id}/similar", data=_npy_bytes(ids), query=query,
                                 content_type="application/x-npy")  # fmt: skip
        return _npy_array(raw)

    def extract(self, scene_id: str, ids, invert: bool = False, out: str | None = None):
        """The INRIA .ply bytes of the Gaussians ``ids`` (or all others); with ``out``, the engine writes the
        file itself and the call returns {"path", "gaussians"}."""
        query = {"invert": str(invert).lower(), **({"out": out} if out else {})}
        _, _, raw = self.request("POST", f"/v1/scenes/{scene_id}/extract", data=_npy_bytes(ids), query=query,
                                 content_type="application/x-npy", timeout=3600)  # fmt: skip
        return json.loads(raw) if out else raw

    def shutdown(self) -> dict:
        return self._json("POST", "/v1/shutdown")
