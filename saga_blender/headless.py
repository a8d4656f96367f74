"""Drive the click tool without a window (scripts, the demo, benchmarks): the same methods the modal operator
runs on a real click, fed a viewport described by its matrices and stand-in events."""

from __future__ import annotations

import types

import bpy


def viewport_from_camera(cam_obj, width: int, height: int):
    """(region, region_data) stand-ins of a 3D viewport looking through a camera object."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    window = cam_obj.calc_matrix_camera(depsgraph, x=width, y=height)
    view = cam_obj.matrix_world.inverted()
    perspective = cam_obj.data.type != "ORTHO"
    rv3d = types.SimpleNamespace(
        view_matrix=view, window_matrix=window, perspective_matrix=window @ view, is_perspective=perspective,
        view_perspective="PERSP" if perspective else "ORTHO",
    )  # fmt: skip
    return types.SimpleNamespace(width=width, height=height), rv3d


def stand_in_context(obj, region, rv3d):
    """What the click tool reads from ``context`` in a viewport, without a window."""
    return types.SimpleNamespace(active_object=obj, region=region, region_data=rv3d, area=None, workspace=None,
                                 window_manager=bpy.context.window_manager)  # fmt: skip


def stand_in_event(kind: str, x: int = 0, y: int = 0, shift: bool = False, ctrl: bool = False):
    """A key or mouse press as ``modal`` reads it."""
    return types.SimpleNamespace(type=kind, value="PRESS", mouse_region_x=x, mouse_region_y=y, shift=shift,
                                 ctrl=ctrl)  # fmt: skip


class HeadlessClickTool:
    """The click tool's state and steps (``operators_tool.SAGA_OT_click_select``) outside a modal session."""

    def __init__(self, obj, region, rv3d, group_name: str = "Selection", pick_cluster: bool = False):
        from .operators_tool import SAGA_OT_click_select

        self.cls = SAGA_OT_click_select
        self.context = stand_in_context(obj, region, rv3d)
        self.group_name, self.pick_cluster, self.reports = group_name, pick_cluster, []
        for name in ("start", "camera", "requery", "click", "keep", "finish"):
            setattr(self, name, types.MethodType(getattr(self.cls, name), self))
        self.start(self.context)

    def report(self, _kind, message) -> None:
        self.reports.append(message)

    def event(self, kind: str, x: int = 0, y: int = 0, shift: bool = False, ctrl: bool = False) -> set:
        """Send one key or mouse press through the operator's ``modal``."""
        return self.cls.modal(self, self.context, stand_in_event(kind, x, y, shift, ctrl))
