"""Select Similar in real Blender with a real engine process: the active selection's Gaussians go to the engine, the
answer (the selection and every Gaussian like it at the Scale) comes back as a new, previewed vertex group, also
after points were deleted."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from .test_click_tool import demo_scene, ext, wait_prepare  # noqa: F401  (module fixtures: a scene; the engine: conftest)
from .test_extension import members

bpy = pytest.importorskip("bpy")


@pytest.fixture(scope="module")
def prepared(engine, demo_scene, extension):  # noqa: F811
    """The demo scene imported and prepared quickly (the answers are compared with the engine's, not with labels)."""
    for collection in (bpy.data.objects, bpy.data.meshes):
        for item in list(collection):
            collection.remove(item)
    path, labels = demo_scene
    assert bpy.ops.saga.import_splat(filepath=str(path), up_axis="Z") == {"FINISHED"}
    obj = bpy.context.view_layer.objects.active
    assert bpy.ops.saga.prepare(views="SPLAT", view_count=8, iterations=200) == {"FINISHED"}
    p = wait_prepare(engine, timeout=1200)  # a shared 2-core machine can be slow
    assert p.state == "done", p.error
    return obj, labels


def gs_id(obj) -> np.ndarray:
    out = np.empty(len(obj.data.vertices), np.int32)
    obj.data.attributes["gs_id"].data.foreach_get("value", out)
    return out


def test_select_similar_is_the_engines_answer_as_a_new_selection(engine, prepared):
    obj, labels = prepared
    bpy.context.view_layer.objects.active = obj
    names = list(labels["object_names"])
    bowl = labels["object_id"] == names.index("bowl")
    ids = gs_id(obj)
    start = np.flatnonzero(bowl[ids])[::3]  # a third of the bowl's points
    obj.vertex_groups.new(name="Bowl").add(start.tolist(), 1.0, "REPLACE")
    obj.vertex_groups.active = obj.vertex_groups["Bowl"]
    wm = bpy.context.window_manager
    wm.saga_scale, wm.saga_threshold = 0.5, 0.75
    assert bpy.ops.saga.select_similar("INVOKE_DEFAULT") == {"FINISHED"}
    group = obj.vertex_groups.active
    assert group.name == "Bowl similar"
    scene_id, was_prepared = engine.scene_id_for(obj["saga_source"])
    assert was_prepared
    answer = engine.client.similar(scene_id, np.unique(ids[start]), 0.5, 0.75)
    got = members(obj, "Bowl similar")  # gs_ids
    assert got == set(answer.tolist()) and got >= set(ids[start].tolist())
    assert len(got) > len(start)  # the rest of the bowl, at least
    assert importlib.import_module("bl_ext.user_default.saga_blender.selection_preview").highlighted_group(obj) == \
        "Bowl similar"  # fmt: skip
    # after deleting points, ids still map through gs_id
    obj.vertex_groups.new(name="Gone").add(list(range(0, 2000)), 1.0, "REPLACE")
    assert bpy.ops.saga.selection_delete(group="Gone") == {"FINISHED"}
    obj.vertex_groups.active = obj.vertex_groups["Bowl"]
    ids = gs_id(obj)
    kept = np.array(sorted(members(obj, "Bowl")))
    assert bpy.ops.saga.select_similar(scale=0.5, threshold=0.75) == {"FINISHED"}
    answer = engine.client.similar(scene_id, kept, 0.5, 0.75)
    assert members(obj, obj.vertex_groups.active.name) == set(answer.tolist()) & set(ids.tolist())


def test_select_similar_needs_a_selection_and_a_prepared_scene(engine, prepared, sample_ply):
    obj, _ = prepared
    bpy.context.view_layer.objects.active = obj
    obj.vertex_groups.new(name="Nothing")
    obj.vertex_groups.active = obj.vertex_groups["Nothing"]
    with pytest.raises(RuntimeError, match="empty"):
        bpy.ops.saga.select_similar(scale=0.5)
    assert bpy.ops.saga.import_splat(filepath=str(sample_ply)) == {"FINISHED"}
    other = bpy.context.view_layer.objects.active
    other.vertex_groups.new(name="Some").add([0, 1, 2], 1.0, "REPLACE")
    with pytest.raises(RuntimeError, match="not prepared"):
        bpy.ops.saga.select_similar(scale=0.5)
