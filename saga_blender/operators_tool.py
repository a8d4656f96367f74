"""The click tool (a modal operator in the 3D viewport) and Segment Everything.

Click: left-click adds a positive point, Shift+click a negative one, Ctrl+Z removes the last point, Enter keeps
the selection as a vertex group, Esc cancels. The viewport's own camera (perspective or orthographic) and the
object's world matrix make the engine camera (``core.view_camera``), so clicks stay right after the object is
moved, rotated or scaled; ids come back as original Gaussian ids and map to vertices through ``gs_id``.
The Scale and Threshold sliders (window-manager properties) re-segment the running tool live.
"""

from __future__ import annotations

import bpy
import numpy as np
from bpy.props import BoolProperty, StringProperty

from .background import ensure_timer
from .click_prompts import ClickPrompts, vertices_of_ids
from .cluster_groups import cluster_under
from .core.view_camera import mouse_to_pixel, viewport_camera
from .engine_client import EngineError
from .engine_session import SESSION
from .selection_groups import new_selection
from .splat_mesh import SOURCE_KEY, gs_ids, is_splat_object

_ACTIVE: list = []  # the running click tool, for the sliders' update callbacks


def on_slider_change(_self, context) -> None:
    for tool in _ACTIVE:
        tool.requery(context)


class SAGA_OT_click_select(bpy.types.Operator):
    """Click objects in the splat: left-click adds, Shift+click removes, Ctrl+Z undoes a point, Enter keeps the
    selection as a vertex group, Esc cancels"""

    bl_idname = "saga.click_select"
    bl_label = "Click Select"
    bl_options = {"REGISTER", "UNDO"}

    group_name: StringProperty(name="Selection Name", default="Selection")
    pick_cluster: BoolProperty(name="Pick Cluster", default=False,
                               description="Select the whole Segment Everything cluster under the click")  # fmt: skip
    first_click: BoolProperty(
        default=False, options={"HIDDEN", "SKIP_SAVE"},
        description="Started by the workspace tool: the starting click is the first point",
    )  # fmt: skip

    @classmethod
    def poll(cls, context):
        return is_splat_object(context.active_object) and context.area is not None and context.area.type == "VIEW_3D"

    # -- pure steps (also driven by tests with stand-in events) ---------------------------------------------
    def start(self, context) -> None:
        obj = context.active_object
        self.obj_name = obj.name
        self.prompts = ClickPrompts()
        self.mask = np.zeros(len(obj.data.vertices), bool)
        self.message = ""
        self.scene_id = SESSION.require_prepared(obj.get(SOURCE_KEY, ""), obj.name)

    def camera(self, context):
        region, rv3d = context.region, context.region_data
        obj = bpy.data.objects[self.obj_name]
        return viewport_camera(rv3d.view_matrix, rv3d.window_matrix, region.width, region.height,
                               rv3d.is_perspective, obj.matrix_world)  # fmt: skip

    def requery(self, context) -> None:
        wm = context.window_manager
        obj = bpy.data.objects[self.obj_name]
        ids = self.prompts.query(SESSION.require_client(), self.scene_id, wm.saga_scale, wm.saga_threshold)
        self.mask = vertices_of_ids(gs_ids(obj), ids)
        if getattr(self, "pick_cluster", False) and self.mask.any():
            self.mask = cluster_under(obj, self.mask)
        self.message = f"{int(self.mask.sum()):,} points selected"
        if context.area is not None:
            context.area.tag_redraw()

    def click(self, context, mouse_x: int, mouse_y: int, positive: bool) -> None:
        u, v = mouse_to_pixel(mouse_x, mouse_y, context.region.height)
        if self.prompts.add(self.camera(context), u, v, positive):
            self.report({"INFO"}, "a click in a new view: its points combine with those of the other views")
        self.requery(context)

    def keep(self, context) -> str:
        return new_selection(bpy.data.objects[self.obj_name], self.group_name, self.mask)

    # -- Blender's modal protocol ---------------------------------------------------------------------------
    def invoke(self, context, event):
        try:
            self.start(context)
        except EngineError as exc:
            self.report({"ERROR"}, exc.message)
            return {"CANCELLED"}
        from .selection_overlay import add_overlay

        self.overlay = add_overlay(self)
        _ACTIVE.append(self)
        if self.first_click:
            try:
                self.click(context, event.mouse_region_x, event.mouse_region_y, positive=not event.shift)
            except EngineError as exc:
                self.report({"ERROR"}, exc.message)
                self.finish(context)
                return {"CANCELLED"}
        context.window_manager.modal_handler_add(self)
        context.workspace.status_text_set("SAGA: click = add, Shift+click = remove, Ctrl+Z = undo point, "
                                          "Enter = keep, Esc = cancel")  # fmt: skip
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        try:
            if event.type == "LEFTMOUSE" and event.value == "PRESS":
                self.click(context, event.mouse_region_x, event.mouse_region_y, positive=not event.shift)
                return {"RUNNING_MODAL"}
            if event.type == "Z" and event.ctrl and event.value == "PRESS":
                if self.prompts.undo():
                    self.requery(context)
                return {"RUNNING_MODAL"}
            if event.type in ("RET", "NUMPAD_ENTER") and event.value == "PRESS":
                name = self.keep(context)
                self.finish(context)
                self.report({"INFO"}, f"kept {int(self.mask.sum()):,} points as '{name}'")
                return {"FINISHED"}
            if event.type == "ESC" and event.value == "PRESS":
                self.finish(context)
                return {"CANCELLED"}
        except EngineError as exc:
            self.report({"ERROR"}, exc.message)
            self.finish(context)
            return {"CANCELLED"}
        return {"PASS_THROUGH"}  # navigation keeps working

    def finish(self, context) -> None:
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        overlay = getattr(self, "overlay", None)
        if overlay is not None:
            overlay.remove()
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        if context.area is not None:
            context.area.tag_redraw()


class SAGA_OT_segment_everything(bpy.types.Operator):
    """Split the whole splat into clusters at the current scale: one selection (vertex group) per cluster, shown
    in distinct colours; Click Select with Pick Cluster then picks a cluster by clicking it"""

    bl_idname = "saga.segment_everything"
    bl_label = "Segment Everything"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return is_splat_object(context.active_object) and SESSION.client is not None

    def execute(self, context):
        obj = context.active_object
        busy = SESSION.latest("cluster", obj.name)
        if busy is not None and not busy.finished:
            self.report({"WARNING"}, f"Segment Everything is already running for '{obj.name}'")
            return {"CANCELLED"}
        try:
            SESSION.start_cluster(obj.get(SOURCE_KEY, ""), obj.name, context.window_manager.saga_scale)
        except EngineError as exc:
            self.report({"ERROR"}, exc.message)
            return {"CANCELLED"}
        ensure_timer()  # the result is applied to the object when the engine answers (panel and status bar show it)
        self.report({"INFO"}, f"segmenting '{obj.name}' at scale {context.window_manager.saga_scale:.2f}...")
        return {"FINISHED"}


class SAGA_OT_reset_colors(bpy.types.Operator):
    """Show the splat's own colours again (after Segment Everything)"""

    bl_idname = "saga.reset_colors"
    bl_label = "Reset Colours"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return is_splat_object(context.active_object)

    def execute(self, context):
        from .core.point_attributes import display_colors
        from .splat_mesh import splat_from_object

        obj = context.active_object
        splat, _ = splat_from_object(obj)
        obj.data.color_attributes["gs_color"].data.foreach_set("color", display_colors(splat).ravel())
        obj.data.update()
        return {"FINISHED"}


class SAGA_WT_click(bpy.types.WorkSpaceTool):
    """The click tool in the toolbar: a click starts Click Select with that click; Scale and Threshold sit in
    the tool header."""

    bl_space_type = "VIEW_3D"
    bl_context_mode = "OBJECT"
    bl_idname = "saga.click_tool"
    bl_label = "SAGA Click"
    bl_description = "Click objects in a splat: Shift+click removes, Enter keeps, Esc cancels"
    bl_icon = "ops.generic.select_circle"
    bl_keymap = (("saga.click_select", {"type": "LEFTMOUSE", "value": "PRESS"},
                  {"properties": [("first_click", True)]}),)  # fmt: skip

    def draw_settings(context, layout, tool):  # Blender's tool API: no self
        wm = context.window_manager
        layout.prop(wm, "saga_scale", slider=True)
        layout.prop(wm, "saga_threshold", slider=True)


CLASSES = (SAGA_OT_click_select, SAGA_OT_segment_everything, SAGA_OT_reset_colors)
TOOLS = (SAGA_WT_click,)
