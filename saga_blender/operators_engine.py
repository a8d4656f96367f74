"""Engine connection (preferences, start / connect / stop) and Prepare Scene, without freezing Blender.

Work runs in worker threads (``engine_session``); a ``bpy.app.timers`` callback drains their results, updates
the sidebar and the status bar, and stops itself when nothing is pending.
"""

from __future__ import annotations

import os

import bpy
from bpy.props import EnumProperty, IntProperty, StringProperty

from .background import ensure_timer
from .engine_client import EngineError
from .engine_session import SESSION
from .splat_mesh import SOURCE_KEY, is_splat_object


def addon_prefs(context):
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


class SAGA_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    engine_python: StringProperty(
        name="Engine Python", subtype="FILE_PATH", default="",
        description="Python interpreter that has the SAGA engine installed (e.g. saga-blender/.venv/bin/python)",
    )  # fmt: skip
    data_dir: StringProperty(name="Engine Data Folder", subtype="DIR_PATH",
                             default=os.path.join(os.path.expanduser("~"), ".cache", "saga-engine"))  # fmt: skip
    remote_url: StringProperty(name="Remote Engine URL", default="", description="http://host:port of an engine")
    remote_token: StringProperty(name="Token", subtype="PASSWORD", default="")

    def draw(self, context):
        col = self.layout.column()
        col.label(text="Local engine")
        col.prop(self, "engine_python")
        col.prop(self, "data_dir")
        col.separator()
        col.label(text="Remote engine (saga-engine serve --host ... --allow-remote on the other machine)")
        col.prop(self, "remote_url")
        col.prop(self, "remote_token")


class SAGA_OT_engine_start(bpy.types.Operator):
    """Start a local engine with the Python set in the add-on's preferences"""

    bl_idname = "saga.engine_start"
    bl_label = "Start Local Engine"

    def execute(self, context):
        prefs = addon_prefs(context)
        python = bpy.path.abspath(prefs.engine_python) if prefs else ""
        data_dir = bpy.path.abspath(prefs.data_dir) if prefs else os.path.expanduser("~/.cache/saga-engine")
        SESSION.start_local(python, data_dir)
        ensure_timer()
        self.report({"INFO"}, "starting the SAGA engine in the background...")
        return {"FINISHED"}


class SAGA_OT_engine_connect(bpy.types.Operator):
    """Connect to a remote engine (URL and token from the add-on's preferences)"""

    bl_idname = "saga.engine_connect"
    bl_label = "Connect to Remote Engine"

    def execute(self, context):
        prefs = addon_prefs(context)
        if prefs is None or not prefs.remote_url:
            self.report({"ERROR"}, "set the remote engine's URL and token in the add-on's preferences")
            return {"CANCELLED"}
        SESSION.connect_remote(prefs.remote_url, prefs.remote_token)  # in the background; the panel shows how it went
        ensure_timer()
        self.report({"INFO"}, f"connecting to {prefs.remote_url}...")
        return {"FINISHED"}


class SAGA_OT_engine_stop(bpy.types.Operator):
    """Stop the local engine (or forget the remote one)"""

    bl_idname = "saga.engine_stop"
    bl_label = "Stop Engine"

    def execute(self, context):
        SESSION.stop()
        return {"FINISHED"}


class SAGA_OT_prepare(bpy.types.Operator):
    """Prepare the active splat for clicking: views, masks and feature training on the engine"""

    bl_idname = "saga.prepare"
    bl_label = "Prepare Scene"

    views: EnumProperty(name="Views", items=[
        ("SPLAT", "From the Splat", "Views rendered from the splat itself"),
        ("COLMAP", "COLMAP Capture", "The original photos with a COLMAP model"),
        ("TRANSFORMS", "transforms.json Capture", "The original photos with a transforms.json"),
    ], default="SPLAT")  # fmt: skip
    view_count: IntProperty(name="Views", default=32, min=4, max=512)
    capture_path: StringProperty(name="COLMAP Folder / transforms.json", subtype="FILE_PATH")
    images: StringProperty(name="Images", subtype="DIR_PATH")
    masks: EnumProperty(name="Masks", items=[
        ("fallback", "Weights-free", "Masks from each view's colour and depth (no model file)"),
        ("geometric", "Weights-free 3D", "Masks from the splat's own 3D segmentation (no model file)"),
        ("sam", "SAM", "Segment Anything with a checkpoint you provide"),
        ("dir", "Mask Folder", "Your own masks, one file per view"),
    ], default="fallback")  # fmt: skip
    sam_checkpoint: StringProperty(name="SAM Checkpoint", subtype="FILE_PATH")
    sam_model: EnumProperty(name="SAM Model", items=[(m, m, "") for m in ("vit_h", "vit_l", "vit_b")])
    masks_dir: StringProperty(name="Mask Folder", subtype="DIR_PATH")
    iterations: IntProperty(name="Iterations", default=0, min=0, description="0: the engine's default")
    size: IntProperty(name="Training Size", default=0, min=0, max=4096,
                      description="Longest image side the engine trains at (0: the engine's default, 256 on CPU); "
                                  "clicks stay in the viewport's own pixels")  # fmt: skip

    @classmethod
    def poll(cls, context):
        return is_splat_object(context.active_object) and SESSION.client is not None

    def params(self) -> dict:
        p: dict = {"masks": self.masks}
        if self.views == "SPLAT":
            p["views"] = f"auto:{self.view_count}"
        else:
            p["views"] = "capture"
            p["colmap" if self.views == "COLMAP" else "transforms"] = bpy.path.abspath(self.capture_path)
            p["images"] = bpy.path.abspath(self.images)
        if self.masks == "sam":
            p.update(sam_checkpoint=bpy.path.abspath(self.sam_checkpoint), sam_model=self.sam_model)
        if self.masks == "dir":
            p["masks_dir"] = bpy.path.abspath(self.masks_dir)
        if self.iterations:
            p["iterations"] = self.iterations
        if self.size:
            p["size"] = max(16, self.size)
        return p

    def execute(self, context):
        obj = context.active_object
        source = obj.get(SOURCE_KEY, "")
        if not source:
            self.report({"ERROR"}, "this object has no source splat file to prepare (import it with SAGA)")
            return {"CANCELLED"}
        try:
            SESSION.start_prepare(source, obj.name, self.params())
        except EngineError as exc:
            self.report({"ERROR"}, exc.message)
            return {"CANCELLED"}
        ensure_timer()
        self.report({"INFO"}, "prepare started")
        return {"FINISHED"}

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self, width=420)


class SAGA_OT_prepare_cancel(bpy.types.Operator):
    """Cancel the running prepare (the previous training, if any, stays)"""

    bl_idname = "saga.prepare_cancel"
    bl_label = "Cancel Prepare"

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        task = SESSION.latest("prepare", obj.name if obj is not None else None)
        return task is not None and not task.finished

    def execute(self, context):
        obj = context.active_object
        try:
            SESSION.cancel_prepare(obj.name if obj is not None else None)
            ensure_timer()
        except EngineError as exc:
            self.report({"ERROR"}, exc.message)
            return {"CANCELLED"}
        return {"FINISHED"}


CLASSES = (SAGA_AddonPreferences, SAGA_OT_engine_start, SAGA_OT_engine_connect, SAGA_OT_engine_stop, SAGA_OT_prepare,
           SAGA_OT_prepare_cancel)  # fmt: skip
