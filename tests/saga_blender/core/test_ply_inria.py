"""INRIA 3DGS .ply: bit-exact round trip, extras kept in place, ASCII, SH degrees, malformed files."""

from __future__ import annotations

import numpy as np
import pytest
from plyfile import PlyData, PlyElement

from saga_blender.core.errors import SplatFileError
from saga_blender.core.gaussians import F_REST_COUNT_BY_DEGREE
from saga_blender.core.splat_io import read_splat, write_splat


def inria_vertex(n: int, degree: int, rng, extras=(), normals: bool = True) -> np.ndarray:
    """Structured INRIA vertex array with random values; ``extras`` is [(name, dtype, insert_before)]."""
    names = ["x", "y", "z"] + (["nx", "ny", "nz"] if normals else []) + ["f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(F_REST_COUNT_BY_DEGREE[degree])]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    fields = [(name, "<f4") for name in names]
    for name, dtype, before in extras:
        at = len(fields) if before is None else [f[0] for f in fields].index(before)
        fields.insert(at, (name, dtype))
    data = np.empty(n, dtype=fields)
    for name, dtype in fields:
        if np.dtype(dtype).kind == "f":
            data[name] = rng.normal(size=n).astype(dtype)
        else:
            data[name] = rng.integers(-1000, 1000, size=n).astype(dtype)
    return data


def write_ply(path, data: np.ndarray, text: bool = False, more_elements=()) -> None:
    PlyData([PlyElement.describe(data, "vertex"), *more_elements], text=text).write(str(path))


def vertex_of(path) -> np.ndarray:
    with open(path, "rb") as fh:
        return PlyData.read(fh)["vertex"].data


def test_real_inria_round_trip_is_bit_exact(real_data, tmp_path):
    src = real_data / "inria_sh3_small.ply"
    result = read_splat(src)
    splat = result.splat
    assert len(splat) == 9080
    assert splat.sh_degree == 3
    assert result.encoding == "binary_little_endian"
    out = tmp_path / "out.ply"
    write_splat(out, splat)
    a, b = vertex_of(src), vertex_of(out)
    assert a.dtype.names == b.dtype.names
    assert a.dtype == b.dtype
    assert a.tobytes() == b.tobytes()
    # quaternions in this file are not normalised: kept as stored
    norms = np.linalg.norm(splat.quats, axis=1)
    assert np.abs(norms - 1).max() > 1e-2
    again = read_splat(out).splat
    assert again.content_hash() == splat.content_hash()


def test_channel_major_f_rest_mapping(real_data):
    splat = read_splat(real_data / "inria_sh3_small.ply").splat
    raw = vertex_of(real_data / "inria_sh3_small.ply")
    for c in range(3):
        for k in range(15):
            np.testing.assert_array_equal(splat.sh_rest[:, k, c], raw[f"f_rest_{c * 15 + k}"])


def test_extra_properties_round_trip_in_place(tmp_path):
    rng = np.random.default_rng(0)
    extras = [
        ("obj_dc_0", "<f4", "nx"),
        ("f_0", "<f4", "f_dc_0"),
        ("f_1", "<f4", "f_dc_0"),
        ("label", "<i4", "opacity"),
        ("f_2", "<f4", None),
        ("f_3", "<f8", None),
        ("flag", "u1", "rot_0"),
    ]
    data = inria_vertex(50, 1, rng, extras)
    src = tmp_path / "extras.ply"
    write_ply(src, data)
    splat = read_splat(src).splat
    assert set(splat.extras) == {"obj_dc_0", "f_0", "f_1", "label", "f_2", "f_3", "flag"}
    assert splat.extras["label"].dtype == np.int32
    assert splat.extras["f_3"].dtype == np.float64
    out = tmp_path / "out.ply"
    write_splat(out, splat)
    back = vertex_of(out)
    assert back.dtype.names == data.dtype.names
    assert back.dtype == data.dtype
    assert back.tobytes() == data.tobytes()


def test_extras_kept_without_normals(tmp_path):
    data = inria_vertex(20, 0, np.random.default_rng(1), [("f_0", "<f4", "opacity")], normals=False)
    write_ply(tmp_path / "a.ply", data)
    splat = read_splat(tmp_path / "a.ply").splat
    np.testing.assert_array_equal(splat.normals, 0)
    write_splat(tmp_path / "b.ply", splat)
    back = vertex_of(tmp_path / "b.ply")
    for name in data.dtype.names:
        np.testing.assert_array_equal(back[name], data[name])


def test_ascii_reads_like_binary(tmp_path):
    data = inria_vertex(40, 2, np.random.default_rng(2), [("f_0", "<f4", None), ("label", "<i4", "x")])
    write_ply(tmp_path / "bin.ply", data)
    write_ply(tmp_path / "txt.ply", data, text=True)
    a, b = read_splat(tmp_path / "bin.ply"), read_splat(tmp_path / "txt.ply")
    assert b.encoding == "ascii"
    assert a.splat.content_hash() == b.splat.content_hash()
    for name, col in a.splat.columns().items():
        np.testing.assert_array_equal(col, b.splat.columns()[name], err_msg=name)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_sh_degrees(tmp_path, degree):
    data = inria_vertex(30, degree, np.random.default_rng(degree))
    path = tmp_path / f"sh{degree}.ply"
    write_ply(path, data)
    splat = read_splat(path).splat
    assert splat.sh_degree == degree
    n_rest = (degree + 1) ** 2 - 1
    assert splat.sh_rest.shape == (30, n_rest, 3)
    for c in range(3):
        for k in range(n_rest):
            np.testing.assert_array_equal(splat.sh_rest[:, k, c], data[f"f_rest_{c * n_rest + k}"])
    np.testing.assert_array_equal(splat.quats[:, 0], data["rot_0"])
    np.testing.assert_array_equal(splat.log_scales[:, 2], data["scale_2"])
    np.testing.assert_array_equal(splat.opacity_logits, data["opacity"])
    write_splat(tmp_path / "out.ply", splat)
    assert vertex_of(tmp_path / "out.ply").tobytes() == data.tobytes()


def test_wrong_f_rest_count(tmp_path):
    data = inria_vertex(5, 0, np.random.default_rng(3), [(f"f_rest_{i}", "<f4", "opacity") for i in range(10)])
    write_ply(tmp_path / "bad.ply", data)
    with pytest.raises(SplatFileError, match="spherical-harmonic count: 10") as info:
        read_splat(tmp_path / "bad.ply")
    assert "bad.ply" in str(info.value)


def test_plain_mesh_is_not_a_splat(tmp_path):
    verts = np.array([(0, 0, 0), (1, 0, 0), (0, 1, 0)], dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")])
    faces = np.array([([0, 1, 2],)], dtype=[("vertex_indices", "i4", (3,))])
    write_ply(tmp_path / "mesh.ply", verts, more_elements=[PlyElement.describe(faces, "face")])
    with pytest.raises(SplatFileError, match="not a Gaussian splat") as info:
        read_splat(tmp_path / "mesh.ply")
    assert "f_dc_0" in str(info.value)


def test_no_vertex_element(tmp_path):
    faces = np.array([([0, 1, 2],)], dtype=[("vertex_indices", "i4", (3,))])
    PlyData([PlyElement.describe(faces, "face")]).write(str(tmp_path / "faces.ply"))
    with pytest.raises(SplatFileError, match="no 'vertex' element"):
        read_splat(tmp_path / "faces.ply")


def test_truncated_file(real_data, tmp_path):
    blob = (real_data / "inria_sh3_small.ply").read_bytes()
    cut = tmp_path / "half.ply"
    cut.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(SplatFileError, match="truncated") as info:
        read_splat(cut)
    assert "half.ply" in str(info.value)


def test_garbage_bytes(tmp_path):
    path = tmp_path / "garbage.ply"
    path.write_bytes(np.random.default_rng(4).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(SplatFileError, match="not a PLY file"):
        read_splat(path)


def test_garbage_after_header_keyword(tmp_path):
    path = tmp_path / "junk.ply"
    path.write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty flot x\nend_header\n" + b"\1" * 64
    )
    with pytest.raises(SplatFileError, match="malformed"):
        read_splat(path)


def test_missing_file(tmp_path):
    with pytest.raises(SplatFileError, match="file not found") as info:
        read_splat(tmp_path / "nope.ply")
    assert "nope.ply" in str(info.value)
