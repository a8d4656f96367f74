"""The engine's HTTP API (FastAPI): version 1 under ``/v1``, OpenAPI document at ``/v1/openapi.json``.

Every request carries ``Authorization: Bearer <token>`` (compared in constant time). Arrays travel as ``.npy``
bytes (``application/x-npy``; read with ``allow_pickle=False``). Errors are JSON ``{"detail": "..."}`` with a
4xx status that says what is wrong. Request bodies are bounded (``BodyLimit``).
"""

from __future__ import annotations

import base64
import hmac
import io
import json
import logging
import os
import tempfile
import threading
from typing import Literal

import numpy as np
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from .prepare_job import PrepareRequest, prepare_work
from .state import EngineState, ServiceError

PROTOCOL_VERSION = 1
NPY = "application/x-npy"
MAX_JSON_BYTES = 64 << 20  # 64 MiB for JSON and .npy bodies
MAX_UPLOAD_BYTES = 8 << 30  # 8 GiB for a splat upload

log = logging.getLogger("saga.engine")


class BodyLimit:
    """ASGI middleware: 413 when a body exceeds its route's limit (declared length or streamed bytes)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = MAX_UPLOAD_BYTES if scope["path"].endswith("/upload") else MAX_JSON_BYTES
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _plain_error(send, 413, f"request body larger than the limit of {limit} bytes")
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge()
            return message

        try:
            return await self.app(scope, limited, send)
        except _TooLarge:
            return await _plain_error(send, 413, f"request body larger than the limit of {limit} bytes")


class _TooLarge(Exception):
    pass


async def _plain_error(send, status: int, detail: str):
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Camera(BaseModel):
    viewmat: list[list[float]] = Field(..., description="4x4 world-to-camera, OpenCV axes (x right, y down)")
    K: list[list[float]] = Field(..., description="3x3 intrinsics")
    width: int = Field(..., ge=1, le=32768)
    height: int = Field(..., ge=1, le=32768)
    camera_model: Literal["pinhole", "ortho"] = "pinhole"


Point = tuple[float, float]


class ViewPrompts(BaseModel):
    """Points clicked in another view, combined with the main ones (a view may hold only negatives)."""

    camera: Camera
    positive: list[Point] = Field(default_factory=list, max_length=1000)
    negative: list[Point] = Field(default_factory=list, max_length=1000)


class QueryRequest(BaseModel):
    camera: Camera
    positive: list[Point] = Field(default_factory=list, max_length=1000)
    negative: list[Point] = Field(default_factory=list, max_length=1000)
    positive_scribbles: list[list[Point]] = Field(default_factory=list, max_length=100)
    negative_scribbles: list[list[Point]] = Field(default_factory=list, max_length=100)
    mask_npy: str | None = Field(None, description="base64 of a .npy bool [H, W] positive mask")
    scale: float = Field(..., ge=0.0, le=1.0)
    threshold: float = Field(0.75, ge=-1.0, le=1.0)
    outlier_filter: bool = False
    grow: bool = False
    more_views: list[ViewPrompts] = Field(default_factory=list, max_length=64)


def _camera(c: Camera):
    from engine.query.prompts import QueryCamera

    return QueryCamera(np.array(c.viewmat), np.array(c.K), c.width, c.height, c.camera_model)


class OpenRequest(BaseModel):
    path: str = Field(..., min_length=1, max_length=4096)
    sanitize: bool = False


class ClusterRequest(BaseModel):
    scale: float = Field(..., ge=0.0, le=1.0)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    sample_fraction: float = Field(0.02, gt=0.0, le=1.0)


def load_npy(data: bytes, what: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ServiceError(400, f"{what}: not a .npy array ({exc})") from exc


def npy_response(array: np.ndarray, headers: dict | None = None) -> Response:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return Response(buf.getvalue(), media_type=NPY, headers=headers or {})


def create_app(state: EngineState, token: str, on_shutdown=None) -> FastAPI:
    app = FastAPI(title="SAGA engine", version=str(PROTOCOL_VERSION), openapi_url=None, docs_url=None,
                  redoc_url=None)  # fmt: skip
    app.add_middleware(BodyLimit)
    expected = token.encode()

    def authorised(request: Request) -> None:
        header = request.headers.get("authorization", "")
        given = header[7:].encode() if header.startswith("Bearer ") else b""
        if not hmac.compare_digest(given, expected):
            raise ServiceError(401, "missing or wrong token (send 'Authorization: Bearer <token>')")

    @app.exception_handler(ServiceError)
    async def service_error(_request, exc: ServiceError):
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return JSONResponse({"detail": f"bad request: {problems}"}, status_code=422)

    auth = [Depends(authorised)]

    @app.get("/v1/openapi.json", dependencies=auth)
    def openapi():
        return app.openapi()

    @app.get("/v1/status", dependencies=auth)
    def status():
        import torch

        return {
            "protocol": PROTOCOL_VERSION, "engine": _engine_version(), "data_dir": state.data_dir,
            "device": "cuda" if torch.cuda.is_available() else "cpu",
            "scenes": [s.info() for s in state.scenes.values()], "jobs": [j.info() for j in state.jobs.values()],
        }  # fmt: skip

    @app.post("/v1/scenes", dependencies=auth, status_code=201)
    def open_scene(req: OpenRequest):
        return state.open_scene(req.path, req.sanitize).info()

    @app.post("/v1/scenes/upload", dependencies=auth, status_code=201)
    async def upload_scene(request: Request, filename: str = Query(..., min_length=1, max_length=255)):
        chunks = []
        async for chunk in request.stream():
            chunks.append(chunk)
        if not any(chunks):
            raise ServiceError(400, "empty upload")
        path = state.save_upload(filename, chunks)
        return state.open_scene(path).info()

    @app.get("/v1/scenes/{scene_id}", dependencies=auth)
    def scene_info(scene_id: str):
        return state.scene(scene_id).info()

    @app.delete("/v1/scenes/{scene_id}", dependencies=auth)
    def close_scene(scene_id: str):
        state.close_scene(scene_id)
        return {"closed": scene_id}

    @app.post("/v1/scenes/{scene_id}/prepare", dependencies=auth, status_code=202)
    def prepare(scene_id: str, req: PrepareRequest):
        scene = state.scene(scene_id)
        job = state.start_job(scene, "prepare", prepare_work(state, scene, req), log)
        log.info("prepare job %s started for scene %s: %s", job.id, scene.id, req.model_dump_json())
        return job.info()

    @app.get("/v1/jobs", dependencies=auth)
    def jobs():
        return [j.info() for j in state.jobs.values()]

    @app.get("/v1/jobs/{job_id}", dependencies=auth)
    def job_info(job_id: str):
        return state.job(job_id).info()

    @app.post("/v1/jobs/{job_id}/cancel", dependencies=auth)
    def cancel(job_id: str):
        job = state.job(job_id)
        job.cancel.set()
        return job.info()

    @app.post("/v1/scenes/{scene_id}/query", dependencies=auth)
    def query(scene_id: str, req: QueryRequest):
        from engine.query.postprocess import PostProcess
        from engine.query.prompts import PromptError, Prompts

        predictor = state.scene(scene_id).predictor()
        try:
            camera = _camera(req.camera)
            mask = load_npy(base64.b64decode(req.mask_npy, validate=True), "mask_npy") if req.mask_npy else None
            prompts = Prompts(req.positive, req.negative, [list(s) for s in req.positive_scribbles],
                              [list(s) for s in req.negative_scribbles], mask)  # fmt: skip
            post = PostProcess(req.outlier_filter, req.grow) if req.outlier_filter or req.grow else None
            more = [(_camera(v.camera), Prompts(v.positive, v.negative, require_positive=False))
                    for v in req.more_views]  # fmt: skip
            sel = predictor.predict(camera, prompts, req.scale, req.threshold, post, more)
        except (PromptError, ValueError) as exc:
            raise ServiceError(400, str(exc)) from exc
        return npy_response(sel.ids, {"X-Saga-Count": str(len(sel.ids)), "X-Saga-Notes": json.dumps(sel.notes),
                                      "X-Saga-Timings": json.dumps(sel.timings_ms)})  # fmt: skip

    @app.post("/v1/scenes/{scene_id}/cluster", dependencies=auth)
    def cluster(scene_id: str, req: ClusterRequest):
        from engine.query.segment_everything import segment_everything

        predictor = state.scene(scene_id).predictor()
        clusters = segment_everything(predictor.scorer, req.scale, sample_fraction=req.sample_fraction, seed=req.seed)
        return npy_response(clusters.labels, {"X-Saga-Clusters": str(clusters.count)})

    @app.post("/v1/scenes/{scene_id}/similar", dependencies=auth)
    async def similar(scene_id: str, request: Request, scale: float = Query(..., ge=0.0, le=1.0),
                      threshold: float = Query(0.75, ge=-1.0, le=1.0)):  # fmt: skip
        """Select Similar (body: ``.npy`` ids of the selection): the selection and every Gaussian like it."""
        from engine.query.prompts import PromptError
        from engine.query.similar import select_similar

        predictor = state.scene(scene_id).predictor()
        ids = load_npy(await request.body(), "ids")
        try:
            result = select_similar(predictor.scorer, ids, scale, threshold, predictor.checkpoint.visibility)
        except (PromptError, ValueError, TypeError) as exc:
            raise ServiceError(400, str(exc)) from exc
        return npy_response(result.ids, {"X-Saga-Count": str(len(result.ids)), "X-Saga-Added": str(result.added),
                                         "X-Saga-Notes": json.dumps(result.notes)})  # fmt: skip

    @app.post("/v1/scenes/{scene_id}/extract", dependencies=auth)
    async def extract(scene_id: str, request: Request, invert: bool = False, out: str | None = None):
        from engine.query_commands import select_rows

        scene = state.scene(scene_id)
        from saga_blender.core.splat_io import write_splat

        ids = load_npy(await request.body(), "ids")
        try:
            rows = select_rows(ids, len(scene.splat), invert)
        except ValueError as exc:
            raise ServiceError(400, str(exc)) from exc
        part = scene.splat.subset(rows)

        if out is not None:
            target = state.resolve_path(out, must_exist=False)
            if not os.path.isdir(os.path.dirname(target)):
                raise ServiceError(404, f"the folder of {out} does not exist on the engine's machine")
            write_splat(target, part)
            return {"path": target, "gaussians": len(part)}
        with tempfile.TemporaryDirectory(dir=os.path.join(state.data_dir, "exports")) as tmp:
            path = os.path.join(tmp, "part.ply")
            write_splat(path, part)
            with open(path, "rb") as fh:
                data = fh.read()
        return Response(data, media_type="application/octet-stream", headers={"X-Saga-Count": str(len(part))})

    @app.post("/v1/shutdown", dependencies=auth)
    def shutdown():
        log.info("shutdown requested: cancelling %d job(s)", sum(j.state == "running" for j in state.jobs.values()))

        def stop():
            state.stop_jobs()
            if on_shutdown is not None:
                on_shutdown()

        threading.Thread(target=stop, daemon=True).start()
        return {"stopping": True}

    return app


def _engine_version() -> str:
    import engine

    return engine.__version__
