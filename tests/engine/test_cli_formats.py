"""``saga-engine info`` and ``saga-engine convert IN OUT`` as a process, for every format: OUT's extension chooses
what is written, the message says it, and the file holds the scene."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from saga_blender.core.splat_io import read_splat, write_splat

from ..saga_blender.core.test_spz import assert_within_quantisation, random_splat


def saga_engine(*argv, timeout=300):
    return subprocess.run([sys.executable, "-m", "engine", *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


@pytest.fixture
def scene_ply(tmp_path):
    splat = random_splat(5000, degree=3)
    path = tmp_path / "scene.ply"
    write_splat(path, splat)
    return path, splat


@pytest.mark.parametrize(
    ("name", "fmt", "said"),
    [
        ("out.spz", "niantic-spz", "Niantic .spz version 3"),
        ("out.compressed.ply", "supersplat-compressed-ply", "SuperSplat .compressed.ply"),
        ("out.splat", "antimatter15-splat", "antimatter15 .splat"),
        ("out.ply", "inria-ply", "INRIA .ply"),
    ],
)
def test_convert_writes_the_format_the_extension_names(tmp_path, scene_ply, name, fmt, said):
    src, _ = scene_ply
    out = tmp_path / name
    done = saga_engine("convert", src, out)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}: 5000 Gaussians, SH degree 3 ({said})" in done.stdout
    result = read_splat(out)
    assert result.format == fmt and len(result.splat) == 5000
    info = saga_engine("info", out, "--json")
    assert info.returncode == 0, info.stderr
    reported = json.loads(info.stdout)
    assert reported["format"] == fmt and reported["count"] == 5000
    assert reported["sh_degree"] == (0 if name.endswith(".splat") else 3)


def test_spz_converted_back_to_ply_is_the_scene_within_quantisation(tmp_path, scene_ply):
    src, splat = scene_ply
    assert saga_engine("convert", src, tmp_path / "a.spz").returncode == 0
    done = saga_engine("convert", tmp_path / "a.spz", tmp_path / "b.ply")
    assert done.returncode == 0, done.stderr
    assert_within_quantisation(read_splat(tmp_path / "b.ply").splat, splat)


def test_sog_from_splat_transform_converts_and_reports(tmp_path, scene_ply, splat_transform):
    src, splat = scene_ply
    sog = tmp_path / "scene.sog"
    splat_transform.convert(src, sog, "--sh-iterations", "2")
    info = saga_engine("info", sog, "--json")
    assert info.returncode == 0, info.stderr
    reported = json.loads(info.stdout)
    assert reported["format"] == "playcanvas-sog" and reported["count"] == 5000 and reported["sh_degree"] == 3
    done = saga_engine("convert", sog, tmp_path / "from_sog.spz")
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.sort(read_splat(tmp_path / "from_sog.spz").splat.means[:, 0]),
                               np.sort(splat.means[:, 0]), atol=0.01)  # fmt: skip


def test_bad_input_and_unknown_output_type_exit_2_with_one_line(tmp_path, scene_ply):
    src, _ = scene_ply
    done = saga_engine("convert", src, tmp_path / "out.obj")
    assert done.returncode == 2 and "cannot write this file type" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.obj").exists()
    bad = tmp_path / "bad.spz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    done = saga_engine("info", bad)
    assert done.returncode == 2 and "bad.spz" in done.stderr and "Traceback" not in done.stderr
    fake = tmp_path / "fake.sog"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("meta.json", "{}")
    done = saga_engine("convert", fake, tmp_path / "x.ply")
    assert done.returncode == 2 and "fake.sog" in done.stderr and "SOG version 1" in done.stderr
