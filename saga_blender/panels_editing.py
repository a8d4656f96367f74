"""Sidebar (N) > SAGA panels for display and clean-up: *Display* (footprints or points, point size, viewport
density, selection preview, colours in Solid view) and *Clean Up* (Select Floaters, Select by Attribute with the
value's histogram, Grow / Shrink, Select Similar). Each button runs an operator whose settings stay live in the
Adjust Last Operation panel."""

from __future__ import annotations

import bpy

from .display_nodes import display_modifier, input_identifier
from .histogram_preview import histogram_icon, last_measure
from .panel import _SplatObjectPanel


class SAGA_PT_display(_SplatObjectPanel, bpy.types.Panel):
    bl_label = "Display"
    bl_order = 5

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        mod = display_modifier(obj)
        if mod is None:
            layout.label(text="No SAGA display modifier on this object", icon="INFO")
            return
        col = layout.column(align=True)
        for name in ("Footprints", "Point Size", "Density"):
            key = input_identifier(mod, name)
            if key is not None:
                col.prop(mod, f'["{key}"]', text=name, slider=name == "Density")
        layout.prop(obj, "saga_show_selection")
        space = context.space_data
        shading = space.shading if space is not None and space.type == "VIEW_3D" else None
        if shading is not None and not (shading.type == "SOLID" and shading.color_type == "VERTEX"):
            layout.operator("saga.solid_colours", icon="COLOR")


class SAGA_PT_cleanup(_SplatObjectPanel, bpy.types.Panel):
    bl_label = "Clean Up"
    bl_order = 25

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        layout.operator("saga.select_floaters", icon="PARTICLES")
        col = layout.column(align=True)
        col.label(text="Select by Attribute:")
        row = col.row(align=True)
        for measure, text in (("OPACITY", "Opacity"), ("SIZE", "Size"), ("ELONGATION", "Elongation")):
            row.operator("saga.select_by_attribute", text=text).measure = measure
        measure = last_measure(obj)
        icon = histogram_icon(obj, measure) if measure else 0
        if icon:
            layout.template_icon(icon_value=icon, scale=5.0)
        row = layout.row(align=True)
        enabled = len(obj.vertex_groups) > 0
        row.enabled = enabled
        row.operator("saga.selection_grow", text="Grow", icon="ADD")
        row.operator("saga.selection_shrink", text="Shrink", icon="REMOVE")
        layout.operator("saga.select_similar", icon="RESTRICT_SELECT_OFF")


CLASSES = (SAGA_PT_display, SAGA_PT_cleanup)
