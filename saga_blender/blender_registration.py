"""Registers the extension's Blender classes and menu entries.

The bpy layer (operators, panels, geometry nodes) is imported from here only, so that importing the package
outside Blender loads nothing from bpy.
"""

import bpy

from . import operators_edit, operators_io, panel

_CLASSES = (*operators_io.CLASSES, *operators_edit.CLASSES, *panel.CLASSES)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.TOPBAR_MT_file_import.append(operators_io.menu_import)
    bpy.types.TOPBAR_MT_file_export.append(operators_io.menu_export)


def unregister() -> None:
    bpy.types.TOPBAR_MT_file_export.remove(operators_io.menu_export)
    bpy.types.TOPBAR_MT_file_import.remove(operators_io.menu_import)
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
