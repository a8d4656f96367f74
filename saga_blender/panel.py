"""The "SAGA" tab of the 3D viewport's sidebar: the splat (import, export) and its selections.

Laid out as separate panels so that the engine connection, training and the click tool (later work) slot in
between the splat and the selections without moving what is here.
"""

from __future__ import annotations

import bpy

from .splat_mesh import SOURCE_KEY, is_splat_object


class _SagaPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "SAGA"


class SAGA_PT_splat(_SagaPanel, bpy.types.Panel):
    bl_label = "Splat"
    bl_order = 0

    def draw(self, context):
        layout = self.layout
        row = layout.row(align=True)
        row.operator("saga.import_splat", text="Import", icon="IMPORT")
        row.operator("saga.export_splat", text="Export", icon="EXPORT")
        obj = context.active_object
        if is_splat_object(obj):
            col = layout.column(align=True)
            col.label(text=f"{obj.name}: {len(obj.data.vertices):,} Gaussians", icon="POINTCLOUD_DATA")
            source = obj.get(SOURCE_KEY, "")
            if source:
                col.label(text=bpy.path.basename(source), icon="FILE")
        else:
            layout.label(text="Select a splat object (or import one)", icon="INFO")


class SAGA_PT_selections(_SagaPanel, bpy.types.Panel):
    bl_label = "Selections"
    bl_order = 20

    @classmethod
    def poll(cls, context):
        return is_splat_object(context.active_object)

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        layout.template_list("MESH_UL_vgroups", "saga", obj, "vertex_groups", obj.vertex_groups, "active_index",
                             rows=3)  # fmt: skip
        if not obj.vertex_groups:
            layout.label(text="No selections yet", icon="INFO")
            return
        row = layout.row(align=True)
        row.operator("saga.selection_invert", text="Invert", icon="ARROW_LEFTRIGHT")
        row.operator("saga.selection_combine", text="Combine", icon="SELECT_EXTEND")
        row.operator("saga.selection_subtract", text="Subtract", icon="SELECT_SUBTRACT")
        col = layout.column(align=True)
        col.operator("saga.selection_move", text="Move", icon="ORIENTATION_GLOBAL")
        row = col.row(align=True)
        row.operator("saga.selection_separate", text="Separate", icon="UNLINKED")
        row.operator("saga.selection_duplicate", text="Duplicate", icon="DUPLICATE")
        col.operator("saga.selection_delete", text="Delete Points", icon="TRASH")


CLASSES = (SAGA_PT_splat, SAGA_PT_selections)
