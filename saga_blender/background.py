"""Applying the engine session's background work on Blender's UI thread: a ``bpy.app.timers`` callback drains the
workers' news, applies finished results to the objects their tasks name (a prepared scene, Segment Everything's
clusters), updates the status bar and redraws the viewports; it stops itself when nothing is pending."""

from __future__ import annotations

import bpy

from .engine_session import SESSION

PREPARED_KEY = "saga_prepared_hash"
TICK_S = 0.25


def apply_finished(tasks) -> None:
    """What finished background work changes in Blender, each on the object its own task names."""
    from .cluster_groups import apply_clusters

    for task in tasks:
        if task.state != "done" or task.applied:
            continue
        task.applied = True
        obj = bpy.data.objects.get(task.object_name) if task.object_name else None
        if task.kind == "prepare" and obj is not None:
            obj[PREPARED_KEY] = task.scene_id
        elif task.kind == "cluster" and obj is not None and task.result is not None:
            task.message = apply_clusters(obj, task.result)


def tick():
    """Timer: apply the workers' news; keep ticking while something is pending."""
    changed = SESSION.drain()
    if changed:
        apply_finished(changed)
        for window in bpy.context.window_manager.windows:
            for area in window.screen.areas:
                if area.type == "VIEW_3D":
                    area.tag_redraw()
    workspace = getattr(bpy.context, "workspace", None)
    busy = SESSION.busy
    if workspace is not None:
        workspace.status_text_set(busy or None)
    return TICK_S if busy else None


def wait_and_apply(task, timeout: float):
    """Drain and apply until ``task`` ends: what the timer does, for scripts and tests without an event loop."""
    import time

    deadline = time.monotonic() + timeout
    while not task.finished and time.monotonic() < deadline:
        apply_finished(SESSION.drain())
        time.sleep(0.05)
    apply_finished(SESSION.drain())
    return task


def ensure_timer() -> None:
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=0.1)
