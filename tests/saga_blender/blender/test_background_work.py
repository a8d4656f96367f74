"""Blender never waits on the network in its UI thread: connect, upload, prepare and Segment Everything run in the
background and report through tasks; each job's news reaches the object that started it; the local engine's
output goes to a log file; a bad ready line stops the process. Real bpy, a real engine."""

from __future__ import annotations

import importlib
import os
import socket
import stat
import subprocess
import threading
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
        background=importlib.import_module(extension + ".background"),
    )


@pytest.fixture(scope="module")
def two_objects(engine, tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenes")
    paths = []
    for seed in (0, 1):
        out = folder / f"s{seed}"
        subprocess.run([str(ENGINE_PYTHON), "-m", "engine", "generate-scene", str(out), "--gaussians", "6000",
                        "--seed", str(seed)], cwd=REPO, check=True, capture_output=True, timeout=300)  # fmt: skip
        paths.append(out / "scene.ply")
    for collection in (bpy.data.objects, bpy.data.meshes):
        for item in list(collection):
            collection.remove(item)
    objs = []
    for p in paths:
        assert bpy.ops.saga.import_splat(filepath=str(p), up_axis="Z") == {"FINISHED"}
        objs.append(bpy.context.view_layer.objects.active)
    return objs


def test_each_prepare_reports_to_its_own_object(ext, engine, two_objects):
    """Prepare A (long), then B (short): B's end marks B only; A stays running until it ends on its own."""
    a, b = two_objects
    ta = engine.start_prepare(a["saga_source"], a.name, {"views": "auto:4", "size": 48, "iterations": 100_000})
    deadline = time.monotonic() + 120
    while not ta.job_id and time.monotonic() < deadline:
        engine.drain()
        time.sleep(0.05)
    tb = engine.start_prepare(b["saga_source"], b.name, {"views": "auto:4", "size": 48, "iterations": 30})
    ext.background.wait_and_apply(tb, 300)
    assert tb.state == "done", tb.error
    assert b.get(ext.background.PREPARED_KEY) == tb.scene_id and ext.background.PREPARED_KEY not in a
    assert ta.state == "running" and ta.job_id != tb.job_id and engine.latest("prepare", a.name) is ta
    assert engine.cancel_prepare(a.name) is not None
    ext.background.wait_and_apply(ta, 60)
    assert ta.state == "cancelled" and ext.background.PREPARED_KEY not in a


def test_segment_everything_runs_in_the_background(ext, engine, two_objects):
    _, b = two_objects
    bpy.context.view_layer.objects.active = b
    t0 = time.perf_counter()
    assert bpy.ops.saga.segment_everything() == {"FINISHED"}
    assert time.perf_counter() - t0 < 1.0  # the operator only starts the work
    task = engine.latest("cluster", b.name)
    ext.background.wait_and_apply(task, 300)
    assert task.state == "done" and task.message.endswith("clusters")
    assert any(g.name.startswith("cluster_") for g in b.vertex_groups)


def test_connecting_never_blocks_even_to_a_silent_server(ext):
    """A server that accepts and never answers: connect_remote returns at once; the task fails when the server
    goes away; the session stays usable."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    session = ext.session.EngineSession()
    t0 = time.perf_counter()
    task = session.connect_remote(f"http://127.0.0.1:{server.getsockname()[1]}", "x" * 20)
    assert time.perf_counter() - t0 < 0.5 and not task.finished and session.busy
    time.sleep(1.0)
    session.drain()
    assert not task.finished  # still waiting on the silent server, in its worker
    for conn, _ in accepted:
        conn.close()
    server.close()
    session.wait(task, 60)
    assert task.state == "failed" and task.error and session.client is None


def test_remote_upload_reports_progress_in_the_background(ext, engine, two_objects, tmp_path):
    a, _ = two_objects
    remote = ext.session.EngineSession()
    remote.wait(remote.connect_remote(engine.client.url, engine.client.token), 60)
    assert remote.client is not None
    big = tmp_path / "copy.ply"
    big.write_bytes(open(a["saga_source"], "rb").read())
    stages = []
    task = remote.start_prepare(str(big), a.name, {"views": "auto:4", "size": 48, "iterations": 20})
    deadline = time.monotonic() + 300
    while not task.finished and time.monotonic() < deadline:
        stages += [t.stage for t in remote.drain()]
        time.sleep(0.02)
    assert task.state == "done", task.error
    # the upload's own progress, then the remote prepare's stages (which of them a poll catches depends on timing:
    # 20 iterations can be over between two polls)
    assert any(s.startswith("uploading") for s in stages), stages
    assert {"views and masks", "neighbours", "training"} & set(stages), stages


def test_the_engine_output_goes_to_a_log_and_a_bad_ready_line_stops_it(ext, tmp_path):
    fake = tmp_path / "fake_python"
    # 100 KiB of warnings first: on a pipe nobody reads the process would block before its ready line
    fake.write_text("#!/bin/sh\nfor i in $(seq 1 2000); do echo warning $i: a long line of library chatter of the "
                    "kind torch prints >&2; done\necho 'not a ready line'\nsleep 600\n")  # fmt: skip
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    local = ext.process.LocalEngine(str(fake), str(tmp_path / "data"))
    t0 = time.perf_counter()
    with pytest.raises(ext.process.EngineSetupError, match="ready line is not understood") as info:
        local.start(timeout=30, check=False)
    assert "the process was stopped" in str(info.value) and time.perf_counter() - t0 < 30
    assert local.process.poll() is not None  # not left running
    assert "warning 2000:" in open(local.stderr_path).read()  # stderr went to the file, not a pipe
    assert os.path.dirname(local.stderr_path) == str(tmp_path / "data")
    assert np.isfinite(t0)
