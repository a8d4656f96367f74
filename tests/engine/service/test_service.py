"""The engine service against a real process on loopback: the whole flow, jobs, security, limits, robustness."""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from engine.cameras.auto_views import auto_views
from saga_blender.core.splat_io import read_splat
from saga_blender.engine_client import EngineClient, EngineError

from .conftest import QUICK, REPO, Engine


def camera_of(path, index=0, size=64):
    splat = read_splat(path).splat
    cams = auto_views(splat, 6, width=size, height=size, layout="object")
    return {"viewmat": cams.viewmats[index].tolist(), "K": cams.Ks[index].tolist(), "width": size, "height": size}


def test_ready_line_status_and_openapi(engine):
    ready = json.loads(engine.ready_line)
    assert ready["saga_engine"] == "ready" and ready["protocol"] == 1 and ready["url"].startswith("http://127.0.0.1:")
    status = engine.client.status()
    assert status["protocol"] == 1 and isinstance(status["jobs"], list)
    doc = engine.client.openapi()
    assert "/v1/scenes/{scene_id}/query" in doc["paths"] and doc["info"]["version"] == "1"


def test_token_is_required(engine):
    for token in ("", "not-the-token-at-all"):
        with pytest.raises(EngineError) as info:
            EngineClient(engine.client.url, token).status()
        assert info.value.status == 401 and "token" in info.value.message


def test_open_prepare_query_cluster_extract(engine, scenes):
    c = engine.client
    a = c.open_scene(str(scenes["a"]))
    b = c.upload_scene(str(scenes["b"]))  # a remote client sends the file
    assert a["id"] != b["id"] and a["gaussians"] == b["gaussians"] == 8000 and not a["prepared"]
    assert {s["id"] for s in c.status()["scenes"]} >= {a["id"], b["id"]}
    job = c.prepare(a["id"], **QUICK)
    final = c.wait(job["id"], poll=0.2, timeout=300)
    assert final["state"] == "done" and final["percent"] == 100.0, final
    assert c.scene(a["id"])["prepared"]
    cam = camera_of(scenes["a"])
    res = c.query(a["id"], cam, 0.5, positive=[(32, 32)])
    assert res.ids.dtype == np.int64 and len(res.ids) > 0 and "scores" in res.timings_ms
    twice = c.query(a["id"], cam, 0.5, positive=[(32, 32)], more_views=[{"camera": camera_of(scenes["a"], 1),
                                                                           "positive": [(30, 30)]}])  # fmt: skip
    assert set(res.ids.tolist()) <= set(twice.ids.tolist())  # points of a second view add to the first's
    labels = c.cluster(a["id"], 0.5)
    assert labels.shape == (8000,) and labels.min() >= 0
    ply = c.extract(a["id"], res.ids)
    tmp = REPO / "build" / "test_extract.ply"
    tmp.parent.mkdir(exist_ok=True)
    tmp.write_bytes(ply)
    part, full = read_splat(tmp).splat, read_splat(scenes["a"]).splat
    np.testing.assert_array_equal(part.means, full.means[np.sort(res.ids)])
    tmp.unlink()
    # a prepared scene is found again by its content: reopening it (same bytes, new id) needs no training
    c.close_scene(a["id"])
    again = c.open_scene(str(scenes["a"]))
    assert again["prepared"] and again["content_hash"] == a["content_hash"]


def test_bad_requests_get_a_clear_4xx(engine, scenes, tmp_path):
    c = engine.client
    a = c.open_scene(str(scenes["a"]))
    cases = [
        (lambda: c.open_scene(str(tmp_path / "missing.ply")), 404, "no such file"),
        (lambda: c.scene("nope"), 404, "no open scene"),
        (lambda: c.job("nope"), 404, "no job"),
        (lambda: c.query(a["id"], camera_of(scenes["a"]), 1.5, positive=[(3, 3)]), 422, "scale"),
        (lambda: c.prepare(a["id"], masks="sam"), 400, "sam_checkpoint"),
        (lambda: c.prepare(a["id"], views="auto:0"), 400, "auto:N"),
        (lambda: c.extract(a["id"], np.array([0, 10**9])), 400, "ids must be in"),
    ]
    not_a_splat = tmp_path / "x.ply"
    not_a_splat.write_text("hello")
    cases.append((lambda: c.open_scene(str(not_a_splat)), 422, "x.ply"))
    for call, status, words in cases:
        with pytest.raises(EngineError) as info:
            call()
        assert info.value.status == status and words in info.value.message, (info.value.status, info.value.message)
    # malformed JSON and an oversized body
    with pytest.raises(EngineError) as info:
        c.request("POST", "/v1/scenes", data=b"{not json", content_type="application/json")
    assert info.value.status == 422
    # an oversized body is refused from its declared length, before the engine reads it
    host, port = c.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", f"/v1/scenes/{a['id']}/query")
    conn.putheader("Authorization", f"Bearer {c.token}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(65 << 20))
    conn.endheaders(b"{")
    resp = conn.getresponse()
    assert resp.status == 413 and "larger than the limit" in json.loads(resp.read())["detail"]
    conn.close()


def test_cancel_queries_while_training_and_a_failing_job(engine, scenes, tmp_path):
    c = engine.client
    b = c.open_scene(str(scenes["b"]))
    a = c.open_scene(str(scenes["a"]))
    if not a["prepared"]:
        assert c.wait(c.prepare(a["id"], **QUICK)["id"], poll=0.2, timeout=300)["state"] == "done"
    job = c.prepare(b["id"], **{**QUICK, "iterations": 100000})
    while c.job(job["id"])["stage"] != "training":
        time.sleep(0.1)
    t0 = time.perf_counter()
    res = c.query(a["id"], camera_of(scenes["a"]), 0.5, positive=[(32, 32)])  # answered while B trains
    assert len(res.ids) > 0 and time.perf_counter() - t0 < 10
    with pytest.raises(EngineError) as info:
        c.prepare(b["id"], **QUICK)
    assert info.value.status == 409 and "already has a prepare job" in info.value.message
    c.cancel(job["id"])
    assert c.wait(job["id"], poll=0.1, timeout=30)["state"] == "cancelled"
    # an empty mask folder, or one whose masks fit no view, is refused up front; masks whose headers are sound but
    # whose data is cut short fail inside the job, which is reported while the engine keeps serving
    folder = tmp_path / "masks"
    folder.mkdir()
    with pytest.raises(EngineError) as info:
        c.prepare(b["id"], **{**QUICK, "masks": "dir", "masks_dir": str(folder)})
    assert info.value.status == 400 and "holds no .npz or .png" in info.value.message
    np.savez(folder / "some_other_view.npz", masks=np.ones((1, 64, 64), bool))
    with pytest.raises(EngineError) as info:
        c.prepare(b["id"], **{**QUICK, "masks": "dir", "masks_dir": str(folder)})
    assert info.value.status == 400 and "no masks for view" in info.value.message
    with pytest.raises(EngineError) as info:  # close-ups are new views, which a mask folder cannot cover
        c.prepare(b["id"], **{**QUICK, "masks": "dir", "masks_dir": str(folder), "close_ups": 2})
    assert info.value.status == 400 and "close_ups renders new views" in info.value.message, info.value.message
    with pytest.raises(EngineError) as info:
        c.prepare(b["id"], **{**QUICK, "close_ups": -1})
    assert 400 <= info.value.status < 500 and "close_ups" in info.value.message, info.value.message
    from PIL import Image

    for i in range(6):
        png = folder / f"auto_object_{i:04d}.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 9, (64, 64)).astype(np.uint8)).save(png)
        png.write_bytes(png.read_bytes()[:80])  # the header survives, the pixels do not
    failed = c.wait(c.prepare(b["id"], **{**QUICK, "masks": "dir", "masks_dir": str(folder)})["id"], timeout=120)
    assert failed["state"] == "failed" and "auto_object_0000.png" in failed["error"], failed
    assert c.status()["protocol"] == 1


def test_a_job_outlives_its_client_and_a_new_client_finds_it(engine, scenes):
    code = (
        "import sys; sys.path.insert(0, {!r})\n"
        "from saga_blender.engine_client import EngineClient\n"
        "c = EngineClient.from_ready_line({!r})\n"
        "s = c.open_scene({!r})\n"
        "j = c.prepare(s['id'], **{!r})\n"
        "print(j['id'], flush=True)\n"
        "import time; time.sleep(600)\n"
    ).format(str(REPO), engine.ready_line, str(scenes["b"]), {**QUICK, "iterations": 300})  # fmt: skip
    client = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    job_id = client.stdout.readline().strip()
    client.kill()  # the client dies mid-job
    client.wait()
    fresh = EngineClient.from_ready_line(engine.ready_line)
    assert job_id in {j["id"] for j in fresh.jobs()}
    assert fresh.wait(job_id, poll=0.2, timeout=300)["state"] == "done"


def test_remote_bind_needs_a_flag_and_confines_paths(tmp_path, scenes):
    refused = subprocess.run([sys.executable, "-m", "engine", "serve", "--host", "0.0.0.0", "--data-dir",
                              str(tmp_path / "d0")], cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 2 and "--allow-remote" in refused.stderr
    remote = Engine(tmp_path / "d1", "--host", "0.0.0.0", "--allow-remote")
    try:
        assert "warning" in remote.proc.stderr.readline()
        c = EngineClient(json.loads(remote.ready_line)["url"].replace("0.0.0.0", "127.0.0.1"), remote.client.token)
        with pytest.raises(EngineError) as info:
            c.open_scene(str(scenes["a"]))  # a path outside the engine's data folders
        assert info.value.status == 403 and "outside the engine's data folders" in info.value.message
        with pytest.raises(EngineError) as info:
            c.open_scene(str(tmp_path / "d1" / ".." / ".." / "etc" / "passwd"))
        assert info.value.status == 403
        up = c.upload_scene(str(scenes["a"]))  # uploads land inside, so they open
        assert up["gaussians"] == 8000
        with pytest.raises(EngineError) as info:
            c.extract(up["id"], np.arange(10), out="/tmp/escape.ply")
        assert info.value.status == 403
    finally:
        remote.stop()


def test_shutdown_cancels_jobs_and_keeps_the_cache(tmp_path, scenes):
    e = Engine(tmp_path / "data")
    c = e.client
    s = c.open_scene(str(scenes["a"]))
    assert c.wait(c.prepare(s["id"], **QUICK)["id"], poll=0.2, timeout=300)["state"] == "done"
    ckpt = next((tmp_path / "data" / "scenes").glob("*/saga_features.npz"))
    before = ckpt.read_bytes()
    job = c.prepare(s["id"], **{**QUICK, "iterations": 100000})
    while c.job(job["id"])["stage"] != "training":
        time.sleep(0.1)
    c.shutdown()
    assert e.proc.wait(timeout=30) == 0
    assert ckpt.read_bytes() == before  # the cancelled job left the previous checkpoint intact
    log = (tmp_path / "data" / "engine.log").read_text()
    assert "shutdown requested" in log and "cancelled" in log


def test_npy_is_never_unpickled(engine, scenes):
    c = engine.client
    s = c.open_scene(str(scenes["a"]))
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    req = urllib.request.Request(f"{c.url}/v1/scenes/{s['id']}/extract", data=buf.getvalue(), method="POST",
                                 headers={"Authorization": f"Bearer {c.token}"})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req)
    assert info.value.code == 400
