"""The prepare job of the service: the same views, mask sources and training as ``saga-engine train``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Literal

from pydantic import BaseModel, Field

from .state import EngineState, Job, OpenScene, ServiceError


class PrepareRequest(BaseModel):
    """Where the training views come from, which masks, and the training budget."""

    views: str = Field("auto:32", description="auto:N (views rendered from the splat) or 'capture'")
    colmap: str | None = Field(None, description="COLMAP model folder of the capture (with views='capture')")
    transforms: str | None = Field(None, description="transforms.json of the capture (with views='capture')")
    images: str | None = Field(None, description="the capture's image folder")
    size: int | None = Field(None, ge=32, le=4096, description="longest image side used for training")
    masks: Literal["fallback", "sam", "dir"] = "fallback"
    sam_checkpoint: str | None = None
    sam_model: Literal["vit_h", "vit_l", "vit_b"] = "vit_h"
    masks_dir: str | None = None
    iterations: int | None = Field(None, ge=1, le=200_000)
    pixels: int | None = Field(None, ge=16, le=4096)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    device: Literal["auto", "cpu", "cuda"] = "auto"


def prepare_work(state: EngineState, scene: OpenScene, req: PrepareRequest):
    """Validate the request now (so a bad one is a 4xx, not a failed job) and return the job's work function."""
    from engine.train_command import make_mask_source, make_views, resolve_device
    from engine.training.pipeline import prepare_scene
    from engine.training.trainer import TrainSettings

    def path(p):
        return state.resolve_path(p) if p else None

    if req.views != "capture" and (req.colmap or req.transforms):
        raise ServiceError(400, "colmap / transforms need views='capture'")
    if req.views == "capture" and not (req.colmap or req.transforms):
        raise ServiceError(400, "views='capture' needs colmap or transforms, and images")
    args = SimpleNamespace(
        views=None if req.views == "capture" else req.views, colmap=path(req.colmap), transforms=path(req.transforms),
        images=path(req.images), size=req.size, masks=req.masks, sam_checkpoint=path(req.sam_checkpoint),
        sam_model=req.sam_model, masks_dir=path(req.masks_dir),
    )  # fmt: skip
    try:
        device = resolve_device(req.device)
        source = make_mask_source(args, device)
        views, n_views, _ = make_views(args, scene.splat, device)
    except (ValueError, OSError) as exc:
        raise ServiceError(400, str(exc)) from exc
    settings = TrainSettings(iterations=req.iterations or (10_000 if device == "cuda" else 3000),
                             num_pixels=req.pixels or (1000 if device == "cuda" else 400), seed=req.seed)  # fmt: skip

    def work(job: Job) -> None:
        def progress(p) -> None:
            job.stage, job.percent, job.eta_s, job.message = p.stage, p.percent, p.eta_s, p.message

        prepare_scene(scene.splat, views, n_views, source, scene.workdir, settings, device=device, progress=progress,
                      cancel=job.cancel, metadata={"scene_path": scene.path})  # fmt: skip
        scene.forget_predictor()

    return work
