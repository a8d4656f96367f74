"""POST /v1/scenes/{id}/similar through a real engine process: the selection and the Gaussians like it, the same
ids as the engine's own select_similar on the scene's checkpoint, and clear 4xx for bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

from saga_blender.engine_client import EngineError

from .conftest import QUICK


def test_similar_through_the_service(engine, scenes):
    from engine.query.feature_scores import FeatureScorer
    from engine.query.similar import select_similar
    from engine.service.state import scene_workdir
    from engine.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

    c = engine.client
    a = c.open_scene(str(scenes["a"]))
    job = c.prepare(a["id"], **QUICK)
    assert c.wait(job["id"], poll=0.2, timeout=300)["state"] == "done"
    selection = np.arange(0, 400, dtype=np.int64)
    ids = c.similar(a["id"], selection, scale=0.5)
    assert ids.dtype == np.int64 and set(selection.tolist()) <= set(ids.tolist())
    assert np.all(np.diff(ids) > 0) and ids.max() < 8000
    ckpt = load_checkpoint(os.path.join(scene_workdir(c.status()["data_dir"], a["content_hash"]), CHECKPOINT_NAME))
    own = select_similar(FeatureScorer(ckpt.features, ckpt.gate_weight, ckpt.gate_bias), selection, 0.5,
                         visibility=ckpt.visibility)  # fmt: skip
    np.testing.assert_array_equal(ids, own.ids)
    strict = c.similar(a["id"], selection, scale=0.5, threshold=0.99)
    assert len(strict) <= len(ids)
    for call, status, words in [
        (lambda: c.similar(a["id"], np.zeros(0, np.int64), 0.5), 400, "empty"),
        (lambda: c.similar(a["id"], np.array([5, 10**6]), 0.5), 400, "outside the scene"),
        (lambda: c.similar(a["id"], selection, 1.5), 422, "scale"),
        (lambda: c.similar("nope", selection, 0.5), 404, "no open scene"),
    ]:
        with pytest.raises(EngineError) as info:
            call()
        assert info.value.status == status and words in info.value.message, (info.value.status, info.value.message)


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


def npy(array) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


arrays = hnp.arrays(st.sampled_from([np.int64, np.int8, np.uint32, np.float32, np.bool_, np.complex64, "U3"]),
                    hnp.array_shapes(max_dims=3, max_side=5))  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(arrays.map(npy), st.binary(max_size=64), st.just(npy(np.array([{"a": 1}], object)))),
    scale=st.one_of(st.floats(-2, 2, width=32), st.text(max_size=4)),
    threshold=st.floats(-3, 3, width=32),
)
def test_similar_never_answers_a_5xx(engine, scenes, body, scale, threshold):  # fmt: skip
    c = engine.client
    scene = c.open_scene(str(scenes["a"]))
    if not scene["prepared"]:
        assert c.wait(c.prepare(scene["id"], **QUICK)["id"], poll=0.2, timeout=300)["state"] == "done"
    try:
        c.request("POST", f"/v1/scenes/{scene['id']}/similar", data=body or b"\0", content_type="application/x-npy",
                  query={"scale": scale, "threshold": threshold}, timeout=120)  # fmt: skip
    except EngineError as exc:
        assert 400 <= exc.status < 500, (exc.status, exc.message)
