"""A bounded fuzz run over the API: random JSON bodies, query strings and ids against every endpoint of a real
engine with a prepared scene; no answer may be a 5xx, and the engine must stay up."""

from __future__ import annotations

import json
import urllib.parse

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from saga_blender.engine_client import EngineError  # noqa: E402

from .conftest import QUICK  # noqa: E402

scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, width=32)
json_values = st.recursive(
    scalars | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)  # fmt: skip
FIELDS = ["camera", "viewmat", "K", "width", "height", "positive", "negative", "scale", "threshold", "path",
          "views", "masks", "iterations", "seed", "sample_fraction", "mask_npy", "positive_scribbles", "grow",
          "size"]  # fmt: skip
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6) | json_values


@pytest.fixture(scope="module")
def prepared(engine, scenes):
    c = engine.client
    s = c.open_scene(str(scenes["a"]))
    if not s["prepared"]:
        assert c.wait(c.prepare(s["id"], **QUICK)["id"], poll=0.2, timeout=300)["state"] == "done"
    return s["id"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(["query", "cluster", "prepare", "extract", "scenes", "cancel", "upload"]),
       body=bodies, raw=st.binary(max_size=64), bad_id=st.text(min_size=1, max_size=12))  # fmt: skip
def test_no_request_gets_a_5xx(engine, prepared, endpoint, body, raw, bad_id):
    c = engine.client
    bad_id = urllib.parse.quote(bad_id, safe="")
    path, data, kind = {
        "query": (f"/v1/scenes/{prepared}/query", None, "json"),
        "cluster": (f"/v1/scenes/{prepared}/cluster", None, "json"),
        "prepare": (f"/v1/scenes/{bad_id}/prepare", None, "json"),
        "extract": (f"/v1/scenes/{prepared}/extract", raw, "application/x-npy"),
        "scenes": ("/v1/scenes", None, "json"),
        "cancel": (f"/v1/jobs/{bad_id}/cancel", None, "json"),
        "upload": ("/v1/scenes/upload?filename=x.ply", raw, "application/octet-stream"),
    }[endpoint]
    try:
        if data is None:
            c.request("POST", path, data=json.dumps(body).encode(), content_type="application/json", timeout=120)
        else:
            c.request("POST", path, data=data or b"\\0", content_type=kind, timeout=120)
    except EngineError as exc:
        assert 400 <= exc.status < 500, (endpoint, body, exc.status, exc.message)
    assert c.status()["protocol"] == 1
