"""The click tool's prompts and their answer, without bpy: points in one viewport camera -> engine query ->
vertices of the (possibly edited) mesh.

Points belong to the view they were clicked in; when the view moves between clicks, a new group of points starts
in the new view and the engine combines the query features of every view's points (a point's query feature does
not depend on the view once computed), so an object can be picked up from several sides.
Engine ids are Gaussian ids of the original file; the mesh may have lost or duplicated points since, so ids map
to vertices through the mesh's ``gs_id`` attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .core.view_camera import EngineCamera


@dataclass
class ViewPoints:
    camera: EngineCamera
    points: list[tuple[float, float, bool]] = field(default_factory=list)  # (u, v, positive)

    @property
    def positive(self) -> list[tuple[float, float]]:
        return [(u, v) for u, v, p in self.points if p]

    @property
    def negative(self) -> list[tuple[float, float]]:
        return [(u, v) for u, v, p in self.points if not p]


@dataclass
class ClickPrompts:
    groups: list[ViewPoints] = field(default_factory=list)  # in click order; the last is the current view

    @property
    def camera(self) -> EngineCamera | None:
        return self.groups[-1].camera if self.groups else None

    @property
    def points(self) -> list[tuple[float, float, bool]]:
        """The current view's points (what the overlay draws)."""
        return self.groups[-1].points if self.groups else []

    def add(self, camera: EngineCamera, u: float, v: float, positive: bool) -> bool:
        """Add a point; returns True when it starts a new view group."""
        new_view = not self.groups or not _same_camera(self.groups[-1].camera, camera)
        if new_view:
            self.groups.append(ViewPoints(camera))
        self.groups[-1].points.append((float(u), float(v), bool(positive)))
        return new_view and len(self.groups) > 1

    def undo(self) -> bool:
        """Remove the last point (across views); False when there was none."""
        if not self.groups:
            return False
        self.groups[-1].points.pop()
        if not self.groups[-1].points:
            self.groups.pop()
        return True

    @property
    def positive(self) -> list[tuple[float, float]]:
        return [p for g in self.groups for p in g.positive]

    def query(self, client, scene_id: str, scale: float, threshold: float) -> np.ndarray:
        """Engine ids selected by the prompts of every view (empty when there is no positive point)."""
        if not self.positive:
            return np.zeros(0, np.int64)
        # the main view must hold a positive point: take the last view that has one, the others go along
        main = max(i for i, g in enumerate(self.groups) if g.positive)
        others = [{"camera": g.camera.to_json(), "positive": g.positive, "negative": g.negative}
                  for i, g in enumerate(self.groups) if i != main]  # fmt: skip
        g = self.groups[main]
        return client.query(scene_id, g.camera.to_json(), scale, positive=g.positive, negative=g.negative,
                            threshold=threshold, more_views=others).ids  # fmt: skip


def _same_camera(a: EngineCamera, b: EngineCamera) -> bool:
    return (a.width, a.height, a.model) == (b.width, b.height, b.model) and np.allclose(a.viewmat, b.viewmat) \
        and np.allclose(a.K, b.K)  # fmt: skip


def vertices_of_ids(gs_id: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """[V] bool: the vertices whose ``gs_id`` is among the engine ``ids`` (duplicated points included)."""
    return np.isin(gs_id, np.asarray(ids, np.int64))
