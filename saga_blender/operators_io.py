"""File > Import / Export > Gaussian Splat, and drag-and-drop into the 3D viewport (a FileHandler).

Operators only turn properties into calls of the bpy-free core (``core.splat_io``, ``core.splat_transform``,
``core.splat_merge``) and ``splat_mesh``, and report the result or the problem in Blender's status bar.
Import reads ``.ply``, ``.compressed.ply``, ``.splat``, ``.spz`` and ``.sog`` (its WebP textures decoded by Blender);
export writes the format its extension names, one object or several merged into one file, each with its own
transform (and SH rotation) baked in.
"""

from __future__ import annotations

import os
import time

import bpy
import numpy as np
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .core.errors import FileWriteError, SplatFileError
from .core.splat_io import read_splat, write_splat
from .core.splat_merge import merge_splats
from .core.splat_transform import transform_splat
from .display_nodes import show_solid_colours
from .selection_groups import SelectionError, group_mask
from .splat_mesh import create_splat_object, export_matrix, is_splat_object, splat_from_object

UP_AXIS_ITEMS = [
    ("-Y", "-Y (COLMAP, 3DGS)", "The file's up is -Y, as in scenes trained from COLMAP captures"),
    ("Y", "Y", "The file's up is +Y (e.g. .spz files from Niantic / Scaniverse)"),
    ("Z", "Z (Blender)", "The file's up is +Z: no correction"),
]
IMPORT_SUFFIXES = (".compressed.ply", ".ply", ".splat", ".spz", ".sog")
EXPORT_FORMATS = {  # enum id: (extension, label, description)
    "PLY": (".ply", "INRIA .ply", "Every property, full precision (the 3DGS trainer's format)"),
    "SPZ": (".spz", "Niantic .spz", "About 10x smaller, quantised (SuperSplat, Scaniverse, web viewers)"),
    "COMPRESSED": (".compressed.ply", "SuperSplat .compressed.ply", "About 4x smaller, quantised per chunk"),
    "SPLAT": (".splat", "antimatter15 .splat", "32 bytes per Gaussian, no view-dependent colour"),
}


def splat_name(path: str) -> str:
    base = os.path.basename(path)
    if base.lower() == "meta.json":  # an unbundled SOG: named after its folder
        return os.path.basename(os.path.dirname(os.path.abspath(path))) or "splat"
    for ext in IMPORT_SUFFIXES:
        if base.lower().endswith(ext):
            return base[: -len(ext)] or "splat"
    return base


def strip_splat_suffix(path: str) -> str:
    lower = path.lower()
    for ext, *_ in sorted(EXPORT_FORMATS.values(), key=lambda v: -len(v[0])):
        if lower.endswith(ext):
            return path[: -len(ext)]
    return path


def format_of_path(path: str) -> str | None:
    lower = path.lower()
    for key, (ext, *_) in sorted(EXPORT_FORMATS.items(), key=lambda kv: -len(kv[1][0])):
        if lower.endswith(ext):
            return key
    return None


class SAGA_OT_import_splat(bpy.types.Operator, ImportHelper):
    """Import a Gaussian splat (.ply, .compressed.ply, .splat, .spz, .sog) as a point object"""

    bl_idname = "saga.import_splat"
    bl_label = "Import Gaussian Splat"
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    filter_glob: StringProperty(default="*.ply;*.splat;*.spz;*.sog;meta.json", options={"HIDDEN"})
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
        from .blender_images import decode_webp

        imported = []
        for path in self.paths():
            t0 = time.perf_counter()
            try:
                result = read_splat(path, sanitize=self.sanitize, decode_webp=decode_webp)
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
        show_solid_colours(context)
        return {"FINISHED"}

    def invoke(self, context, event):
        if self.files or self.filepath:  # drag-and-drop gives the files: import straight away
            return self.execute(context)
        return ImportHelper.invoke(self, context, event)


class SAGA_FH_splat(bpy.types.FileHandler):
    bl_idname = "SAGA_FH_splat"
    bl_label = "Gaussian Splat"
    bl_import_operator = "saga.import_splat"
    bl_file_extensions = ".ply;.splat;.spz;.sog"

    @classmethod
    def poll_drop(cls, context):
        return context.area is not None and context.area.type == "VIEW_3D"


def export_objects(context, merge: bool) -> list:
    """The active splat object, then (merging) the other selected splat objects."""
    active = context.active_object
    if not merge:
        return [active]
    others = [o for o in context.selected_objects if is_splat_object(o) and o is not active]
    return [active, *sorted(others, key=lambda o: o.name)]


class SAGA_OT_export_splat(bpy.types.Operator, ExportHelper):
    """Export the active splat object (or several merged, or one selection) with its transform applied, in the
    format the file's extension names (.ply, .spz, .compressed.ply, .splat)"""

    bl_idname = "saga.export_splat"
    bl_label = "Export Gaussian Splat"
    filename_ext = ".ply"
    filter_glob: StringProperty(default="*.ply;*.spz;*.splat", options={"HIDDEN"})
    file_format: EnumProperty(
        name="Format", default="PLY", items=[(k, v[1], v[2]) for k, v in EXPORT_FORMATS.items()],
        description="File format (the file name's extension follows it)",
    )  # fmt: skip
    spz_version: EnumProperty(
        name="SPZ Version", default="3",
        items=[("3", "3 (gzip)", "Read by every .spz reader"), ("4", "4 (zstd)", "Smaller and faster; newer readers"),
               ("2", "2 (gzip, 8-bit rotations)", "For the oldest readers only")],
    )  # fmt: skip
    merge_selected: BoolProperty(
        name="Merge Selected Objects", default=False,
        description="Write every selected splat object into one file, each with its own transform and SH rotation "
                    "baked in, in the active object's file frame",
    )  # fmt: skip
    only_group: StringProperty(
        name="Only Selection", default="",
        description="Export only the points of this selection (vertex group) of the active object; empty: all",
    )  # fmt: skip

    @classmethod
    def poll(cls, context):
        return is_splat_object(context.active_object)

    def check(self, context):
        """Keep the file name's extension that of the chosen format."""
        wanted = strip_splat_suffix(self.filepath) + EXPORT_FORMATS[self.file_format][0]
        if self.filepath and wanted != self.filepath:
            self.filepath = wanted
            return True
        return False

    def invoke(self, context, event):
        result = ExportHelper.invoke(self, context, event)
        self.check(context)
        return result

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "file_format")
        if self.file_format == "SPZ":
            layout.prop(self, "spz_version")
        layout.prop(self, "merge_selected")
        layout.prop_search(self, "only_group", context.active_object, "vertex_groups")

    def object_splat(self, obj, active, only_group: str):
        keep = group_mask(obj, only_group) if only_group else None
        splat, _ids = splat_from_object(obj, keep)
        if len(splat) == 0:
            raise SelectionError(f"the selection '{only_group}' is empty: nothing to export")
        matrix = export_matrix(obj, frame_of=active)
        if np.array_equal(matrix, np.eye(4)):  # unmoved: the splat as it is (no copy of every column)
            return splat, {"uniform_scale": True}
        return transform_splat(splat, matrix)

    def execute(self, context):
        fmt = format_of_path(self.filepath)
        if fmt is None:  # a name without a splat extension: add the chosen format's
            self.filepath += EXPORT_FORMATS[self.file_format][0]
        else:
            self.file_format = fmt
        active = context.active_object
        t0 = time.perf_counter()
        objects = export_objects(context, self.merge_selected)
        try:
            parts, exact = [], True
            for obj in objects:
                splat, info = self.object_splat(obj, active, self.only_group if obj is active else "")
                parts.append(splat)
                exact &= info.get("uniform_scale", True)
            splat, notes = merge_splats(parts)
            written = write_splat(self.filepath, splat, spz_version=int(self.spz_version))
        except (SplatFileError, FileWriteError, SelectionError, ValueError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not exact:
            notes.append("non-uniform scale: view-dependent colour approximated")
        what = f"{len(objects)} objects merged, " if len(objects) > 1 else ""
        note = f" ({'; '.join(notes)})" if notes else ""
        self.report({"INFO"}, f"Exported {what}{len(splat):,} Gaussians to {os.path.basename(self.filepath)} "
                              f"({written}) in {time.perf_counter() - t0:.2f} s{note}")  # fmt: skip
        return {"FINISHED"}


def menu_import(self, context):
    self.layout.operator(SAGA_OT_import_splat.bl_idname, text="Gaussian Splat (.ply, .spz, .splat, .sog)")


def menu_export(self, context):
    self.layout.operator(SAGA_OT_export_splat.bl_idname, text="Gaussian Splat (.ply, .spz, .splat)")


CLASSES = (SAGA_OT_import_splat, SAGA_FH_splat, SAGA_OT_export_splat)
