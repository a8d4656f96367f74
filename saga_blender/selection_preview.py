"""The live preview of selections: the display modifier draws the members of the object's active vertex group in
the highlight colour (``display_nodes``, "Highlight" input), in every shading mode, evaluated in C++.

The highlighted group follows the active selection: operators that make one call :func:`sync_highlight` (through
``selection_groups.new_selection``), and a message-bus subscription follows clicks in the Selections list. The
object's *Show Selection* toggle (``saga_show_selection``) turns the preview off. Nothing is kept outside Blender's
data: the highlighted name lives on the modifier, so undo restores it with everything else.
"""

from __future__ import annotations

import bpy
from bpy.app.handlers import persistent

from .display_nodes import get_display_input, set_display_input

SHOW_PROPERTY = "saga_show_selection"
_OWNER = object()


def highlighted_group(obj) -> str:
    """The vertex group the object's display highlights ("" for none)."""
    return get_display_input(obj, "Highlight", "") or ""


def sync_highlight(obj) -> None:
    """Highlight the object's active vertex group (or nothing when Show Selection is off or it has none)."""
    if obj is None or obj.type != "MESH":
        return
    active = obj.vertex_groups.active
    show = getattr(obj, SHOW_PROPERTY, True)
    set_display_input(obj, "Highlight", active.name if (active is not None and show) else "")


def _on_active_group_change(*_args) -> None:
    obj = bpy.context.view_layer.objects.active if bpy.context.view_layer else None
    sync_highlight(obj)


def _on_show_toggle(obj, _context) -> None:
    sync_highlight(obj)


def subscribe() -> None:
    bpy.msgbus.clear_by_owner(_OWNER)
    bpy.msgbus.subscribe_rna(key=(bpy.types.VertexGroups, "active_index"), owner=_OWNER, args=(),
                             notify=_on_active_group_change)  # fmt: skip


@persistent
def _resubscribe(*_args) -> None:  # loading a file clears the message bus
    subscribe()


def register() -> None:
    bpy.types.Object.saga_show_selection = bpy.props.BoolProperty(
        name="Show Selection", default=True, update=_on_show_toggle,
        description="Draw the active selection (vertex group) of the splat in the highlight colour",
    )  # fmt: skip
    subscribe()
    bpy.app.handlers.load_post.append(_resubscribe)


def unregister() -> None:
    if _resubscribe in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_resubscribe)
    bpy.msgbus.clear_by_owner(_OWNER)
    del bpy.types.Object.saga_show_selection
