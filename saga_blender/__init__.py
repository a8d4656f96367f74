"""SAGA for Blender: select and edit objects inside 3D Gaussian Splatting scenes.

The package is a Blender extension. Everything under ``saga_blender.core`` is bpy-free (file formats,
axis conventions) and is shared with the engine process, which never imports ``bpy``. The bpy layer is
imported lazily in :func:`register`, so plain Python can import and test the core.
"""


def register() -> None:
    from . import blender_registration

    blender_registration.register()


def unregister() -> None:
    from . import blender_registration

    blender_registration.unregister()
