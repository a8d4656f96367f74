"""Schemathesis over the engine's own OpenAPI document: every endpoint (but shutdown), with and without the token,
with valid and invalid data (positive and negative generation), against real scene and job ids and random ones.
No answer may be a 5xx; without the token every answer is 401. The engine confines client paths to its data folder
(``--confine``), so generated output paths cannot reach the rest of the machine."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install -e '.[dev]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from .conftest import QUICK, Engine  # noqa: E402

EXAMPLES = 12
POS, NEG = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
RUNS = [(True, True, POS), (True, True, NEG), (True, False, POS), (False, True, POS)]  # token, real ids, data


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, scenes):
    e = Engine(tmp_path_factory.mktemp("fuzz-data"), "--confine", "--body-timeout", "5", "--header-timeout", "5")
    c = e.client
    # the fuzzed engine reads scenes from its own data folder (paths are confined)
    import shutil

    data_dir = c.status()["data_dir"]
    local = shutil.copy(scenes["a"], f"{data_dir}/a.ply")
    scene = c.open_scene(local)
    job = c.prepare(scene["id"], **QUICK)
    assert c.wait(job["id"], poll=0.2, timeout=300)["state"] == "done"
    yield e, scene["id"], job["id"]
    e.stop()


def fuzz(strategy, url, headers, with_token, op, failures, calls) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=strategy)
    def run(case):
        response = case.call(base_url=url, headers=headers, timeout=120)
        calls["n"] += 1
        calls[response.status_code] = calls.get(response.status_code, 0) + 1
        if response.status_code >= 500 or (not with_token and response.status_code != 401):
            failures.append((op.method.upper(), op.path, with_token, response.status_code, response.text[:300]))

    run()


def test_no_endpoint_answers_5xx(fuzzed):
    e, scene_id, job_id = fuzzed
    schema = schemathesis.openapi.from_dict(e.client.openapi())
    failures, calls = [], {"n": 0}
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 12
    for op in operations:
        if op.path == "/v1/shutdown":
            continue
        for with_token, real_ids, mode in RUNS:
            params = {}
            # real ids, except where a random request could change the fixture (close the scene, start a prepare)
            if real_ids and "{scene_id}" in op.path and op.method != "delete" and not op.path.endswith("/prepare"):
                params["scene_id"] = scene_id
            if real_ids and "{job_id}" in op.path:
                params["job_id"] = job_id
            strategy = op.as_strategy(generation_mode=mode, path_parameters=params or None)
            headers = {"Authorization": f"Bearer {e.client.token}"} if with_token else {}
            fuzz(strategy, e.client.url, headers, with_token, op, failures, calls)
    assert calls["n"] > 300 and calls.get(200, 0) > 50 and calls.get(401, 0) > 100  # deep, not only refusals
    assert failures == [], failures[:10]
    assert e.client.status()["protocol"] == 1
