"""The click tool's viewport overlay: the current selection drawn as bright points over the splat (``gpu`` draw
handler, rebuilt only when the selection or the object's transform changes) and the prompt points (green
positive, red negative) in screen space."""

from __future__ import annotations

import bpy
import numpy as np

SELECTION_COLOR = (1.0, 0.35, 0.05, 1.0)
POSITIVE_COLOR = (0.1, 0.9, 0.2, 1.0)
NEGATIVE_COLOR = (0.95, 0.1, 0.1, 1.0)


class SelectionOverlay:
    def __init__(self, tool):
        self.tool = tool
        self.batch = None
        self.key = None
        self.handles = [
            bpy.types.SpaceView3D.draw_handler_add(self.draw_selection, (), "WINDOW", "POST_VIEW"),
            bpy.types.SpaceView3D.draw_handler_add(self.draw_points, (), "WINDOW", "POST_PIXEL"),
        ]

    def remove(self) -> None:
        for handle in self.handles:
            bpy.types.SpaceView3D.draw_handler_remove(handle, "WINDOW")
        self.handles = []

    def _shader(self):
        import gpu

        return gpu.shader.from_builtin("POINT_UNIFORM_COLOR")

    def draw_selection(self) -> None:
        import gpu
        from gpu_extras.batch import batch_for_shader

        obj = bpy.data.objects.get(self.tool.obj_name)
        mask = self.tool.mask
        if obj is None or not mask.any():
            return
        key = (id(mask), tuple(map(tuple, obj.matrix_world)))
        if key != self.key:
            co = np.empty(len(obj.data.vertices) * 3, np.float32)
            obj.data.vertices.foreach_get("co", co)
            pts = co.reshape(-1, 3)[mask]
            world = np.asarray(obj.matrix_world, np.float32)
            pts = pts @ world[:3, :3].T + world[:3, 3]
            self.batch = batch_for_shader(self._shader(), "POINTS", {"pos": pts})
            self.key = key
        shader = self._shader()
        gpu.state.point_size_set(3.0)
        shader.uniform_float("color", SELECTION_COLOR)
        self.batch.draw(shader)

    def draw_points(self) -> None:
        import gpu
        from gpu_extras.batch import batch_for_shader

        region = bpy.context.region
        if region is None or not self.tool.prompts.points:
            return
        shader = self._shader()
        gpu.state.point_size_set(9.0)
        for positive, color in ((True, POSITIVE_COLOR), (False, NEGATIVE_COLOR)):
            pts = [(u - 0.5, region.height - v - 0.5) for u, v, p in self.tool.prompts.points if p == positive]
            if pts:
                shader.uniform_float("color", color)
                batch_for_shader(shader, "POINTS", {"pos": pts}).draw(shader)


def add_overlay(tool) -> SelectionOverlay:
    return SelectionOverlay(tool)
