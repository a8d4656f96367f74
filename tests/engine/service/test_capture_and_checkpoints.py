"""The service over HTTP: prepare from a capture (COLMAP and its photos), clicks by training view in the photos' own
pixels, and a damaged checkpoint reported as "not prepared" with the reason (never a 500)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from saga_blender.engine_client import EngineError
from tests.capture_maker import make_capture, object_iou

from .conftest import Engine


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    return make_capture(tmp_path_factory.mktemp("capture"), gaussians=20_000, views=10, width=400, height=300)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    e = Engine(tmp_path_factory.mktemp("engine-data"))
    yield e
    e.stop()


def test_prepare_from_a_capture_and_click_in_photo_pixels(engine, capture):
    c = engine.client
    scene = c.open_scene(capture["scene"])
    job = c.prepare(scene["id"], views="capture", colmap=capture["colmap"], images=capture["images"], size=128,
                    iterations=600, pixels=256, masks="dir", masks_dir=capture["masks_dir"], device="cpu")  # fmt: skip
    final = c.wait(job["id"], poll=0.2, timeout=600)
    assert final["state"] == "done", final
    views = c._json("GET", f"/v1/scenes/{scene['id']}/views")
    assert (views["width"], views["height"], views["training_size"]) == (400, 300, [128, 96])
    names = [cam["name"] for cam in views["cameras"]]
    labels = np.load(capture["labels"])
    for obj in ("lamp", "bowl"):
        click = capture["clicks"][obj]
        body = {"view": names.index(click["photo"]), "positive": [[click["x"], click["y"]]], "scale": 0.5}
        _, _headers, raw = c.request("POST", f"/v1/scenes/{scene['id']}/query", body)
        ids = np.load(__import__("io").BytesIO(raw))
        assert object_iou(ids, labels["object_id"], list(labels["object_names"]).index(obj)) > 0.6, obj
    # a point outside the photo (but inside the training size's numbers would be fine) is refused clearly
    with pytest.raises(EngineError) as info:
        c.request("POST", f"/v1/scenes/{scene['id']}/query", {"view": 0, "positive": [[410, 10]], "scale": 0.5})
    assert info.value.status == 400 and "outside the 400x300 image" in info.value.message
    with pytest.raises(EngineError) as info:
        c.request("POST", f"/v1/scenes/{scene['id']}/query", {"view": 99, "positive": [[10, 10]], "scale": 0.5})
    assert info.value.status == 400 and "view 99 does not exist" in info.value.message


def test_a_bad_capture_is_refused_before_the_job(engine, capture, tmp_path):
    c = engine.client
    scene = c.open_scene(capture["scene"])
    with pytest.raises(EngineError) as info:
        c.prepare(scene["id"], views="capture", colmap=capture["colmap"], images=str(tmp_path), device="cpu")
    assert info.value.status == 400 and "10 of 10 images are missing" in info.value.message
    with pytest.raises(EngineError) as info:
        c.prepare(scene["id"], views="capture", images=capture["images"], device="cpu")
    assert info.value.status == 400 and "colmap" in info.value.message


def test_a_damaged_checkpoint_is_not_prepared_and_queries_say_why(engine, capture):
    c = engine.client
    scene = c.open_scene(capture["scene"])
    if not c.scene(scene["id"])["prepared"]:
        job = c.prepare(scene["id"], views="auto:4", size=64, iterations=30, pixels=64, device="cpu")
        assert c.wait(job["id"], poll=0.2, timeout=300)["state"] == "done"
    status = next(s for s in c.status()["scenes"] if s["id"] == scene["id"])
    workdir = os.path.join(c.status()["data_dir"], "scenes", status["content_hash"][:24])
    ckpt = os.path.join(workdir, "saga_features.npz")
    raw = open(ckpt, "rb").read()
    try:
        for damage in (raw[: len(raw) // 2], b"", raw[:100] + bytes(200) + raw[300:]):
            with open(ckpt, "wb") as fh:
                fh.write(damage)
            info = c.scene(scene["id"])
            assert not info["prepared"] and info["problem"].startswith("checkpoint damaged:"), info
            with pytest.raises(EngineError) as err:
                c.request("POST", f"/v1/scenes/{scene['id']}/query", {"view": 0, "positive": [[200, 150]],
                                                                      "scale": 0.5})  # fmt: skip
            assert err.value.status == 409 and "checkpoint damaged" in err.value.message
            with pytest.raises(EngineError) as err:
                c.cluster(scene["id"], 0.5)
            assert err.value.status == 409
    finally:
        with open(ckpt, "wb") as fh:
            fh.write(raw)
    assert c.scene(scene["id"])["prepared"]
