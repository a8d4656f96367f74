"""Prepare Scene in real Blender from a COLMAP capture (photos larger than the training size), with a real engine,
then a click through the click tool in a viewport that looks through one of the capture's cameras selects the object
under the cursor; and a damaged training is reported as such."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import time
import types

import numpy as np
import pytest

from .conftest import ENGINE_PYTHON, REPO

bpy = pytest.importorskip("bpy")


@pytest.fixture(scope="module")
def ext(extension):
    return types.SimpleNamespace(
        session=importlib.import_module(extension + ".engine_session"),
        process=importlib.import_module(extension + ".engine_process"),
        headless=importlib.import_module(extension + ".headless"),
        axes=importlib.import_module(extension + ".core.axes"),
    )


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    out = tmp_path_factory.mktemp("capture")
    done = subprocess.run([str(ENGINE_PYTHON), "-m", "tests.capture_maker", str(out), "--gaussians", "20000"],
                          cwd=REPO, capture_output=True, text=True, timeout=600, check=True)  # fmt: skip
    return json.loads(done.stdout)


def wait_prepare(session, timeout=600):
    deadline = time.monotonic() + timeout
    while session.prepare.state == "running" and time.monotonic() < deadline:
        session.drain()
        time.sleep(0.2)
    session.drain()
    return session.prepare


def camera_object(ext, view: dict, width: int, height: int, obj):
    """A Blender camera looking exactly through a capture camera (OpenCV, in the splat's coordinates)."""
    from mathutils import Matrix

    b = ext.axes.opencv_to_blender_camera(np.array(view["viewmat"]), np.array(view["K"]), width, height,
                                          object_matrix=np.array(obj.matrix_world))  # fmt: skip
    data = bpy.data.cameras.new("capture_view")
    data.lens, data.sensor_width, data.sensor_fit = b["lens_mm"], b["sensor_width_mm"], b["sensor_fit"]
    data.shift_x, data.shift_y = b["shift_x"], b["shift_y"]
    cam = bpy.data.objects.new("capture_view", data)
    bpy.context.scene.collection.objects.link(cam)
    cam.matrix_world = Matrix(b["matrix_world"].tolist())
    bpy.context.view_layer.update()
    return cam


def test_prepare_from_colmap_then_click_in_a_capture_view(ext, engine, capture):
    for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.cameras):
        for item in list(collection):
            collection.remove(item)
    assert bpy.ops.saga.import_splat(filepath=capture["scene"], up_axis="Z") == {"FINISHED"}
    obj = bpy.context.view_layer.objects.active
    result = bpy.ops.saga.prepare(views="COLMAP", capture_path=capture["colmap"], images=capture["images"],
                                  masks="dir", masks_dir=capture["masks_dir"], iterations=600, size=128)  # fmt: skip
    assert result == {"FINISHED"}
    p = wait_prepare(engine)
    assert p.state == "done", p.error
    views = engine.client.views(p.scene_id)
    assert (views["width"], views["height"], views["training_size"]) == (400, 300, [128, 96])
    labels = np.load(os.path.join(capture["root"], "scene_labels.npz"))
    names = [os.path.basename(c["name"]) for c in views["cameras"]]
    ids = np.empty(len(obj.data.vertices), np.int32)
    obj.data.attributes["gs_id"].data.foreach_get("value", ids)
    for name in ("lamp", "bowl"):
        click = capture["clicks"][name]
        cam = camera_object(ext, views["cameras"][names.index(click["photo"])], 400, 300, obj)
        region, rv3d = ext.headless.viewport_from_camera(cam, 400, 300)
        tool = ext.headless.HeadlessClickTool(obj, region, rv3d)
        # the photo's pixel (x, y) from the top-left is the region's (x, height - 1 - y) from the bottom-left
        assert tool.event("LEFTMOUSE", click["x"], 300 - 1 - click["y"]) == {"RUNNING_MODAL"}, tool.reports
        truth = labels["object_id"][ids] == list(labels["object_names"]).index(name)
        iou = (tool.mask & truth).sum() / max((tool.mask | truth).sum(), 1)
        assert iou > 0.6, (name, iou)
        tool.event("ESC")
        bpy.data.objects.remove(cam)


def test_a_damaged_training_is_reported_not_prepared(ext, engine, capture):
    obj = next(o for o in bpy.data.objects if o.type == "MESH")
    status = engine.client.status()
    sid = engine.scene_ids[capture["scene"]]
    digest = engine.client.scene(sid)["content_hash"]
    ckpt = os.path.join(status["data_dir"], "scenes", digest[:24], "saga_features.npz")
    raw = open(ckpt, "rb").read()
    try:
        with open(ckpt, "wb") as fh:
            fh.write(raw[:5000])
        with pytest.raises(ext.session.EngineError) as info:
            engine.require_prepared(capture["scene"], obj.name)
        assert "checkpoint damaged" in info.value.message and "prepare the scene again" in info.value.message
        assert engine.scene_info[capture["scene"]]["problem"].startswith("checkpoint damaged")
        assert bpy.ops.saga.segment_everything() == {"FINISHED"}  # starts in the background, then says why not
        task = engine.wait(engine.latest("cluster", obj.name), 120)
        assert task.state == "failed" and "is not prepared: checkpoint damaged" in task.error
    finally:
        with open(ckpt, "wb") as fh:
            fh.write(raw)
