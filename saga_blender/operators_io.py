"""File > Import / Export > Gaussian Splat, and drag-and-drop into the 3D viewport (a FileHandler).

Operators only turn properties into calls of the bpy-free core (``core.splat_io``, ``core.splat_transform``)
and ``splat_mesh``, and report the result or the problem in Blender's status bar.
"""

from __future__ import annotations

import os
import time

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .core.errors import SplatFileError
from .core.splat_io import read_splat, write_splat
from .core.splat_transform import transform_splat
from .selection_groups import SelectionError, group_mask
from .splat_mesh import create_splat_object, export_matrix, is_splat_object, splat_from_object

UP_AXIS_ITEMS = [
    ("-Y", "-Y (COLMAP, 3DGS)", "The file's up is -Y, as in scenes trained from COLMAP captures"),
    ("Y", "Y", "The file's up is +Y"),
    ("Z", "Z (Blender)", "The file's up is +Z: no correction"),
]


def splat_name(path: str) -> str:
    base = os.path.basename(path)
    for ext in (".compressed.ply", ".ply", ".splat"):
        if base.lower().endswith(ext):
            return base[: -len(ext)] or "splat"
    return base


class SAGA_OT_import_splat(bpy.types.Operator, ImportHelper):
    """Import a Gaussian splat (.ply, .compressed.ply, .splat) as a point object"""

    bl_idname = "saga.import_splat"
    bl_label = "Import Gaussian Splat"
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    filter_glob: StringProperty(default="*.ply;*.splat", options={"HIDDEN"})
    files: CollectionProperty(type=bpy.types.OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"})
    directory: StringProperty(subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"})
    up_axis: EnumProperty(name="Up Axis", items=UP_AXIS_ITEMS, default="-Y",
                          description="The file's up axis; the correction goes in the object's transform")  # fmt: skip
    sanitize: BoolProperty(
        name="Drop NaN/Inf Gaussians", default=False,
        description="Drop Gaussians with NaN or infinite values instead of refusing the file",
    )  # fmt: skip

    def paths(self) -> list[str]:
        if self.files and self.directory:
            return [os.path.join(self.directory, f.name) for f in self.files if f.name]
        return [self.filepath]

    def execute(self, context):
        imported = []
        for path in self.paths():
            t0 = time.perf_counter()
            try:
                result = read_splat(path, sanitize=self.sanitize)
                obj = create_splat_object(context, result.splat, splat_name(path), self.up_axis,
                                          os.path.abspath(path))  # fmt: skip
            except (SplatFileError, ValueError, OSError) as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"} if not imported else {"FINISHED"}
            imported.append(obj)
            note = f"; {result.sanitized}" if result.sanitized else ""
            self.report({"INFO"}, f"Imported {len(result.splat):,} Gaussians from {os.path.basename(path)} in "
                                  f"{time.perf_counter() - t0:.2f} s{note}")  # fmt: skip
        for obj in context.view_layer.objects.selected:
            obj.select_set(False)
        for obj in imported:
            obj.select_set(True)
        context.view_layer.objects.active = imported[-1]
        return {"FINISHED"}

    def invoke(self, context, event):
        if self.files or self.filepath:  # drag-and-drop gives the files: import straight away
            return self.execute(context)
        return ImportHelper.invoke(self, context, event)


class SAGA_FH_splat(bpy.types.FileHandler):
    bl_idname = "SAGA_FH_splat"
    bl_label = "Gaussian Splat"
    bl_import_operator = "saga.import_splat"
    bl_file_extensions = ".ply;.splat"

    @classmethod
    def poll_drop(cls, context):
        return context.area is not None and context.area.type == "VIEW_3D"


class SAGA_OT_export_splat(bpy.types.Operator, ExportHelper):
    """Export the active splat object (or one of its selections) as an INRIA .ply, its transform applied"""

    bl_idname = "saga.export_splat"
    bl_label = "Export Gaussian Splat"
    filename_ext = ".ply"
    filter_glob: StringProperty(default="*.ply", options={"HIDDEN"})
    only_group: StringProperty(
        name="Only Selection", default="",
        description="Export only the points of this selection (vertex group); empty: all",
    )  # fmt: skip

    @classmethod
    def poll(cls, context):
        return is_splat_object(context.active_object)

    def draw(self, context):
        self.layout.prop_search(self, "only_group", context.active_object, "vertex_groups")

    def execute(self, context):
        obj = context.active_object
        t0 = time.perf_counter()
        try:
            keep = group_mask(obj, self.only_group) if self.only_group else None
            splat, _ids = splat_from_object(obj, keep)
            if len(splat) == 0:
                raise SelectionError(f"the selection '{self.only_group}' is empty: nothing to export")
            splat, info = transform_splat(splat, export_matrix(obj))
            write_splat(self.filepath, splat)
        except (SplatFileError, SelectionError, ValueError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        note = "" if info.get("uniform_scale", True) else " (non-uniform scale: view-dependent colour approximated)"
        self.report({"INFO"}, f"Exported {len(splat):,} Gaussians to {os.path.basename(self.filepath)} in "
                              f"{time.perf_counter() - t0:.2f} s{note}")  # fmt: skip
        return {"FINISHED"}


def menu_import(self, context):
    self.layout.operator(SAGA_OT_import_splat.bl_idname, text="Gaussian Splat (.ply, .splat)")


def menu_export(self, context):
    self.layout.operator(SAGA_OT_export_splat.bl_idname, text="Gaussian Splat (.ply)")


CLASSES = (SAGA_OT_import_splat, SAGA_FH_splat, SAGA_OT_export_splat)
