"""Registers the extension's Blender classes. Operators and panels arrive with later work.

This is the only module of the package that may import ``bpy`` at import time.
"""

import bpy

_CLASSES: tuple = ()


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
