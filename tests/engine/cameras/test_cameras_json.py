"""Cameras JSON save/load: round trip and clear errors for malformed files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cameras import CameraFileError, Cameras
from engine.cameras.cameras import intrinsics, look_at_viewmat


def _cams(with_extras: bool) -> Cameras:
    rng = np.random.default_rng(3)
    vms = np.stack([look_at_viewmat(rng.normal(size=3) * 3, np.zeros(3), np.array([0, 0, 1.0])) for _ in range(3)])
    Ks = np.stack([intrinsics(400 + i, 401 + i, 160.25, 120.5) for i in range(3)])
    return Cameras(
        vms,
        Ks,
        320,
        240,
        ["a.png", "b.png", "c.png"],
        rng.normal(scale=0.01, size=(3, 4)) if with_extras else None,
        ["/x/a.png", "/x/b.png", "/x/c.png"] if with_extras else None,
    )


@pytest.mark.parametrize("with_extras", [False, True])
def test_round_trip(tmp_path, with_extras):
    cams = _cams(with_extras)
    cams.save_json(tmp_path / "cams.json")
    back = Cameras.load_json(tmp_path / "cams.json")
    np.testing.assert_array_equal(back.viewmats, cams.viewmats)  # JSON floats are exact (repr)
    np.testing.assert_array_equal(back.Ks, cams.Ks)
    assert (back.width, back.height, back.names) == (320, 240, cams.names)
    if with_extras:
        np.testing.assert_array_equal(back.distortion, cams.distortion)
        assert back.image_paths == cams.image_paths
    else:
        assert back.distortion is None and back.image_paths is None
    assert not list(tmp_path.glob("*.tmp-*"))  # atomic write leaves nothing behind


def test_malformed(tmp_path):
    path = tmp_path / "c.json"
    with pytest.raises(CameraFileError, match="file not found"):
        Cameras.load_json(path)
    path.write_text("[1, 2")
    with pytest.raises(CameraFileError, match="not valid JSON"):
        Cameras.load_json(path)
    path.write_text(json.dumps({"cameras": []}))
    with pytest.raises(CameraFileError, match="not a saga camera set"):
        Cameras.load_json(path)
    good = _cams(False).to_json_dict()
    path.write_text(json.dumps({**good, "version": 99}))
    with pytest.raises(CameraFileError, match="newer"):
        Cameras.load_json(path)
    path.write_text(json.dumps({**good, "cameras": []}))
    with pytest.raises(CameraFileError, match="empty"):
        Cameras.load_json(path)
    bad = json.loads(json.dumps(good))
    del bad["cameras"][1]["K"]
    path.write_text(json.dumps(bad))
    with pytest.raises(CameraFileError, match="malformed"):
        Cameras.load_json(path)
    bad = json.loads(json.dumps(good))
    bad["cameras"][0]["viewmat"] = [[1, 0], [0, 1]]
    path.write_text(json.dumps(bad))
    with pytest.raises(CameraFileError, match=str(path.name)):
        Cameras.load_json(path)
    path.write_text(json.dumps({k: v for k, v in good.items() if k != "width"}))
    with pytest.raises(CameraFileError, match="malformed"):
        Cameras.load_json(path)
