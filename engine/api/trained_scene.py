"""A prepared scene, open for queries: the splat, its checked checkpoint, its training views' cameras, a predictor.

``open_trained(workdir)`` is the one route from a work folder to queries (the CLI's segment / cluster, the
service, the demo): the scene file is the one the folder was trained on (read the way it was read then, sanitised
or not) unless another path with the same content is given, and the checkpoint must be this scene's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.cameras.cameras import Cameras
from engine.query.prompts import PromptError, Prompts, QueryCamera
from engine.training.checkpoint import CheckpointDamagedError, SceneCheckpoint, check_scene

from .scene_files import SceneFile, read_scene
from .work_folder import WorkFolder


@dataclass
class TrainedScene:
    scene: SceneFile
    folder: WorkFolder
    checkpoint: SceneCheckpoint
    cameras: Cameras | None  # the training views at their own size
    device: str = "cpu"
    _predictor: object = field(default=None, repr=False)
    _build_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def predictor(self):
        """The scene's ``ScenePredictor`` (built on first use: projection caches, feature scorer)."""
        if self._predictor is None:
            with self._build_lock:
                if self._predictor is None:
                    from engine.query.predictor import ScenePredictor

                    self._predictor = ScenePredictor(self.scene.splat, self.checkpoint, self.device)
        return self._predictor

    @property
    def training_size(self) -> tuple[int, int] | None:
        size = self.checkpoint.metadata.get("training_size")
        return (int(size[0]), int(size[1])) if isinstance(size, list) and len(size) == 2 else None

    def view_camera(self, index: int) -> QueryCamera:
        """Training view ``index`` at its own size: clicks, scribbles and masks on it are in those pixels."""
        if self.cameras is None:
            raise PromptError(f"{self.folder.path} does not record its training views; give a camera instead")
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise PromptError(f"a view is a whole number, got {index!r}")
        return QueryCamera.from_cameras(self.cameras, int(index))

    def select(self, camera: QueryCamera, prompts: Prompts, scale: float, threshold: float | None = None,
               postprocess=None, more_views: Sequence = ()):  # fmt: skip
        """The Gaussians the prompts point at (``engine.query.predictor.Selection``)."""
        from engine.query.predictor import DEFAULT_THRESHOLD

        t = DEFAULT_THRESHOLD if threshold is None else threshold
        return self.predictor.predict(camera, prompts, scale, t, postprocess, more_views)

    def similar(self, ids: np.ndarray, scale: float, threshold: float | None = None):
        """Select Similar: the selection ``ids`` and every Gaussian like it (``engine.query.similar.Similar``)."""
        from engine.query.predictor import DEFAULT_THRESHOLD
        from engine.query.similar import select_similar

        t = DEFAULT_THRESHOLD if threshold is None else threshold
        predictor = self.predictor
        try:
            return select_similar(predictor.scorer, ids, scale, t, predictor.checkpoint.visibility)
        except (ValueError, TypeError) as exc:
            raise PromptError(str(exc)) from exc

    def cluster(self, scale: float, seed: int = 0, sample_fraction: float = 0.02):
        """Segment everything at ``scale`` (``engine.query.segment_everything.Clusters``)."""
        from engine.query.segment_everything import segment_everything

        return segment_everything(self.predictor.scorer, scale, sample_fraction=sample_fraction, seed=seed)


def open_trained(workdir: str, scene_path: str | None = None, device: str = "cpu",
                 scene: SceneFile | None = None) -> TrainedScene:  # fmt: skip
    """Open a prepared work folder (CheckpointError when it is not prepared, damaged or another scene's;
    SplatFileError when the scene file is gone or unreadable). ``scene``: an already-read scene to use."""
    folder = WorkFolder(workdir)
    checkpoint = folder.load()  # clear error when never prepared or damaged
    meta = checkpoint.metadata
    if scene is None:
        path = scene_path or meta.get("scene_path")
        if not path:
            raise CheckpointDamagedError(f"{folder.checkpoint_path}: the checkpoint does not name its scene file; "
                                         "pass the scene explicitly")  # fmt: skip
        if not os.path.exists(path):
            from saga_blender.core.errors import SplatFileError

            raise SplatFileError(path, f"{folder.path} was trained on this file, which no longer exists; pass the "
                                       "scene file (the same content) explicitly")  # fmt: skip
        scene = read_scene(path, sanitize=bool(meta.get("sanitize", False)))
    check_scene(checkpoint, folder.checkpoint_path, scene.content_hash)
    if len(checkpoint.features) != len(scene):
        raise CheckpointDamagedError(f"{folder.checkpoint_path}: features for {len(checkpoint.features)} Gaussians, "
                                     f"the scene has {len(scene)}; prepare the scene again")  # fmt: skip
    folder.repair_cameras_file(checkpoint)
    return TrainedScene(scene, folder, checkpoint, folder.cameras(checkpoint), device)
