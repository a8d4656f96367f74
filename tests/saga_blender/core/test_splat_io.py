"""read_splat / write_splat: format dispatch, NaN/inf refusal and explicit sanitising."""

from __future__ import annotations

import numpy as np
import pytest
from plyfile import PlyData, PlyElement

from saga_blender.core.errors import FileWriteError, NonFiniteValuesError, SplatFileError
from saga_blender.core.gaussians import GaussianSplat
from saga_blender.core.splat_antimatter import write_antimatter_splat
from saga_blender.core.splat_io import (
    FORMAT_ANTIMATTER,
    FORMAT_COMPRESSED,
    FORMAT_INRIA,
    read_splat,
    write_splat,
)

NAMES = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity"]
NAMES += ["scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3", "f_0"]


def write_vertex(path, data: np.ndarray) -> None:
    PlyData([PlyElement.describe(data, "vertex")]).write(str(path))


@pytest.fixture
def dirty_ply(tmp_path):
    """20 Gaussians; NaN in x (rows 1, 2), opacity (row 2) and extra f_0 (row 7); inf in scale_0 (row 5),
    -inf in rot_3 (rows 9, 11). Rows 1, 2, 5, 7, 9, 11 are bad (6 Gaussians)."""
    rng = np.random.default_rng(0)
    data = np.empty(20, dtype=[(n, "<f4") for n in NAMES] + [("label", "<i4")])
    for n in NAMES:
        data[n] = rng.normal(size=20)
    data["label"] = np.arange(20)
    data["x"][[1, 2]] = np.nan
    data["opacity"][2] = np.nan
    data["f_0"][7] = np.nan
    data["scale_0"][5] = np.inf
    data["rot_3"][[9, 11]] = -np.inf
    path = tmp_path / "dirty.ply"
    write_vertex(path, data)
    return path, data


def test_non_finite_refused_with_counts(dirty_ply):
    path, _ = dirty_ply
    with pytest.raises(NonFiniteValuesError) as info:
        read_splat(path)
    err = info.value
    assert err.report.bad_by_property == {"x": 2, "opacity": 1, "scale_0": 1, "rot_3": 2, "f_0": 1}
    assert err.report.bad_gaussians == 6
    message = str(err)
    assert "dirty.ply" in message
    assert "6 of 20 Gaussians" in message
    assert "x: 2" in message and "rot_3: 2" in message and "scale_0: 1" in message
    assert "sanitize=True" in message


def test_sanitize_drops_exactly_the_bad_gaussians(dirty_ply):
    path, data = dirty_ply
    result = read_splat(path, sanitize=True)
    keep = np.setdiff1d(np.arange(20), [1, 2, 5, 7, 9, 11])
    assert len(result.splat) == 14
    np.testing.assert_array_equal(result.splat.extras["label"], keep)
    np.testing.assert_array_equal(result.splat.means[:, 0], data["x"][keep])
    assert "dropped 6 Gaussians" in result.sanitized
    assert "rot_3: 2" in result.sanitized
    # the report describes what the file held; the returned splat is all finite
    assert result.finite_report.bad_gaussians == 6
    assert all(np.isfinite(col).all() for col in result.splat.columns().values())


def test_sanitize_on_clean_file_changes_nothing(tmp_path):
    data = np.zeros(4, dtype=[(n, "<f4") for n in NAMES])
    write_vertex(tmp_path / "clean.ply", data)
    result = read_splat(tmp_path / "clean.ply", sanitize=True)
    assert result.sanitized == ""
    assert len(result.splat) == 4
    assert result.format == FORMAT_INRIA


def test_dispatch_by_format(real_data, tmp_path):
    assert read_splat(real_data / "guitar.compressed.ply").format == FORMAT_COMPRESSED
    assert read_splat(real_data / "inria_sh3_small.ply").format == FORMAT_INRIA
    n = 3
    splat = GaussianSplat.from_activated(
        np.zeros((n, 3)), np.tile([1.0, 0, 0, 0], (n, 1)), np.ones((n, 3)), np.full(n, 0.5), np.full((n, 3), 0.5)
    )
    write_antimatter_splat(tmp_path / "a.splat", splat)
    result = read_splat(tmp_path / "a.splat")
    assert result.format == FORMAT_ANTIMATTER
    assert result.encoding == ""


def test_unsupported_suffix_and_folder(tmp_path):
    (tmp_path / "scene.obj").write_text("v 0 0 0\n")
    with pytest.raises(SplatFileError, match="unsupported file type"):
        read_splat(tmp_path / "scene.obj")
    (tmp_path / "dir.ply").mkdir()
    with pytest.raises(SplatFileError, match="folder"):
        read_splat(tmp_path / "dir.ply")


def test_write_splat_chooses_the_format_by_extension(tmp_path):
    rng = np.random.default_rng(0)
    splat = GaussianSplat.from_activated(
        rng.normal(size=(300, 3)),
        rng.normal(size=(300, 4)),
        np.full((300, 3), 0.01),
        np.full(300, 0.5),
        np.full((300, 3), 0.5),
    )
    expect = {"out.ply": FORMAT_INRIA, "out.compressed.ply": FORMAT_COMPRESSED, "OUT.SPLAT": FORMAT_ANTIMATTER,
              "out.spz": "niantic-spz"}  # fmt: skip
    for name, fmt in expect.items():
        description = write_splat(tmp_path / name, splat)
        result = read_splat(tmp_path / name)
        assert result.format == fmt, name
        assert len(result.splat) == 300 and description
    for name in ("out.obj", "out.sog", "out"):
        with pytest.raises(SplatFileError, match="cannot write this file type"):
            write_splat(tmp_path / name, splat)
    with pytest.raises(FileWriteError, match=r"folder .* does not exist"):
        write_splat(tmp_path / "missing_dir" / "out.ply", splat)
