"""The "SAGA" tab of the 3D viewport's sidebar: the splat (import, export), the engine (connection, Prepare
Scene, the click tool with its Scale / Threshold sliders, Segment Everything) and the selections."""

from __future__ import annotations

import bpy

from .splat_mesh import SOURCE_KEY, is_splat_object


class _SagaPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "SAGA"


class _SplatObjectPanel(_SagaPanel):
    """A panel shown only while a splat object is active."""

    @classmethod
    def poll(cls, context):
        return is_splat_object(context.active_object)


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


class SAGA_PT_engine(_SagaPanel, bpy.types.Panel):
    bl_label = "Engine"
    bl_order = 10

    def draw(self, context):
        from .engine_session import SESSION

        layout = self.layout
        col = layout.column(align=True)
        icon = "CHECKMARK" if SESSION.client is not None else "ERROR"
        col.label(text=SESSION.status, icon=icon)
        for task in SESSION.running():
            col.label(text=task.status_text()[5:], icon="TIME")
        if SESSION.error:
            col.label(text=SESSION.error[:120], icon="CANCEL")
        row = layout.row(align=True)
        if SESSION.client is None:
            row.operator("saga.engine_start", text="Start Local", icon="PLAY")
            row.operator("saga.engine_connect", text="Connect Remote", icon="URL")
        else:
            row.operator("saga.engine_stop", text="Stop", icon="SNAP_FACE")
        obj = context.active_object
        if not is_splat_object(obj):
            return
        box = layout.box()
        p = SESSION.latest("prepare", obj.name)
        if p is not None and not p.finished:
            eta = f", ETA {p.eta_s:.0f} s" if p.eta_s else ""
            box.label(text=f"{p.stage or 'starting'}: {p.percent:.0f}%{eta}", icon="TIME")
            box.operator("saga.prepare_cancel", text="Cancel", icon="CANCEL")
        else:
            if p is not None and p.state in ("failed", "cancelled"):
                box.label(text=f"prepare {p.state}: {p.error[:100]}", icon="ERROR")
            known = SESSION.scene_info.get(obj.get(SOURCE_KEY, ""))
            if known is not None and known.get("problem"):
                box.label(text=known["problem"][:120], icon="ERROR")
            elif known is not None:
                box.label(text="prepared" if known.get("prepared") else "not prepared yet", icon="INFO")
            box.operator("saga.prepare", text="Prepare Scene", icon="MOD_PARTICLES")
        wm = context.window_manager
        col = layout.column(align=True)
        col.prop(wm, "saga_scale", slider=True)
        col.prop(wm, "saga_threshold", slider=True)
        layout.operator("saga.click_select", text="Click Select", icon="RESTRICT_SELECT_OFF")
        row = layout.row(align=True)
        row.operator("saga.segment_everything", text="Segment Everything", icon="GROUP_VERTEX")
        pick = row.operator("saga.click_select", text="Pick Cluster", icon="EYEDROPPER")
        pick.pick_cluster = True
        layout.operator("saga.reset_colors", text="Reset Colours", icon="COLOR")
        c = SESSION.latest("cluster", obj.name)
        if c is not None and not c.finished:
            layout.label(text=f"{c.stage or 'segmenting'}...", icon="TIME")
        elif c is not None and c.state == "failed":
            layout.label(text=f"Segment Everything failed: {c.error[:100]}", icon="ERROR")
        elif c is not None and c.message:
            layout.label(text=c.message, icon="INFO")


class SAGA_PT_selections(_SplatObjectPanel, bpy.types.Panel):
    bl_label = "Selections"
    bl_order = 20

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


CLASSES = (SAGA_PT_splat, SAGA_PT_engine, SAGA_PT_selections)
