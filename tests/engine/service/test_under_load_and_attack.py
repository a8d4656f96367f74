"""A real engine on loopback under load, faults and attack: many clients clicking while a prepare runs, slow and lying
clients, requests without the token, paths that are pipes, oversized arrays and bodies, files the engine owns, two
scenes of one content. Every answer is a 4xx that says why, or a success; never a 5xx, never a hang."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import threading
import time
import urllib.request

import numpy as np
import pytest

from saga_blender.engine_client import EngineClient, EngineError

from .conftest import QUICK, Engine

HEADER_TIMEOUT, BODY_TIMEOUT = 2.0, 3.0


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    e = Engine(tmp_path_factory.mktemp("engine-data"), "--header-timeout", str(HEADER_TIMEOUT), "--body-timeout",
               str(BODY_TIMEOUT))  # fmt: skip
    yield e
    e.stop()


@pytest.fixture(scope="module")
def prepared(engine, scenes):
    c = engine.client
    a = c.open_scene(str(scenes["a"]))
    if not a["prepared"]:
        assert c.wait(c.prepare(a["id"], **QUICK)["id"], poll=0.2, timeout=300)["state"] == "done"
    return a


def host_port(engine) -> tuple[str, int]:
    url = engine.client.url.removeprefix("http://")
    host, port = url.rsplit(":", 1)
    return host, int(port)


def raw(engine, data: bytes, read_timeout: float = 20.0) -> bytes:
    """Send raw bytes on a new connection; everything the server answers until it closes (or the timeout)."""
    with socket.create_connection(host_port(engine), timeout=read_timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_many_clients_click_all_over_a_view_while_a_prepare_runs(engine, scenes, prepared):
    """12 clients x 40 clicks on a grid over a training view (background pixels included), with status and job
    polls, while another scene trains: zero 5xx, and every refusal says why."""
    c = engine.client
    b = c.open_scene(str(scenes["b"]))
    job = c.prepare(b["id"], **{**QUICK, "iterations": 100_000})
    view = c.views(prepared["id"])
    w, h = view["width"], view["height"]
    grid = [(x + 0.5, y + 0.5) for x in range(0, w, 4) for y in range(0, h, 4)]
    codes, errors, lock = [], [], threading.Lock()

    def client(i: int) -> None:
        mine = EngineClient(c.url, c.token, timeout=60)
        rng = np.random.default_rng(i)
        for k in range(40):
            body = {"view": int(rng.integers(0, len(view["cameras"]))), "scale": float(rng.random()),
                    "positive": [list(grid[int(rng.integers(len(grid)))])]}  # fmt: skip
            if k % 3 == 0:
                body["negative"] = [list(grid[int(rng.integers(len(grid)))])]
            try:
                mine.request("POST", f"/v1/scenes/{prepared['id']}/query", body)
                code = 200
            except EngineError as exc:
                code = exc.status
                if code != 400:
                    with lock:
                        errors.append((code, exc.message))
            if k % 10 == 0:
                mine.status()
                mine.jobs()
            with lock:
                codes.append(code)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    c.cancel(job["id"])
    assert c.wait(job["id"], poll=0.2, timeout=60)["state"] == "cancelled"
    assert len(codes) == 12 * 40 and errors == [], errors[:5]
    assert codes.count(200) > 100 and codes.count(400) > 0  # background pixels: "hits empty background"


def test_clicks_where_no_gaussian_reaches_and_odd_cameras_are_400(engine, prepared):
    c = engine.client
    view = c.views(prepared["id"])["cameras"][0]
    far = np.eye(4)
    far[2, 3] = -1000.0  # the scene far behind the camera: no candidate Gaussian at all
    empty = {"viewmat": far.tolist(), "K": view["K"], "width": 64, "height": 64}  # nothing in front of it
    ortho_empty = {**empty, "K": [[50, 0, 32], [0, 50, 32], [0, 0, 1]], "camera_model": "ortho"}
    ortho = {"viewmat": view["viewmat"], "K": [[20, 0, 32], [0, 20, 32], [0, 0, 1]], "width": 64, "height": 64,
             "camera_model": "ortho"}  # fmt: skip
    bad_k = {"viewmat": view["viewmat"], "K": [[50, 0, 32], [0, 50, 32], [0, 0, 0]], "width": 64, "height": 64}
    bodies = [
        ({"camera": empty, "positive": [[1.5, 1.5]]}, {400}),
        ({"camera": empty, "negative": [[1.5, 1.5]], "positive_scribbles": [[[2, 2], [60, 60]]]}, {400}),
        ({"camera": ortho_empty, "positive": [[30.5, 30.5]]}, {400}),
        ({"camera": bad_k, "positive": [[30.5, 30.5]]}, {400}),
        *(({"camera": ortho, "positive": [[x + 0.5, y + 0.5]]}, {200, 400}) for x in range(0, 64, 9)
          for y in range(0, 64, 9)),
    ]  # fmt: skip
    for body, allowed in bodies:
        try:
            c.request("POST", f"/v1/scenes/{prepared['id']}/query", {**body, "scale": 0.5})
            status = 200
        except EngineError as exc:
            status = exc.status
            assert exc.status != 400 or exc.message, exc.message
        assert status in allowed, (body, status)


def test_no_token_is_refused_before_the_body_is_read(engine):
    host, port = host_port(engine)
    body = b"[" + b"1," * (30 << 20) + b"1]"  # 60 MiB of JSON
    conn = http.client.HTTPConnection(host, port, timeout=30)
    t0 = time.perf_counter()
    conn.putrequest("POST", "/v1/scenes")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    try:
        conn.send(body[:65536])  # the server answers before the rest is sent
    except (BrokenPipeError, ConnectionResetError):
        pass
    resp = conn.getresponse()
    assert resp.status == 401 and time.perf_counter() - t0 < 5
    conn.close()
    answer = raw(engine, b"POST /v1/scenes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 9\r\n\r\n{not json")  # fmt: skip
    assert status_of(answer) == 401  # not 422: the token comes first


def test_slow_and_lying_clients_are_cut_off(engine):
    """Half a request head, a body shorter than its Content-Length, and many such at once: 408 after the
    deadlines, and the engine keeps answering."""
    t0 = time.perf_counter()
    answer = raw(engine, b"GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthor")
    assert status_of(answer) == 408 and HEADER_TIMEOUT - 0.5 < time.perf_counter() - t0 < HEADER_TIMEOUT + 5
    token = engine.client.token.encode()
    t0 = time.perf_counter()
    answer = raw(engine, b"POST /v1/scenes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                 b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"path\": ")  # fmt: skip
    assert status_of(answer) == 408 and time.perf_counter() - t0 < BODY_TIMEOUT + 5
    socks = []
    for _ in range(100):
        s = socket.create_connection(host_port(engine), timeout=10)
        s.sendall(b"POST /v1/scenes HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    t0 = time.perf_counter()
    assert engine.client.status()["protocol"] == 1 and time.perf_counter() - t0 < 2  # still serving
    time.sleep(HEADER_TIMEOUT + 2)
    closed = 0
    for s in socks:
        s.settimeout(5)
        try:
            closed += s.recv(100).startswith(b"HTTP/1.1 408") or s.recv(1) == b""
        except OSError:
            closed += 1
        s.close()
    assert closed == 100  # every half-sent request was cut off


def test_oversized_bodies_are_413_chunked_or_not(engine, prepared):
    host, port = host_port(engine)
    headers = {"Authorization": f"Bearer {engine.client.token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.putrequest("POST", f"/v1/scenes/{prepared['id']}/query")
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    chunk = b"x" * (1 << 20)
    try:
        for _ in range(70):  # 70 MiB > the 64 MiB limit
            conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert conn.getresponse().status == 413
    conn.close()
    req = urllib.request.Request(engine.client.url + "/v1/scenes", data=b"{}", method="POST",
                                 headers={**headers, "Content-Length": str(65 << 20)})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30)
    assert info.value.code == 413


def test_limits_on_every_list_and_size(engine, prepared):
    c = engine.client
    url = f"/v1/scenes/{prepared['id']}/query"
    view = c.views(prepared["id"])["cameras"][0]
    big = {"viewmat": view["viewmat"], "K": [[9000, 0, 8000], [0, 9000, 8000], [0, 0, 1]], "width": 16384,
           "height": 16384}  # fmt: skip
    line = [[float(i % 16000), float((i * 7) % 16000)] for i in range(10_000)]
    cases = [
        ({"view": 0, "scale": 0.5, "positive": [[1, 1]] * 1001}, 422),
        ({"view": 0, "scale": 0.5, "positive_scribbles": [[[1, 1]] * 10_001]}, 422),
        ({"view": 0, "scale": 0.5, "positive_scribbles": [[[1, 1]]] * 101}, 422),
        ({"camera": {**big, "width": 40_000}, "scale": 0.5, "positive": [[1, 1]]}, 422),
    ]
    for body, status in cases:
        with pytest.raises(EngineError) as info:
            c.request("POST", url, body)
        assert info.value.status == status
    t0 = time.perf_counter()
    try:  # the longest scribbles allowed on the largest camera: bounded work, whatever the answer
        c.request("POST", url, {"camera": big, "scale": 0.5, "positive_scribbles": [line] * 20}, timeout=120)
    except EngineError as exc:
        assert exc.status == 400
    assert time.perf_counter() - t0 < 60
    for views in ("auto:10000000", "auto:0", "capture"):
        with pytest.raises(EngineError) as info:
            c.prepare(prepared["id"], views=views)
        assert info.value.status in (400, 422), info.value.message
    # a .npy header claiming 10^10 elements: refused from its header, nothing allocated
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.int64))
    header["shape"] = (10**10,)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with pytest.raises(EngineError) as info:
        c.request("POST", f"/v1/scenes/{prepared['id']}/extract", data=buf.getvalue() + b"\0" * 64,
                  content_type="application/x-npy")  # fmt: skip
    assert info.value.status == 400 and "more than the limit" in info.value.message


def test_paths_that_are_pipes_never_block(engine, tmp_path, prepared):
    c = engine.client
    fifo = tmp_path / "scene.ply"
    os.mkfifo(fifo)
    images = tmp_path / "images"
    images.mkdir()
    os.mkfifo(images / "a.png")
    started = time.perf_counter()
    results = []

    def call(fn):
        try:
            fn()
            results.append(200)
        except EngineError as exc:
            results.append(exc.status)

    calls = [lambda: c.open_scene(str(fifo))] * 20 + [
        lambda: c.prepare(prepared["id"], views="capture", transforms=str(fifo), images=str(images)),
        lambda: c.prepare(prepared["id"], masks="dir", masks_dir=str(images)),
        lambda: c.prepare(prepared["id"], masks="sam", sam_checkpoint=str(fifo)),
    ]
    threads = [threading.Thread(target=call, args=(f,)) for f in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert all(400 <= r < 500 for r in results), results
    assert time.perf_counter() - started < 30 and c.status()["protocol"] == 1


def test_extract_never_overwrites_what_it_should_not(engine, scenes, prepared, tmp_path):
    c = engine.client
    ids = np.arange(10)
    src = str(scenes["a"])
    before = open(src, "rb").read()
    for out, status in [(src, 403), (str(tmp_path / "x.txt"), 400), (str(tmp_path / "no" / "x.ply"), 404)]:
        with pytest.raises(EngineError) as info:
            c.extract(prepared["id"], ids, out=out)
        assert info.value.status == status, (out, info.value.message)
    upload_dir = os.path.join(c.status()["data_dir"], "uploads")
    with pytest.raises(EngineError) as info:
        c.extract(prepared["id"], ids, out=os.path.join(upload_dir, "mine.ply"))
    assert info.value.status == 403
    existing = tmp_path / "part.ply"
    existing.write_bytes(b"precious")
    with pytest.raises(EngineError) as info:
        c.extract(prepared["id"], ids, out=str(existing))
    assert info.value.status == 409 and "overwrite" in info.value.message and existing.read_bytes() == b"precious"
    c.request("POST", f"/v1/scenes/{prepared['id']}/extract", data=_npy(ids), content_type="application/x-npy",
              query={"out": str(existing), "overwrite": "true"})  # fmt: skip
    assert existing.read_bytes() != b"precious"
    assert open(src, "rb").read() == before


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_two_scenes_of_one_content_share_one_folder_and_its_lock(engine, scenes, prepared, tmp_path):
    c = engine.client
    copy = tmp_path / "same_content.ply"
    copy.write_bytes(open(scenes["a"], "rb").read())
    twin = c.open_scene(str(copy))
    assert twin["id"] != prepared["id"] and twin["content_hash"] == prepared["content_hash"] and twin["prepared"]
    point = first_hit(c, prepared["id"])
    before = c.query(prepared["id"], None, 0.5, positive=[point], view=0).ids
    first_training = c.scene(prepared["id"])["training_id"]
    job = c.prepare(twin["id"], **{**QUICK, "iterations": 100_000})
    with pytest.raises(EngineError) as info:
        c.prepare(prepared["id"], **QUICK)
    assert info.value.status == 409 and "same content" in info.value.message
    c.cancel(job["id"])
    assert c.wait(job["id"], poll=0.2, timeout=60)["state"] == "cancelled"
    assert c.scene(prepared["id"])["training_id"] == first_training  # the cancelled run changed nothing
    # a re-prepare through one scene: the other serves the new features at once
    assert c.wait(c.prepare(twin["id"], **{**QUICK, "seed": 7})["id"], poll=0.2, timeout=300)["state"] == "done"
    assert c.scene(prepared["id"])["training_id"] == c.scene(twin["id"])["training_id"] != first_training
    after = c.query(prepared["id"], None, 0.5, positive=[point], view=0).ids
    np.testing.assert_array_equal(after, c.query(twin["id"], None, 0.5, positive=[point], view=0).ids)
    assert not np.array_equal(after, before)  # other seed, other features


def first_hit(c, scene_id) -> tuple[float, float]:
    """A pixel of training view 0 that hits the scene (not background)."""
    view = c.views(scene_id)
    for y in range(view["height"] // 2, view["height"], 3):
        for x in range(view["width"] // 2, view["width"], 3):
            try:
                c.query(scene_id, None, 0.5, positive=[(x + 0.5, y + 0.5)], view=0)
                return (x + 0.5, y + 0.5)
            except EngineError:
                continue
    raise AssertionError("no pixel of view 0 hits the scene")


def test_uploads_stream_and_failed_ones_leave_nothing(engine, scenes, tmp_path):
    c = engine.client
    upload_dir = os.path.join(c.status()["data_dir"], "uploads")
    big = tmp_path / "big.ply"
    big.write_bytes(open(scenes["a"], "rb").read() * 1)  # a real splat
    host, port = host_port(engine)
    # a client that sends half its upload and goes away
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest("POST", "/v1/scenes/upload?filename=big.ply")
    conn.putheader("Authorization", f"Bearer {c.token}")
    conn.putheader("Content-Length", str(50 << 20))
    conn.endheaders()
    conn.send(b"x" * (5 << 20))
    conn.close()
    # status stays quick during a stalled upload, which is cut off after the body timeout
    latencies = []
    deadline = time.monotonic() + BODY_TIMEOUT + 3
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        c.status()
        latencies.append(time.perf_counter() - t0)
        time.sleep(0.2)
    assert max(latencies) < 1.0
    leftovers = [n for n in os.listdir(upload_dir) if not n.endswith(".ply") or n.startswith(".")]
    assert leftovers == [], leftovers
    info = c.upload_scene(str(big))
    assert info["gaussians"] == 8000


def test_an_internal_error_is_logged_with_an_id_the_answer_names(tmp_path, caplog):
    """A bug (here: made on purpose) answers 500 with an id; the log holds the traceback under that id."""
    import logging

    import uvicorn

    from engine.service.app import create_app
    from engine.service.state import EngineState

    state = EngineState(str(tmp_path), confine_paths=False)

    def broken():
        raise RuntimeError("a bug made on purpose")

    state.scenes = broken
    app = create_app(state, "t" * 32)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        with caplog.at_level(logging.ERROR, logger="saga.engine"):
            with pytest.raises(EngineError) as info:
                EngineClient(f"http://127.0.0.1:{sock.getsockname()[1]}", "t" * 32).status()
        assert info.value.status == 500
        error_id = info.value.message.split("internal error ", 1)[1].split(":", 1)[0]
        assert any(error_id in r.getMessage() and "a bug made on purpose" in r.getMessage() for r in caplog.records)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_status_reports_gsplat(engine):
    g = engine.client.status()["gsplat"]
    assert set(g) == {"available", "reason"} and isinstance(g["reason"], str) and g["reason"]
    assert json.dumps(g)
