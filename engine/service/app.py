"""The engine's HTTP API (FastAPI): version 1 under ``/v1``, OpenAPI document at ``/v1/openapi.json``.

Every request carries ``Authorization: Bearer <token>``, checked before its body is read (``request_guard``).
Arrays travel as ``.npy`` bytes (``application/x-npy``; header read first, never pickles). Every list and size in a
request is bounded. Errors are JSON ``{"detail": "..."}`` with a 4xx status that says what is wrong; an error that
remains a 500 is a bug, logged with an id that the answer names.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import tempfile
import threading
import traceback
import uuid
from typing import Annotated, Literal

import numpy as np
from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field

from engine.api.errors import USER_ERRORS
from engine.api.npy_files import read_npy

from .errors import ServiceError, status_for
from .prepare_job import PrepareRequest, prepare_work
from .request_guard import BODY_DEADLINE_S, BodyTooLarge, RequestGuard, stream_chunks
from .state import EngineState

PROTOCOL_VERSION = 1
NPY = "application/x-npy"
MAX_IMAGE_SIDE = 16384
MAX_POINTS = 1000  # clicks of one kind in one view
MAX_SCRIBBLES = 100
MAX_SCRIBBLE_POINTS = 10_000
MAX_VIEWS = 64
UPLOAD_BATCH = 1 << 20  # bytes handed to the writer thread at a time

log = logging.getLogger("saga.engine")

Row4 = Annotated[list[float], Field(min_length=4, max_length=4)]
Row3 = Annotated[list[float], Field(min_length=3, max_length=3)]
Point = tuple[float, float]
Points = Annotated[list[Point], Field(max_length=MAX_POINTS)]
Scribble = Annotated[list[Point], Field(min_length=1, max_length=MAX_SCRIBBLE_POINTS)]


class Camera(BaseModel):
    viewmat: Annotated[list[Row4], Field(min_length=4, max_length=4)] = Field(
        ..., description="4x4 world-to-camera, OpenCV axes (x right, y down)")  # fmt: skip
    K: Annotated[list[Row3], Field(min_length=3, max_length=3)] = Field(..., description="3x3 intrinsics")
    width: int = Field(..., ge=1, le=MAX_IMAGE_SIDE)
    height: int = Field(..., ge=1, le=MAX_IMAGE_SIDE)
    camera_model: Literal["pinhole", "ortho"] = "pinhole"


class ViewPrompts(BaseModel):
    """Points clicked in another view, combined with the main ones (a view may hold only negatives)."""

    camera: Camera
    positive: Points = Field(default_factory=list)
    negative: Points = Field(default_factory=list)


class QueryRequest(BaseModel):
    camera: Camera | None = Field(None, description="the camera the prompts are given in (or give view)")
    view: int | None = Field(None, ge=0, le=100_000, description="a training view's index instead of a camera: "
                             "prompts are in that view's own pixels (the photo's, for a capture)")  # fmt: skip
    positive: Points = Field(default_factory=list)
    negative: Points = Field(default_factory=list)
    positive_scribbles: Annotated[list[Scribble], Field(max_length=MAX_SCRIBBLES)] = Field(default_factory=list)
    negative_scribbles: Annotated[list[Scribble], Field(max_length=MAX_SCRIBBLES)] = Field(default_factory=list)
    mask_npy: str | None = Field(None, max_length=64 << 20, description="base64 of a .npy bool [H, W] positive mask")
    scale: float = Field(..., ge=0.0, le=1.0)
    threshold: float = Field(0.75, ge=-1.0, le=1.0)
    outlier_filter: bool = False
    grow: bool = False
    more_views: Annotated[list[ViewPrompts], Field(max_length=MAX_VIEWS)] = Field(default_factory=list)


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


def npy_response(array: np.ndarray, headers: dict | None = None) -> Response:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return Response(buf.getvalue(), media_type=NPY, headers=headers or {})


def create_app(state: EngineState, token: str, on_shutdown=None, log_file: str | None = None,
               body_timeout_s: float = BODY_DEADLINE_S):  # fmt: skip
    """The ASGI application: the FastAPI routes inside ``RequestGuard`` (token first, bounded bodies)."""
    app = FastAPI(title="SAGA engine", version=str(PROTOCOL_VERSION), openapi_url=None, docs_url=None,
                  redoc_url=None)  # fmt: skip
    bearer = HTTPBearer(auto_error=False, description="the token of saga-engine serve (its token file)")

    def authorised(_credentials=Depends(bearer)) -> None:  # noqa: B008 - FastAPI's dependency idiom
        """Declares the scheme in the OpenAPI document; the check itself is ``RequestGuard``'s."""

    @app.exception_handler(ServiceError)
    async def service_error(_request, exc: ServiceError):
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    async def user_error(_request, exc: Exception):
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))

    for kind in USER_ERRORS:
        app.add_exception_handler(kind, user_error)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return JSONResponse({"detail": f"bad request: {problems[:2000]}"}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        error_id = uuid.uuid4().hex[:10]
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        log.error("internal error %s in %s %s:\n%s", error_id, request.method, request.url.path, trace)
        where = f" ({log_file})" if log_file else ""
        return JSONResponse({"detail": f"internal error {error_id}: a bug in the engine, logged with this id in the "
                                       f"engine log{where}; please report it", "error_id": error_id},
                            status_code=500)  # fmt: skip

    auth = [Depends(authorised)]

    @app.get("/v1/openapi.json", dependencies=auth)
    def openapi():
        return app.openapi()

    @app.get("/v1/status", dependencies=auth)
    def status():
        import torch

        from engine.render.rasterization import gsplat_status

        return {
            "protocol": PROTOCOL_VERSION, "engine": _engine_version(), "data_dir": state.data_dir,
            "device": "cuda" if torch.cuda.is_available() else "cpu", "gsplat": gsplat_status(),
            "scenes": [s.info() for s in state.scenes()], "jobs": [j.info() for j in state.jobs()],
        }  # fmt: skip

    @app.post("/v1/scenes", dependencies=auth, status_code=201)
    def open_scene(req: OpenRequest):
        return state.open_scene(req.path, req.sanitize).info()

    @app.post("/v1/scenes/upload", dependencies=auth, status_code=201)
    async def upload_scene(request: Request, filename: str = Query(..., min_length=1, max_length=255)):
        """The splat's bytes, streamed to disk in a worker thread (never held whole in memory); a failed or
        abandoned upload leaves nothing behind."""
        writer = await run_in_threadpool(state.begin_upload, filename)
        try:
            batch = bytearray()
            async for chunk in stream_chunks(request.receive, idle_s=body_timeout_s):
                batch += chunk
                if len(batch) >= UPLOAD_BATCH:
                    await run_in_threadpool(writer.write, bytes(batch))
                    batch.clear()
            if batch:
                await run_in_threadpool(writer.write, bytes(batch))
            path = await run_in_threadpool(writer.finish)
        except BodyTooLarge as exc:
            raise ServiceError(413, str(exc)) from exc
        except TimeoutError as exc:
            raise ServiceError(408, f"the upload stalled (no data for {body_timeout_s:g} s); send it again") from exc
        except ConnectionAbortedError as exc:
            raise ServiceError(400, "the upload was interrupted: the client went away") from exc
        finally:
            await run_in_threadpool(writer.abort)  # a no-op once finished
        return await run_in_threadpool(lambda: state.open_scene(path).info())

    @app.get("/v1/scenes/{scene_id}", dependencies=auth)
    def scene_info(scene_id: str):
        return state.scene(scene_id).info()

    @app.delete("/v1/scenes/{scene_id}", dependencies=auth)
    def close_scene(scene_id: str):
        state.close_scene(scene_id)
        return {"closed": scene_id}

    @app.get("/v1/scenes/{scene_id}/views", dependencies=auth)
    def views(scene_id: str):
        """The prepared scene's training views (saga camera set, each at its own size) and the training size."""
        trained = state.scene(scene_id).trained()
        if trained.cameras is None:
            raise ServiceError(404, f"scene {scene_id} was prepared without recording its views")
        return {**trained.cameras.to_json_dict(), "training_size": trained.training_size}

    @app.post("/v1/scenes/{scene_id}/prepare", dependencies=auth, status_code=202)
    def prepare(scene_id: str, req: PrepareRequest):
        scene = state.scene(scene_id)
        job = state.start_job(scene, "prepare", prepare_work(state, scene, req), log)
        log.info("prepare job %s started for scene %s: %s", job.id, scene.id, req.model_dump_json())
        return job.info()

    @app.get("/v1/jobs", dependencies=auth)
    def jobs():
        return [j.info() for j in state.jobs()]

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
        from engine.query.prompts import Prompts

        trained = state.scene(scene_id).trained()
        if (req.camera is None) == (req.view is None):
            raise ServiceError(400, "give either camera or view (a training view's index)")
        camera = _camera(req.camera) if req.camera is not None else trained.view_camera(req.view)
        mask = None
        if req.mask_npy:
            try:
                raw = base64.b64decode(req.mask_npy, validate=True)
            except ValueError as exc:
                raise ServiceError(400, f"mask_npy: not base64 ({exc})") from exc
            mask = read_npy(raw, "mask_npy", max_elements=camera.width * camera.height)
        prompts = Prompts(req.positive, req.negative, [list(s) for s in req.positive_scribbles],
                          [list(s) for s in req.negative_scribbles], mask)  # fmt: skip
        post = PostProcess(req.outlier_filter, req.grow) if req.outlier_filter or req.grow else None
        more = [(_camera(v.camera), Prompts(v.positive, v.negative, require_positive=False)) for v in req.more_views]
        sel = trained.select(camera, prompts, req.scale, req.threshold, post, more)
        return npy_response(sel.ids, {"X-Saga-Count": str(len(sel.ids)), "X-Saga-Notes": json.dumps(sel.notes),
                                      "X-Saga-Timings": json.dumps(sel.timings_ms)})  # fmt: skip

    @app.post("/v1/scenes/{scene_id}/cluster", dependencies=auth)
    def cluster(scene_id: str, req: ClusterRequest):
        trained = state.scene(scene_id).trained()
        clusters = trained.cluster(req.scale, seed=req.seed, sample_fraction=req.sample_fraction)
        return npy_response(clusters.labels, {"X-Saga-Clusters": str(clusters.count)})

    @app.post("/v1/scenes/{scene_id}/similar", dependencies=auth)
    def similar(scene_id: str, body: Annotated[bytes, Depends(_body)], scale: float = Query(..., ge=0.0, le=1.0),
                threshold: float = Query(0.75, ge=-1.0, le=1.0)):  # fmt: skip
        """Select Similar (body: ``.npy`` ids of the selection): the selection and every Gaussian like it."""
        scene = state.scene(scene_id)
        ids = read_npy(body, "ids", max_elements=len(scene.splat))
        result = scene.trained().similar(ids, scale, threshold)
        return npy_response(result.ids, {"X-Saga-Count": str(len(result.ids)), "X-Saga-Added": str(result.added),
                                         "X-Saga-Notes": json.dumps(result.notes)})  # fmt: skip

    @app.post("/v1/scenes/{scene_id}/extract", dependencies=auth)
    def extract(scene_id: str, body: Annotated[bytes, Depends(_body)], invert: bool = False,
                out: Annotated[str | None, Query(max_length=4096)] = None, overwrite: bool = False):  # fmt: skip
        """The Gaussians ``ids`` (a .npy body; or all others with ``invert``) as INRIA .ply bytes, or written on the
        engine's side at ``out`` (a new .ply; an existing file only with ``overwrite``, never the engine's own)."""
        from engine.api.selection import extract as write_part
        from engine.api.selection import select_rows

        scene = state.scene(scene_id)
        rows = select_rows(read_npy(body, "ids", max_elements=len(scene.splat)), len(scene.splat), invert)
        if out is not None:
            target = state.paths.new_file(out, ".ply", overwrite)
            write_part(scene.scene, rows, target, overwrite=overwrite)
            return {"path": target, "gaussians": len(rows)}
        with tempfile.TemporaryDirectory(dir=os.path.join(state.data_dir, "exports")) as tmp:
            path = os.path.join(tmp, "part.ply")
            write_part(scene.scene, rows, path)
            with open(path, "rb") as fh:
                data = fh.read()
        return Response(data, media_type="application/octet-stream", headers={"X-Saga-Count": str(len(rows))})

    @app.post("/v1/shutdown", dependencies=auth)
    def shutdown():
        log.info("shutdown requested: cancelling %d job(s)", sum(j.state == "running" for j in state.jobs()))

        def stop():
            state.stop_jobs()
            if on_shutdown is not None:
                on_shutdown()

        threading.Thread(target=stop, daemon=True).start()
        return {"stopping": True}

    return RequestGuard(app, token, body_timeout_s)


async def _body(request: Request) -> bytes:
    return await request.body()


def _engine_version() -> str:
    import engine

    return engine.__version__
