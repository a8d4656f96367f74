"""Prepare a scene for clicking: the one route the CLI, the service, the demo and Blender's Prepare Scene take.

Two steps, so a service can refuse a bad request at once and run the long part in a job:

* ``plan_prepare(scene, workdir, spec)`` checks everything that can be checked without training (the options, the
  work folder, the capture's files and image sizes, the mask source and its files) and raises a clear error;
* ``run_prepare(plan, progress, cancel)`` holds the work folder's lock, trains into a staging folder and swaps the
  result in at the end, so a cancelled, failed or killed run leaves the previous training as it was.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from engine.training.pipeline import PrepareResult, ProgressFn

from .devices import resolve_device
from .mask_sources import make_mask_source
from .prepare_spec import PrepareSpec, ResolvedPrepare
from .scene_files import SceneFile, check_trainable
from .view_plans import ViewPlan, plan_views, rendered_view_plan
from .work_folder import WorkFolder


@dataclass
class PreparePlan:
    scene: SceneFile
    folder: WorkFolder
    run: ResolvedPrepare
    views: ViewPlan
    mask_source: object  # engine.masks.source.MaskSource

    def describe(self) -> str:
        r = self.run
        return (f"{len(self.scene)} Gaussians from {self.views.description}, masks: {self.mask_source.name}, "
                f"device: {r.device}, {r.iterations} iterations x {r.pixels} pixels")  # fmt: skip


@dataclass
class PrepareOutcome:
    result: PrepareResult
    checkpoint_path: str
    cameras_path: str
    records_kept: bool


def plan_prepare(scene: SceneFile, workdir: str, spec: PrepareSpec, *, cameras=None,
                 mask_source=None) -> PreparePlan:  # fmt: skip
    """Everything checked, nothing trained (SpecError, SplatFileError, CameraFileError, MaskSourceError,
    FileWriteError name what is wrong).

    For evaluations and tests: ``cameras`` (an engine ``Cameras``) replaces the spec's views by views rendered from
    those cameras, ``mask_source`` replaces the spec's masks (e.g. the synthetic scene's label masks)."""
    spec.check()
    check_trainable(scene)
    run = spec.resolved(resolve_device(spec.device))
    folder = WorkFolder.create(workdir)
    views = plan_views(run, scene.splat) if cameras is None else rendered_view_plan(run, scene.splat, cameras)
    source = make_mask_source(run, views, scene.splat) if mask_source is None else mask_source
    return PreparePlan(scene, folder, run, views, source)


def run_prepare(plan: PreparePlan, progress: ProgressFn | None = None,
                cancel: threading.Event | None = None) -> PrepareOutcome:  # fmt: skip
    """Train and commit (TrainingCancelled when cancelled; WorkFolderBusyError when another prepare runs there)."""
    from engine.training.pipeline import prepare_scene
    from engine.training.trainer import TrainSettings

    run, folder, views = plan.run, plan.folder, plan.views
    settings = TrainSettings(iterations=run.iterations, num_pixels=run.pixels, seed=run.spec.seed,
                             fill_hidden=run.spec.fill_hidden, identity=run.spec.identity)
    metadata = {
        "scene_path": plan.scene.path, "sanitize": plan.scene.sanitize, "training_id": uuid.uuid4().hex,
        "cameras": views.cameras.to_json_dict(), "training_size": list(views.training_size),
        "prepare": run.spec.to_dict(),
    }  # fmt: skip
    with folder.lock(), folder.staging() as staging:
        result = prepare_scene(plan.scene.splat, views.make, views.count, plan.mask_source, staging, settings,
                               mask_cache_dir=folder.masks_dir, device=run.device, progress=progress, cancel=cancel,
                               metadata=metadata)  # fmt: skip
        if cancel is not None and cancel.is_set():
            from engine.training.trainer import TrainingCancelled

            raise TrainingCancelled("preparation cancelled; the previous training (if any) is unchanged")
        folder.commit(staging, keep_records=run.spec.keep_records)
    return PrepareOutcome(result, folder.checkpoint_path, folder.cameras_path, run.spec.keep_records)
