"""Selection (vertex group) operators of a splat object: invert, combine, subtract, delete, duplicate,
separate, move. Each turns its properties into one call of ``selection_groups`` and reports the result;
all are undoable (Ctrl+Z) through Blender's global undo."""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from .selection_groups import (
    SelectionError,
    delete_points,
    group_masks,
    new_object_from_group,
    new_selection,
    set_group,
)
from .splat_mesh import is_splat_object


class _SelectionOperator:
    bl_options = {"REGISTER", "UNDO"}
    group: StringProperty(name="Selection", default="", description="Vertex group to use (empty: the active one)")

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return is_splat_object(obj) and context.mode == "OBJECT" and len(obj.vertex_groups) > 0

    def group_name(self, obj) -> str:
        if self.group:
            return self.group
        if obj.vertex_groups.active is None:
            raise SelectionError("no active selection: pick a vertex group in the SAGA panel")
        return obj.vertex_groups.active.name

    def execute(self, context):
        obj = context.active_object
        try:
            message = self.run(context, obj, self.group_name(obj))
        except SelectionError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, message)
        return {"FINISHED"}

    def run(self, context, obj, group: str) -> str:
        raise NotImplementedError


class SAGA_OT_selection_invert(_SelectionOperator, bpy.types.Operator):
    """Swap the selection: every point not in it, and none of those in it"""

    bl_idname = "saga.selection_invert"
    bl_label = "Invert Selection"

    def run(self, context, obj, group):
        mask = ~group_masks(obj, [group])[group]
        set_group(obj, group, mask)
        obj.vertex_groups.active = obj.vertex_groups[group]
        return f"'{group}' now holds {int(mask.sum()):,} points"


class _TwoGroupOperator(_SelectionOperator):
    other: StringProperty(name="Other", default="", description="The second selection")

    def draw(self, context):
        self.layout.prop_search(self, "other", context.active_object, "vertex_groups")

    symbol = ""  # joins the two names into the new selection's name

    @staticmethod
    def combine(a, b):
        raise NotImplementedError

    def run(self, context, obj, group):
        if not self.other:
            raise SelectionError("choose the other selection")
        m = group_masks(obj, [group, self.other])
        mask = self.combine(m[group], m[self.other])
        name = new_selection(obj, f"{group}{self.symbol}{self.other}", mask)
        return f"'{name}': {int(mask.sum()):,} points"


class SAGA_OT_selection_combine(_TwoGroupOperator, bpy.types.Operator):
    """A new selection holding the points of both selections"""

    bl_idname = "saga.selection_combine"
    bl_label = "Combine Selections"
    symbol = "+"

    @staticmethod
    def combine(a, b):
        return a | b


class SAGA_OT_selection_subtract(_TwoGroupOperator, bpy.types.Operator):
    """A new selection holding the points of this selection that are not in the other"""

    bl_idname = "saga.selection_subtract"
    bl_label = "Subtract Selection"
    symbol = "-"

    @staticmethod
    def combine(a, b):
        return a & ~b


class SAGA_OT_selection_delete(_SelectionOperator, bpy.types.Operator):
    """Delete the points of the selection from the splat"""

    bl_idname = "saga.selection_delete"
    bl_label = "Delete Selected Points"

    def run(self, context, obj, group):
        removed = delete_points(obj, group)
        return f"deleted {removed:,} points; {len(obj.data.vertices):,} remain"


class SAGA_OT_selection_duplicate(_SelectionOperator, bpy.types.Operator):
    """Copy the points of the selection into a new splat object"""

    bl_idname = "saga.selection_duplicate"
    bl_label = "Duplicate Selection"

    def run(self, context, obj, group):
        new = new_object_from_group(context, obj, group, "copy")
        return f"'{new.name}': {len(new.data.vertices):,} points"


class SAGA_OT_selection_separate(_SelectionOperator, bpy.types.Operator):
    """Move the points of the selection into a new splat object"""

    bl_idname = "saga.selection_separate"
    bl_label = "Separate Selection"

    def run(self, context, obj, group):
        new = new_object_from_group(context, obj, group, "part")
        delete_points(obj, group)
        for other in context.view_layer.objects.selected:
            other.select_set(False)
        new.select_set(True)
        context.view_layer.objects.active = new
        return f"'{new.name}': {len(new.data.vertices):,} points separated"


class SAGA_OT_selection_move(_SelectionOperator, bpy.types.Operator):
    """Separate the selection into its own object and start moving it (G)"""

    bl_idname = "saga.selection_move"
    bl_label = "Move Selection"

    def run(self, context, obj, group):
        message = SAGA_OT_selection_separate.run(self, context, obj, group)
        if context.window is not None and not bpy.app.background:
            bpy.ops.transform.translate("INVOKE_DEFAULT")
        return message


CLASSES = (
    SAGA_OT_selection_invert,
    SAGA_OT_selection_combine,
    SAGA_OT_selection_subtract,
    SAGA_OT_selection_delete,
    SAGA_OT_selection_duplicate,
    SAGA_OT_selection_separate,
    SAGA_OT_selection_move,
)
