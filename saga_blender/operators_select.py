"""Clean-up selections of a splat object: Select Floaters, Select by Attribute, Grow / Shrink Selection.

Each makes (or, growing and shrinking, changes) a vertex group, previews it in the viewport (``selection_preview``)
and registers an undo step; its settings stay live in the Adjust Last Operation panel (F9), where dragging a slider
re-runs it from the state before (Blender's redo), the Blender way of a live preview. The work is in the bpy-free
core (``core.floaters``, ``core.splat_measures``, ``core.grow_shrink``); the data they read is cached per mesh
(``neighbour_cache``).
"""

from __future__ import annotations

import time

import bpy
import numpy as np
from bpy.props import EnumProperty, FloatProperty, IntProperty, StringProperty

from .core import grow_shrink, splat_measures
from .core.floaters import select_floaters
from .histogram_preview import histogram_icon
from .neighbour_cache import splat_data, world_scale
from .selection_groups import SelectionError, group_mask, new_selection, set_group
from .selection_preview import sync_highlight
from .splat_mesh import is_splat_object


class _CleanUpOperator:
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return is_splat_object(context.active_object) and context.mode == "OBJECT"

    def execute(self, context):
        obj = context.active_object
        t0 = time.perf_counter()
        try:
            message = self.run(context, obj)
        except (SelectionError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"{message} ({time.perf_counter() - t0:.2f} s)")
        return {"FINISHED"}

    def run(self, context, obj) -> str:
        raise NotImplementedError


class SAGA_OT_select_floaters(_CleanUpOperator, bpy.types.Operator):
    """Select the Gaussians outside the scene's dense body: stray blobs in the air, far outliers and small
    disconnected clusters (a new selection; Strength selects more)"""

    bl_idname = "saga.select_floaters"
    bl_label = "Select Floaters"

    strength: FloatProperty(name="Strength", default=0.5, min=0.0, max=1.0, subtype="FACTOR",
                            description="Higher selects more (finer cells, a denser and larger body)")  # fmt: skip
    name: StringProperty(name="Selection Name", default="Floaters")

    def run(self, context, obj):
        data = splat_data(obj)
        opacity = 1.0 / (1.0 + np.exp(-data.opacity_logits.astype(np.float64)))
        result = select_floaters(data.positions, opacity, self.strength)
        name = new_selection(obj, self.name, result.mask)
        return f"'{name}': {int(result.mask.sum()):,} floaters of {len(result.mask):,} Gaussians"


MEASURE_ITEMS = [
    ("OPACITY", "Opacity Below", "Near-transparent Gaussians (haze): opacity below the cut"),
    ("SIZE", "Size Above", "Huge Gaussians: largest axis (standard deviation, scene units) above the cut"),
    ("ELONGATION", "Elongation Above", "Needle-like Gaussians: largest axis over the second above the cut"),
]
SELECTION_NAMES = {"OPACITY": "Low Opacity", "SIZE": "Large", "ELONGATION": "Elongated"}


def measure_values(obj, kind: str) -> np.ndarray:
    data = splat_data(obj)
    return splat_measures.measure(kind, data.opacity_logits, data.log_scales, world_scale(obj))


class SAGA_OT_select_by_attribute(_CleanUpOperator, bpy.types.Operator):
    """Select the Gaussians whose opacity is below, or size or elongation above, a cut (a new selection); the
    histogram of the values shows where to cut"""

    bl_idname = "saga.select_by_attribute"
    bl_label = "Select by Attribute"

    measure: EnumProperty(name="Attribute", items=MEASURE_ITEMS, default="OPACITY")
    opacity: FloatProperty(name="Opacity Below", default=0.05, min=0.0, max=1.0, subtype="FACTOR")
    size: FloatProperty(name="Size Above", default=0.0, min=0.0, soft_max=10.0, precision=4, subtype="DISTANCE",
                        description="Scene units; 0: the largest 1% of the Gaussians")  # fmt: skip
    elongation: FloatProperty(name="Elongation Above", default=10.0, min=1.0, soft_max=100.0)

    def cut(self, values: np.ndarray) -> float:
        if self.measure == "OPACITY":
            return self.opacity
        if self.measure == "SIZE":
            if self.size <= 0:
                self.size = splat_measures.default_cut("SIZE", values)
            return self.size
        return self.elongation

    def run(self, context, obj):
        values = measure_values(obj, self.measure)
        cut = self.cut(values)
        mask = splat_measures.select(self.measure, values, cut)
        histogram_icon(obj, self.measure, values, cut)
        name = new_selection(obj, SELECTION_NAMES[self.measure], mask)
        label = splat_measures.MEASURES[self.measure][0].lower()
        side = "above" if splat_measures.MEASURES[self.measure][1] else "below"
        return f"'{name}': {int(mask.sum()):,} Gaussians with {label} {side} {cut:.4g}"

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "measure")
        layout.prop(self, self.measure.lower(), slider=self.measure == "OPACITY")
        obj = context.active_object
        icon = histogram_icon(obj, self.measure) if is_splat_object(obj) else 0
        if icon:
            layout.template_icon(icon_value=icon, scale=6.0)


class _GrowShrink(_CleanUpOperator):
    group: StringProperty(name="Selection", default="", description="Vertex group to change (empty: the active one)")
    mode: EnumProperty(name="By", default="STEPS", items=[
        ("STEPS", "Steps", "Steps over the neighbour graph (one step: the splat's neighbour spacing, or Step)"),
        ("DISTANCE", "Distance", "As far as Distance (scene units), through neighbouring Gaussians"),
    ])  # fmt: skip
    steps: IntProperty(name="Steps", default=1, min=1, soft_max=20, max=500)
    step: FloatProperty(name="Step", default=0.0, min=0.0, precision=5, subtype="DISTANCE",
                        description="Length of one step in scene units; 0: the splat's neighbour spacing")  # fmt: skip
    distance: FloatProperty(name="Distance", default=0.05, min=0.0, precision=4, subtype="DISTANCE")

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return super().poll(context) and len(obj.vertex_groups) > 0

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "mode", expand=True)
        if self.mode == "STEPS":
            layout.prop(self, "steps")
            layout.prop(self, "step")
        else:
            layout.prop(self, "distance")

    def hops(self, obj, spacing: float) -> tuple[int, float]:
        """(steps, hop) in the mesh's (file) units."""
        scale = world_scale(obj)
        if self.mode == "DISTANCE":
            if self.distance <= 0:
                raise SelectionError("give a distance above 0")
            return grow_shrink.hops_for_distance(self.distance / scale, spacing)
        return self.steps, (self.step / scale if self.step > 0 else spacing)

    def run(self, context, obj):
        group = self.group or (obj.vertex_groups.active.name if obj.vertex_groups.active else "")
        if not group:
            raise SelectionError("no active selection: pick a vertex group in the SAGA panel")
        before = group_mask(obj, group)
        data = splat_data(obj)
        steps, hop = self.hops(obj, data.spacing)
        grid = data.grid(grow_shrink.grid_cell_for(hop, data.spacing))
        after = self.change(data.positions, grid, before, hop, steps)
        set_group(obj, group, after)
        obj.vertex_groups.active = obj.vertex_groups[group]
        sync_highlight(obj)
        hops = f"{steps} x {hop * world_scale(obj):.4g}"
        return f"'{group}': {int(before.sum()):,} -> {int(after.sum()):,} points ({hops})"

    def change(self, positions, grid, mask, hop, steps):
        raise NotImplementedError


class SAGA_OT_selection_grow(_GrowShrink, bpy.types.Operator):
    """Grow the selection over the splat's neighbour graph by steps or a distance (Select More for splats)"""

    bl_idname = "saga.selection_grow"
    bl_label = "Grow Selection"

    def change(self, positions, grid, mask, hop, steps):
        return grow_shrink.grow(positions, grid, mask, hop, steps)


class SAGA_OT_selection_shrink(_GrowShrink, bpy.types.Operator):
    """Shrink the selection where it touches unselected Gaussians, by steps or a distance (Select Less)"""

    bl_idname = "saga.selection_shrink"
    bl_label = "Shrink Selection"

    def change(self, positions, grid, mask, hop, steps):
        return grow_shrink.shrink(positions, grid, mask, hop, steps)


CLASSES = (SAGA_OT_select_floaters, SAGA_OT_select_by_attribute, SAGA_OT_selection_grow, SAGA_OT_selection_shrink)
