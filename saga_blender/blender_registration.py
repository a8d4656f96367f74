"""Registers the extension's Blender classes and menu entries.

The bpy layer (operators, panels, geometry nodes) is imported from here only, so that importing the package
outside Blender loads nothing from bpy.
"""

import bpy

from . import (
    histogram_preview,
    operators_display,
    operators_edit,
    operators_engine,
    operators_io,
    operators_select,
    operators_similar,
    operators_tool,
    panel,
    panels_editing,
    selection_preview,
)

_CLASSES = (*operators_io.CLASSES, *operators_edit.CLASSES, *operators_engine.CLASSES, *operators_tool.CLASSES,
            *panel.CLASSES)  # fmt: skip
_EDITING_CLASSES = (*operators_select.CLASSES, *operators_similar.CLASSES, *operators_display.CLASSES,
                    *panels_editing.CLASSES)  # fmt: skip


def register() -> None:
    for cls in (*_CLASSES, *_EDITING_CLASSES):
        bpy.utils.register_class(cls)
    selection_preview.register()
    for tool in operators_tool.TOOLS:
        bpy.utils.register_tool(tool, separator=True)
    wm = bpy.types.WindowManager
    wm.saga_scale = bpy.props.FloatProperty(
        name="Scale", min=0.0, max=1.0, default=0.5, update=operators_tool.on_slider_change,
        description="Granularity of the selection: 0 the finest parts, 1 whole groups",
    )  # fmt: skip
    wm.saga_threshold = bpy.props.FloatProperty(
        name="Threshold", min=0.0, max=1.0, default=0.75, update=operators_tool.on_slider_change,
        description="Similarity a point needs to be selected (SAGA: 0.75)",
    )  # fmt: skip
    bpy.types.TOPBAR_MT_file_import.append(operators_io.menu_import)
    bpy.types.TOPBAR_MT_file_export.append(operators_io.menu_export)


def unregister() -> None:
    for tool in operators_tool.TOOLS:
        bpy.utils.unregister_tool(tool)
    del bpy.types.WindowManager.saga_scale
    del bpy.types.WindowManager.saga_threshold
    bpy.types.TOPBAR_MT_file_export.remove(operators_io.menu_export)
    bpy.types.TOPBAR_MT_file_import.remove(operators_io.menu_import)
    selection_preview.unregister()
    histogram_preview.unregister()
    for cls in reversed((*_CLASSES, *_EDITING_CLASSES)):
        bpy.utils.unregister_class(cls)
