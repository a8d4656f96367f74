"""The click tool's prompts and their answer, without bpy: points in one viewport camera -> engine query ->
vertices of the (possibly edited) mesh.

Points belong to the view they were clicked in: the engine answers a query in one camera. When the view moves
between clicks, the prompt starts again from the new click (the selection so far is kept until then).
Engine ids are Gaussian ids of the original file; the mesh may have lost or duplicated points since, so ids map
to vertices through the mesh's ``gs_id`` attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .core.view_camera import EngineCamera


@dataclass
class ClickPrompts:
    camera: EngineCamera | None = None
    points: list[tuple[float, float, bool]] = field(default_factory=list)  # (u, v, positive)

    def add(self, camera: EngineCamera, u: float, v: float, positive: bool) -> bool:
        """Add a point; returns True when the view changed and the prompt started again."""
        restarted = self.camera is not None and not _same_camera(self.camera, camera)
        if restarted or self.camera is None:
            self.camera, self.points = camera, []
        self.points.append((float(u), float(v), bool(positive)))
        return restarted

    def undo(self) -> bool:
        """Remove the last point; False when there was none."""
        if not self.points:
            return False
        self.points.pop()
        return True

    @property
    def positive(self) -> list[tuple[float, float]]:
        return [(u, v) for u, v, p in self.points if p]

    @property
    def negative(self) -> list[tuple[float, float]]:
        return [(u, v) for u, v, p in self.points if not p]

    def query(self, client, scene_id: str, scale: float, threshold: float) -> np.ndarray:
        """Engine ids selected by the prompts (empty when there is no positive point)."""
        if not self.positive or self.camera is None:
            return np.zeros(0, np.int64)
        return client.query(scene_id, self.camera.to_json(), scale, positive=self.positive, negative=self.negative,
                            threshold=threshold).ids  # fmt: skip


def _same_camera(a: EngineCamera, b: EngineCamera) -> bool:
    return (a.width, a.height, a.model) == (b.width, b.height, b.model) and np.allclose(a.viewmat, b.viewmat) \
        and np.allclose(a.K, b.K)  # fmt: skip


def vertices_of_ids(gs_id: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """[V] bool: the vertices whose ``gs_id`` is among the engine ``ids`` (duplicated points included)."""
    return np.isin(gs_id, np.asarray(ids, np.int64))
