"""Faults with a real engine: killed (-9) mid-prepare and mid-upload, a full disk, two engines on one data folder.
After each, a restarted engine finds everything as it was before the fault and nothing half-written."""

from __future__ import annotations

import http.client
import os
import signal
import time

import pytest

from saga_blender.engine_client import EngineError

from .conftest import QUICK, Engine


def kill(engine: Engine) -> None:
    engine.proc.send_signal(signal.SIGKILL)
    engine.proc.wait(timeout=30)


def temporaries(folder: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        found += [os.path.join(root, n) for n in files if n.endswith(".saga-tmp")]
        found += [os.path.join(root, d) for d in dirs if d.startswith(".prepare-")]
    return found


def test_kill_mid_prepare_keeps_the_previous_training(scenes, tmp_path):
    data = tmp_path / "data"
    e = Engine(data)
    try:
        c = e.client
        a = c.open_scene(str(scenes["a"]))
        assert c.wait(c.prepare(a["id"], **QUICK)["id"], poll=0.2, timeout=300)["state"] == "done"
        first = c.scene(a["id"])["training_id"]
        job = c.prepare(a["id"], **{**QUICK, "iterations": 100_000, "views": "auto:4"})
        deadline = time.monotonic() + 120
        while c.job(job["id"])["stage"] != "training" and time.monotonic() < deadline:
            time.sleep(0.1)
        kill(e)
    finally:
        e.stop()
    e = Engine(data)
    try:
        c = e.client
        again = c.open_scene(str(scenes["a"]))
        assert again["prepared"] and again["training_id"] == first and again["problem"] is None
        assert len(c.views(again["id"])["cameras"]) == 6  # the old training's views, not the killed run's 4
        assert c.wait(c.prepare(again["id"], **QUICK)["id"], poll=0.2, timeout=300)["state"] == "done"
        assert temporaries(str(data / "scenes")) == []  # the next prepare removed the killed one's staging
    finally:
        e.stop()


def test_kill_mid_upload_leaves_nothing_after_a_restart(scenes, tmp_path):
    data = tmp_path / "data"
    e = Engine(data)
    try:
        host, port = e.client.url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.putrequest("POST", "/v1/scenes/upload?filename=big.ply")
        conn.putheader("Authorization", f"Bearer {e.client.token}")
        conn.putheader("Content-Length", str(100 << 20))
        conn.endheaders()
        for _ in range(20):
            conn.send(b"x" * (1 << 20))
        time.sleep(1.0)  # the engine has written part of it
        assert temporaries(str(data / "uploads")), "the upload should be on its way to disk"
        kill(e)
        conn.close()
    finally:
        e.stop()
    e = Engine(data)
    try:
        assert temporaries(str(data / "uploads")) == []
        assert e.client.upload_scene(str(scenes["a"]))["gaussians"] == 8000
    finally:
        e.stop()


def test_two_engines_on_one_data_folder_are_refused(tmp_path):
    e = Engine(tmp_path / "data")
    try:
        with pytest.raises(RuntimeError, match="another engine is running with the data folder"):
            Engine(tmp_path / "data")
    finally:
        e.stop()


def test_a_full_disk_is_reported_by_name_and_leaves_no_temporaries(scenes, small_filesystem, tmp_path):
    """The data folder on a 1 MiB file system: an upload larger than the space answers 507 naming the disk, a
    prepare fails with the file it could not write, no temporary file stays, and the engine keeps serving."""
    from engine.synthetic.scene_generator import generate_table_scene
    from saga_blender.core.splat_io import write_splat

    big = tmp_path / "big.ply"
    write_splat(big, generate_table_scene(30_000, seed=3).splat)
    assert big.stat().st_size > 1 << 20
    data = small_filesystem / "data"
    e = Engine(data, "--log-file", str(tmp_path / "engine.log"))
    try:
        c = e.client
        with pytest.raises(EngineError) as info:
            c.upload_scene(str(big))  # larger than the whole disk
        assert info.value.status == 507 and "disk is full" in info.value.message
        assert temporaries(str(data)) == []
        a = c.open_scene(str(big))  # read from where it is; its work folder is on the small disk
        final = c.wait(c.prepare(a["id"], **QUICK)["id"], poll=0.2, timeout=300)
        assert final["state"] == "failed" and "disk is full" in final["error"] and str(data) in final["error"]
        assert temporaries(str(data)) == []
        assert not c.scene(a["id"])["prepared"] and c.status()["protocol"] == 1
    finally:
        e.stop()
