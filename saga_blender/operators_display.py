"""Display operators: show the splat's colours in the Solid shading mode (the 3D viewport's Solid colour set to
Attribute, which draws the display's active colour attribute ``gs_color``)."""

from __future__ import annotations

import bpy

from .display_nodes import use_attribute_colours
from .splat_mesh import is_splat_object


class SAGA_OT_solid_colours(bpy.types.Operator):
    """Show the splat's colours in Solid view: this viewport's Solid shading colour becomes Attribute (flat
    lighting shows them as stored)"""

    bl_idname = "saga.solid_colours"
    bl_label = "Colours in Solid View"
    bl_options = {"REGISTER"}

    flat: bpy.props.BoolProperty(name="Flat Lighting", default=True,
                                 description="Unlit colours, as the splat renders them")  # fmt: skip

    @classmethod
    def poll(cls, context):
        return is_splat_object(context.active_object)

    def execute(self, context):
        space = context.space_data if context.space_data and context.space_data.type == "VIEW_3D" else None
        shading = space.shading if space is not None else context.scene.display.shading  # headless: the render's
        use_attribute_colours(shading, self.flat)
        if space is not None:
            shading.type = "SOLID"
        return {"FINISHED"}


CLASSES = (SAGA_OT_solid_colours,)
