"""The click tool in real Blender talking to a real engine process (started from the project's .venv):
prepare, clicks through the modal code path with stand-in events, ray maths against bpy_extras.view3d_utils,
vertex group = engine ids, after moving the object and after deleting points, scale change, engine loss."""

from __future__ import annotations

import importlib
import subprocess
import time
import types

import numpy as np
import pytest

from .conftest import ENGINE_PYTHON, REPO

bpy = pytest.importorskip("bpy")


@pytest.fixture(scope="module")
def ext(extension):
    """The installed add-on's modules."""
    return types.SimpleNamespace(
        session=importlib.import_module(extension + ".engine_session"),
        tool=importlib.import_module(extension + ".operators_tool"),
        process=importlib.import_module(extension + ".engine_process"),
    )


@pytest.fixture(scope="module")
def demo_scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scene")
    subprocess.run([str(ENGINE_PYTHON), "-m", "engine", "generate-scene", str(folder), "--gaussians", "20000"],
                   cwd=REPO, check=True, capture_output=True)  # fmt: skip
    labels = np.load(folder / "scene_labels.npz")
    return folder / "scene.ply", labels


def wait_prepare(session, timeout=300):
    start = time.time()
    while session.prepare.state == "running" and time.time() - start < timeout:
        session.drain()
        time.sleep(0.2)
    session.drain()
    return session.prepare


@pytest.fixture(scope="module")
def prepared(engine, demo_scene, extension):
    for collection in (bpy.data.objects, bpy.data.meshes):
        for item in list(collection):
            collection.remove(item)
    path, labels = demo_scene
    assert bpy.ops.saga.import_splat(filepath=str(path), up_axis="Z") == {"FINISHED"}
    obj = bpy.context.view_layer.objects.active
    assert bpy.ops.saga.prepare(views="SPLAT", view_count=12, iterations=400) == {"FINISHED"}
    p = wait_prepare(engine)
    assert p.state == "done", p.error
    return obj, labels


def headless():
    return importlib.import_module("bl_ext.user_default.saga_blender.headless")


def viewport(obj_points, width=320, height=240):
    """A Blender camera looking at the points, as a viewport: stand-in region and region_data."""
    from mathutils import Matrix, Vector

    centre = Vector(obj_points.mean(axis=0).tolist())
    cam = bpy.data.objects.new("view", bpy.data.cameras.new("view"))
    bpy.context.scene.collection.objects.link(cam)
    cam.location = centre + Vector((0.0, -1.6, 1.3))
    cam.rotation_euler = (np.radians(50), 0.0, 0.0)
    bpy.context.view_layer.update()
    region, rv3d = headless().viewport_from_camera(cam, width, height)
    bpy.data.objects.remove(cam)
    return region, rv3d, Matrix


def context_for(obj, region, rv3d):
    return headless().stand_in_context(obj, region, rv3d)


def new_tool(ext, ctx):
    """The click tool as the modal operator runs it (its own methods on a stand-in instance)."""
    return headless().HeadlessClickTool(ctx.active_object, ctx.region, ctx.region_data), ext.tool.SAGA_OT_click_select


def event(kind="LEFTMOUSE", x=0, y=0, shift=False, ctrl=False):
    return headless().stand_in_event(kind, x, y, shift, ctrl)


def screen_of(point_world, region, rv3d):
    from bpy_extras.view3d_utils import location_3d_to_region_2d
    from mathutils import Vector

    xy = location_3d_to_region_2d(region, rv3d, Vector(point_world.tolist()))
    return round(xy.x), round(xy.y)


def world_points(obj):
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    m = np.array(obj.matrix_world)
    return co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]


def object_centre(obj, labels, name):
    ids = np.empty(len(obj.data.vertices), np.int32)
    obj.data.attributes["gs_id"].data.foreach_get("value", ids)
    members = labels["object_id"][ids] == list(labels["object_names"]).index(name)
    return world_points(obj)[members].mean(axis=0), members


def test_ray_maths_match_view3d_utils(extension, prepared):
    from bpy_extras.view3d_utils import region_2d_to_origin_3d, region_2d_to_vector_3d

    core = importlib.import_module(extension + ".core.view_camera")
    obj, _ = prepared
    region, rv3d, _ = viewport(world_points(obj))
    cam = core.viewport_camera(rv3d.view_matrix, rv3d.window_matrix, region.width, region.height, True, None)
    for mx, my in [(0, 0), (160, 120), (319, 17), (42, 239)]:
        u, v = core.mouse_to_pixel(mx, my, region.height)
        origin, direction = core.pixel_ray(cam, u, v)
        # Blender's ray through the same pixel centre
        b_dir = np.array(region_2d_to_vector_3d(region, rv3d, (mx + 0.5, my + 0.5)))
        b_origin = np.array(region_2d_to_origin_3d(region, rv3d, (mx + 0.5, my + 0.5)))
        assert np.allclose(direction, b_dir / np.linalg.norm(b_dir), atol=1e-5)
        assert np.linalg.norm(np.cross(origin - b_origin, direction)) < 1e-4  # on the same line


def test_click_keeps_the_engine_selection_as_a_vertex_group(ext, engine, prepared):
    obj, labels = prepared
    bpy.context.window_manager.saga_scale = 0.5
    region, rv3d, _ = viewport(world_points(obj))
    ctx = context_for(obj, region, rv3d)
    tool, cls = new_tool(ext, ctx)
    centre, members = object_centre(obj, labels, "bowl")
    x, y = screen_of(centre, region, rv3d)
    assert cls.modal(tool, ctx, event("LEFTMOUSE", x, y)) == {"RUNNING_MODAL"}
    assert tool.mask.sum() > 0
    # the vertex group is exactly what the engine answers for the same camera and point
    cam = tool.camera(ctx)
    ids = engine.client.query(tool.scene_id, cam.to_json(), 0.5, positive=[(x + 0.5, region.height - y - 0.5)]).ids
    assert cls.modal(tool, ctx, event("RET")) == {"FINISHED"}
    group = obj.vertex_groups.active
    gid = np.empty(len(obj.data.vertices), np.int32)
    obj.data.attributes["gs_id"].data.foreach_get("value", gid)
    in_group = {int(gid[v.index]) for v in obj.data.vertices if any(g.group == group.index for g in v.groups)}
    assert in_group == set(ids.tolist())
    iou = (tool.mask & members).sum() / (tool.mask | members).sum()
    assert iou > 0.5, iou  # it is the bowl (a small, quickly trained scene)
    # a negative point removes, Ctrl+Z brings it back, the scale slider re-segments
    before = tool.mask.copy()
    cls.modal(tool, ctx, event("LEFTMOUSE", x, y, shift=True))
    assert tool.mask.sum() < before.sum()
    cls.modal(tool, ctx, event("Z", ctrl=True))
    assert np.array_equal(tool.mask, before)
    bpy.context.window_manager.saga_scale = 1.0
    tool.requery(ctx)
    assert tool.mask.sum() > before.sum()
    bpy.context.window_manager.saga_scale = 0.5


def test_clicks_from_two_views_combine(ext, prepared):
    obj, labels = prepared
    pts = world_points(obj)
    region, rv3d, _ = viewport(pts)
    ctx = context_for(obj, region, rv3d)
    tool, cls = new_tool(ext, ctx)
    bowl_c, bowl = object_centre(obj, labels, "bowl")
    cls.modal(tool, ctx, event("LEFTMOUSE", *screen_of(bowl_c, region, rv3d)))
    bowl_alone = tool.mask.copy()
    # navigate: another viewport (the view looks from the side), then click the vase there
    region2, rv3d2, _ = viewport(pts + np.array([0.3, 0.0, 0.0], np.float32))
    ctx2 = context_for(obj, region2, rv3d2)
    vase_c, vase = object_centre(obj, labels, "vase")
    cls.modal(tool, ctx2, event("LEFTMOUSE", *screen_of(vase_c, region2, rv3d2)))
    assert len(tool.prompts.groups) == 2 and any("new view" in r for r in tool.reports)
    assert (tool.mask & bowl).sum() > 0.5 * bowl.sum() and (tool.mask & vase).sum() > 0.5 * vase.sum()
    cls.modal(tool, ctx2, event("Z", ctrl=True))  # undo the vase: back to the bowl's view alone
    assert len(tool.prompts.groups) == 1 and np.array_equal(tool.mask, bowl_alone)
    assert (tool.mask & vase).sum() < (tool.mask & bowl).sum()  # still mostly the bowl


def test_clicks_stay_right_after_moving_the_object_and_deleting_points(ext, prepared):
    obj, labels = prepared
    region, rv3d, _ = viewport(world_points(obj))
    ctx = context_for(obj, region, rv3d)
    tool, cls = new_tool(ext, ctx)
    centre, _ = object_centre(obj, labels, "bowl")
    cls.modal(tool, ctx, event("LEFTMOUSE", *screen_of(centre, region, rv3d)))
    gid = np.empty(len(obj.data.vertices), np.int32)
    obj.data.attributes["gs_id"].data.foreach_get("value", gid)
    reference = set(gid[tool.mask].tolist())
    # move and rotate the object, then click where the bowl now is (same view)
    obj.location = (0.4, -0.3, 0.1)
    obj.rotation_euler = (0.0, 0.0, 0.5)
    bpy.context.view_layer.update()
    centre, _ = object_centre(obj, labels, "bowl")
    moved, cls = new_tool(ext, ctx)
    cls.modal(moved, ctx, event("LEFTMOUSE", *screen_of(centre, region, rv3d)))
    got = set(gid[moved.mask].tolist())
    assert len(got & reference) / len(got | reference) > 0.8
    # delete points of another object: the bowl's selection maps through gs_id to the new vertices
    _, plate = object_centre(obj, labels, "plate")
    set_group = importlib.import_module(ext.tool.__name__.rsplit(".", 1)[0] + ".selection_groups").set_group
    set_group(obj, "plate", plate)
    assert bpy.ops.saga.selection_delete(group="plate") == {"FINISHED"}
    after, cls = new_tool(ext, ctx)
    cls.modal(after, ctx, event("LEFTMOUSE", *screen_of(centre, region, rv3d)))
    gid2 = np.empty(len(obj.data.vertices), np.int32)
    obj.data.attributes["gs_id"].data.foreach_get("value", gid2)
    got2 = set(gid2[after.mask].tolist())
    assert len(after.mask) == len(obj.data.vertices)
    assert len(got2 & got) / len(got2 | got) > 0.8
    obj.location, obj.rotation_euler = (0, 0, 0), (0, 0, 0)


def test_segment_everything_groups_cover_every_point_and_a_click_picks_one(ext, engine, prepared):
    obj, labels = prepared
    assert engine.check()
    assert bpy.ops.saga.segment_everything() == {"FINISHED"}  # returns at once; the engine works in the background
    task = engine.latest("cluster", obj.name)
    assert task is not None
    background = importlib.import_module(ext.tool.__name__.rsplit(".", 1)[0] + ".background")
    assert background.wait_and_apply(task, 600).state == "done", task.error
    groups = [g for g in obj.vertex_groups if g.name.startswith("cluster_")]
    assert len(groups) >= 3
    cluster = np.empty(len(obj.data.vertices), np.int32)
    obj.data.attributes["saga_cluster"].data.foreach_get("value", cluster)
    index_to_label = {g.index: int(g.name.split("_")[1]) for g in groups}
    step = max(1, len(obj.data.vertices) // 500)
    for i in range(0, len(obj.data.vertices), step):  # every point sampled: in exactly its cluster's group
        v = obj.data.vertices[i]
        member = [index_to_label[g.group] for g in v.groups if g.group in index_to_label]
        assert member == [cluster[v.index]]
    colors = np.empty(len(obj.data.vertices) * 4, np.float32)
    obj.data.color_attributes["gs_color"].data.foreach_get("color", colors)
    per_cluster = {tuple(np.round(colors.reshape(-1, 4)[cluster == c][0], 3)) for c in np.unique(cluster)}
    assert len(per_cluster) == len(np.unique(cluster))  # distinct display colours
    region, rv3d, _ = viewport(world_points(obj))
    ctx = context_for(obj, region, rv3d)
    tool, cls = new_tool(ext, ctx)
    tool.pick_cluster = True
    centre, _ = object_centre(obj, labels, "bowl")
    cls.modal(tool, ctx, event("LEFTMOUSE", *screen_of(centre, region, rv3d)))
    picked = np.unique(cluster[tool.mask])
    assert len(picked) == 1 and tool.mask.sum() == (cluster == picked[0]).sum()
    assert bpy.ops.saga.reset_colors() == {"FINISHED"}


def test_a_prepared_scene_is_found_again_after_reopening(ext, engine, prepared):
    obj, _ = prepared
    engine.scene_ids.clear()  # a new Blender session knows nothing; the engine's cache knows the content
    _, was_prepared = engine.scene_id_for(obj["saga_source"])
    assert was_prepared


def test_missing_or_incomplete_engine_python_is_explained(ext):
    with pytest.raises(ext.process.EngineSetupError, match="does not exist"):
        ext.process.check_interpreter("/no/such/python")
    import sys

    with pytest.raises(ext.process.EngineSetupError, match=r"lacks the engine.*pip install"):
        ext.process.check_interpreter(sys.executable)  # Blender's Python has no torch


def test_a_remote_connection_uploads_the_splat_and_finds_it_prepared(ext, engine, prepared):
    obj, _ = prepared
    remote = ext.session.EngineSession()
    remote.wait(remote.connect_remote(engine.client.url, engine.client.token), 60)
    assert remote.status.startswith("remote engine at") and remote.client is not None
    scene_id, was_prepared = remote.scene_id_for(obj["saga_source"])
    assert was_prepared and engine.client.scene(scene_id)["path"].endswith(".ply")
    wrong = ext.session.EngineSession()
    task = wrong.wait(wrong.connect_remote(engine.client.url, "wrong-token-wrong-token"), 60)
    assert task.state == "failed" and "token" in task.error and wrong.client is None and "token" in wrong.error


# last: it kills the module's engine
def test_engine_killed_mid_prepare_gives_a_clear_message(ext, engine, prepared, tmp_path):
    obj, _ = prepared
    session = engine
    state = session.start_prepare(obj["saga_source"], obj.name, {"views": "auto:8", "iterations": 100000})
    deadline = time.monotonic() + 300
    while state.state == "running" and state.stage != "training" and time.monotonic() < deadline:
        time.sleep(0.2)
        session.drain()
    assert state.stage == "training"
    session.local.process.kill()
    p = wait_prepare(session, timeout=60)
    assert p.state == "failed" and "lost the engine" in p.error
    assert not session.check() and session.status == "engine not answering"
    # Blender keeps working: the splat still exports, and the edit survives
    out = tmp_path / "after_engine_loss.ply"
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.saga.export_splat(filepath=str(out)) == {"FINISHED"} and out.stat().st_size > 0
