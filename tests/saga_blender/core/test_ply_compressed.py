"""SuperSplat .compressed.ply: real files, and a hand-packed file decoded against known values."""

from __future__ import annotations

import numpy as np
import pytest
from plyfile import PlyData, PlyElement

from saga_blender.core.errors import SplatFileError
from saga_blender.core.gaussians import SH_C0
from saga_blender.core.splat_io import FORMAT_COMPRESSED, read_splat, write_splat

CHUNK_PROPS = ["min_x", "min_y", "min_z", "max_x", "max_y", "max_z"]
CHUNK_PROPS += ["min_scale_x", "min_scale_y", "min_scale_z", "max_scale_x", "max_scale_y", "max_scale_z"]
COLOUR_PROPS = ["min_r", "min_g", "min_b", "max_r", "max_g", "max_b"]
VERTEX_PROPS = ["packed_position", "packed_rotation", "packed_scale", "packed_color"]


# --- hand-coded packing (the writer's formulas, as in splat-transform's compressed-chunk.ts) -----------
def unorm(t, bits):
    m = (1 << bits) - 1
    return np.clip(np.floor(np.asarray(t, np.float64) * m + 0.5), 0, m).astype(np.uint32)


def pack_111011(t):
    return (unorm(t[:, 0], 11) << 21) | (unorm(t[:, 1], 10) << 11) | unorm(t[:, 2], 11)


def pack_rotation(q):
    """q [N, 4] w, x, y, z unit -> uint32 (largest index in bits 30-31, others 10 bits each in order)."""
    out = np.zeros(len(q), np.uint32)
    for i, quat in enumerate(q):
        largest = int(np.argmax(np.abs(quat)))
        quat = quat if quat[largest] >= 0 else -quat
        word = largest
        for j in range(4):
            if j != largest:
                word = (word << 10) | int(unorm(quat[j] * np.sqrt(0.5) + 0.5, 10))
        out[i] = word
    return out


def normalise(v, lo, hi):
    return np.where(hi - lo < 1e-5, 0.0, (v - lo) / np.where(hi - lo < 1e-5, 1.0, hi - lo))


def write_compressed(path, chunk: dict, vertex: dict, sh: np.ndarray | None = None) -> None:
    elements = []
    for name, cols in (("chunk", chunk), ("vertex", vertex)):
        n = len(next(iter(cols.values())))
        arr = np.empty(n, dtype=[(k, v.dtype.str) for k, v in cols.items()])
        for k, v in cols.items():
            arr[k] = v
        elements.append(PlyElement.describe(arr, name))
    if sh is not None:
        arr = np.empty(len(sh), dtype=[(f"f_rest_{i}", "u1") for i in range(sh.shape[1])])
        for i in range(sh.shape[1]):
            arr[f"f_rest_{i}"] = sh[:, i]
        elements.append(PlyElement.describe(arr, "sh"))
    PlyData(elements).write(str(path))


def make_scene(n, rng, colour_bounds=True):
    """Known float values, and the chunk/vertex columns packing them."""
    means = rng.uniform(-3, 3, (n, 3))
    log_scales = rng.uniform(-6, -1, (n, 3))
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    rgb = rng.uniform(0.05, 0.95, (n, 3))
    alpha = rng.uniform(0.02, 0.98, n)
    n_chunks = -(-n // 256)
    chunk = {p: np.zeros(n_chunks, np.float32) for p in CHUNK_PROPS + (COLOUR_PROPS if colour_bounds else [])}
    pos, scl, col = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3))
    for c in range(n_chunks):
        s = slice(c * 256, min(n, (c + 1) * 256))
        groups = [("", "xyz", means, pos), ("scale_", "xyz", log_scales, scl)]
        if colour_bounds:
            groups.append(("", "rgb", rgb, col))
        for prefix, axes, values, target in groups:
            lo, hi = values[s].min(0).astype(np.float32), values[s].max(0).astype(np.float32)
            for i, a in enumerate(axes):
                chunk[f"min_{prefix}{a}"][c], chunk[f"max_{prefix}{a}"][c] = lo[i], hi[i]
            target[s] = normalise(values[s], lo.astype(np.float64), hi.astype(np.float64))
    if not colour_bounds:
        col = rgb
    colour = (unorm(col[:, 0], 8) << 24) | (unorm(col[:, 1], 8) << 16) | (unorm(col[:, 2], 8) << 8)
    vertex = {
        "packed_position": pack_111011(pos),
        "packed_rotation": pack_rotation(q),
        "packed_scale": pack_111011(scl),
        "packed_color": colour | unorm(alpha, 8),
    }
    truth = dict(means=means, log_scales=log_scales, q=q, rgb=rgb, alpha=alpha)
    return truth, chunk, vertex


def chunk_span(chunk, prefix, axes, n):
    """[N, 3] per-splat (max - min) of a chunk bound group."""
    ci = np.arange(n) // 256
    return np.stack([chunk[f"max_{prefix}{a}"] - chunk[f"min_{prefix}{a}"] for a in axes], 1)[ci].astype(float)


@pytest.mark.parametrize("colour_bounds", [True, False])
def test_hand_packed_decode(tmp_path, colour_bounds):
    n = 600  # 3 chunks, the last one partial
    truth, chunk, vertex = make_scene(n, np.random.default_rng(1), colour_bounds)
    write_compressed(tmp_path / "tiny.compressed.ply", chunk, vertex)
    result = read_splat(tmp_path / "tiny.compressed.ply")
    assert result.format == FORMAT_COMPRESSED
    s = result.splat
    assert len(s) == n and s.sh_degree == 0
    steps = np.array([2047, 1023, 2047])
    tol = chunk_span(chunk, "", "xyz", n) / steps / 2 + 1e-5
    assert np.all(np.abs(s.means - truth["means"]) <= tol)
    tol = chunk_span(chunk, "scale_", "xyz", n) / steps / 2 + 1e-5
    assert np.all(np.abs(s.log_scales - truth["log_scales"]) <= tol)
    # quaternion sign is free: compare up to sign; each small component is within half a 10-bit step
    q = s.quats.astype(float)
    sign = np.sign(np.sum(q * truth["q"], axis=1, keepdims=True))
    assert np.abs(np.linalg.norm(q, axis=1) - 1).max() < 1e-6
    assert np.abs(q * sign - truth["q"]).max() < 3 * np.sqrt(2) / 1023
    rgb_tol = (chunk_span(chunk, "", "rgb", n) if colour_bounds else 1.0) / 255 / 2 + 1e-5
    assert np.all(np.abs(s.base_rgb - truth["rgb"]) <= rgb_tol)
    assert np.abs(s.opacities - truth["alpha"]).max() <= 0.5 / 255 + 1e-5


def test_known_bit_patterns(tmp_path):
    """Literal words whose meaning is read off the reference decoder, independent of the test packer."""
    chunk = {p: np.zeros(1, np.float32) for p in CHUNK_PROPS}
    chunk.update(min_x=np.float32([-1]), max_x=np.float32([3]), min_y=np.float32([10]), max_y=np.float32([20]))
    chunk.update(max_z=np.float32([1]), min_scale_x=np.float32([-4]), max_scale_x=np.float32([-2]))
    # rotation: largest = index 2 (y); stored in order w, x, z
    w, x, z = 0.1, -0.3, 0.3
    words = [round((v * np.sqrt(0.5) + 0.5) * 1023) for v in (w, x, z)]
    vertex = {
        "packed_position": np.array([(2047 << 21) | (0 << 11) | 1023], np.uint32),
        "packed_rotation": np.array([(2 << 30) | (words[0] << 20) | (words[1] << 10) | words[2]], np.uint32),
        "packed_scale": np.array([(1023 << 21) | (1023 << 11) | 2047], np.uint32),
        "packed_color": np.array([(255 << 24) | (0 << 16) | (128 << 8) | 255], np.uint32),
    }
    write_compressed(tmp_path / "one.compressed.ply", chunk, vertex)
    s = read_splat(tmp_path / "one.compressed.ply").splat
    np.testing.assert_allclose(s.means[0], [3.0, 10.0, 1023 / 2047], rtol=0, atol=1e-6)
    np.testing.assert_allclose(s.log_scales[0], [-4 + 2 * 1023 / 2047, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(s.quats[0], [w, x, np.sqrt(1 - w * w - x * x - z * z), z], atol=2e-3)
    np.testing.assert_allclose(s.base_rgb[0], [1.0, 0.0, 128 / 255], atol=1e-6)
    np.testing.assert_allclose(s.sh_dc[0, 0], 0.5 / SH_C0, rtol=1e-6)
    assert np.isfinite(s.opacity_logits[0]) and s.opacities[0] > 0.999


def test_sh_element_decode(tmp_path):
    n = 300
    _, chunk, vertex = make_scene(n, np.random.default_rng(2))
    values = np.random.default_rng(3).uniform(-4.5, 4.5, (n, 24))  # degree 2, channel-major
    raw = np.clip(np.trunc((values / 8 + 0.5) * 256), 0, 255).astype(np.uint8)
    raw[0, :3] = [0, 255, 128]
    write_compressed(tmp_path / "sh.compressed.ply", chunk, vertex, raw)
    s = read_splat(tmp_path / "sh.compressed.ply").splat
    assert s.sh_degree == 2 and s.sh_rest.shape == (n, 8, 3)
    flat = s.sh_rest.transpose(0, 2, 1).reshape(n, 24)  # back to channel-major
    np.testing.assert_allclose(flat[0, :3], [-4.0, 4.0, (128.5 / 256 - 0.5) * 8], atol=1e-6)
    inside = np.abs(values) < 3.9
    inside[0] = False  # row 0 was overwritten above
    assert np.abs(flat - values)[inside].max() <= 8 / 256 / 2 + 1e-6
    assert s.sh_rest[5, 2, 1] == flat[5, 8 + 2]  # coefficient 2 of channel G is f_rest_{8+2}


def _one_chunk(tmp_path, name, drop_chunk=(), drop_vertex=(), n=10, n_chunks=1, sh=None):
    _, chunk, vertex = make_scene(n, np.random.default_rng(4))
    chunk = {k: np.resize(v, n_chunks) for k, v in chunk.items() if k not in drop_chunk}
    vertex = {k: v for k, v in vertex.items() if k not in drop_vertex}
    path = tmp_path / name
    write_compressed(path, chunk, vertex, sh)
    return path


def test_errors(tmp_path):
    cases = [
        (dict(drop_chunk=["max_scale_y"]), "chunk element lacks max_scale_y"),
        (dict(drop_chunk=["min_g"]), "chunk colour bounds lack min_g"),
        (dict(drop_vertex=["packed_scale"]), "vertex element lacks packed_scale"),
        (dict(n_chunks=2), "10 splats need 1 chunks of 256, the file has 2"),
        (dict(n=300, n_chunks=1), "300 splats need 2 chunks"),
        (dict(sh=np.zeros((10, 10), np.uint8)), "'sh' element has 10 properties"),
        (dict(sh=np.zeros((9, 9), np.uint8)), "'sh' element has 9 rows"),
    ]
    for i, (kwargs, message) in enumerate(cases):
        with pytest.raises(SplatFileError, match=message) as info:
            read_splat(_one_chunk(tmp_path, f"bad{i}.compressed.ply", **kwargs))
        assert f"bad{i}.compressed.ply" in str(info.value)


def test_missing_vertex_element(tmp_path):
    chunk = np.zeros(1, dtype=[(p, "<f4") for p in CHUNK_PROPS])
    extra = np.zeros(1, dtype=[("packed_position", "<u4")])
    PlyData([PlyElement.describe(chunk, "chunk"), PlyElement.describe(extra, "points")]).write(
        str(tmp_path / "novertex.compressed.ply")
    )
    with pytest.raises(SplatFileError, match="no 'vertex' element"):
        read_splat(tmp_path / "novertex.compressed.ply")


@pytest.mark.parametrize("name, count", [("guitar", 90_854), ("biker", 152_746)])
def test_real_compressed(real_data, tmp_path, name, count):
    result = read_splat(real_data / f"{name}.compressed.ply")
    s = result.splat
    assert result.format == FORMAT_COMPRESSED
    assert len(s) == count
    for col in s.columns().values():
        assert np.isfinite(col).all()
    assert np.abs(np.linalg.norm(s.quats, axis=1) - 1).max() < 1e-3
    scales = s.scales
    assert np.all(scales > 0) and scales.max() < 10 and 1e-4 < np.median(scales) < 0.1
    assert np.all((s.opacities > 0) & (s.opacities < 1))
    rgb = s.base_rgb
    assert 0.0 < np.median(rgb) < 1.0

    out = tmp_path / f"{name}.ply"
    write_splat(out, s)
    again = read_splat(out)
    assert again.format != FORMAT_COMPRESSED
    t = again.splat
    for attr in ("means", "quats", "log_scales", "opacity_logits", "sh_dc", "sh_rest", "normals"):
        np.testing.assert_array_equal(getattr(t, attr), getattr(s, attr), err_msg=attr)


# --- the writer ----------------------------------------------------------------------------------------------------


def writer_scene(n, degree=2, seed=5):
    from saga_blender.core.gaussians import GaussianSplat

    rng = np.random.default_rng(seed)
    f = np.float32
    return GaussianSplat(
        means=rng.normal(0, 1, (n, 3)).astype(f), quats=rng.normal(size=(n, 4)).astype(f),
        log_scales=rng.uniform(-6, -1, (n, 3)).astype(f), opacity_logits=rng.uniform(-4, 4, n).astype(f),
        sh_dc=rng.uniform(-1.5, 1.5, (n, 3)).astype(f),
        sh_rest=rng.uniform(-3, 3, (n, (degree + 1) ** 2 - 1, 3)).astype(f),
    )  # fmt: skip


def test_writer_round_trip_within_each_chunks_steps(tmp_path):
    from saga_blender.core.ply_compressed import compressed_ply_arrays, morton_order

    src = writer_scene(1000)  # 4 chunks, the last partial
    path = tmp_path / "out.compressed.ply"
    assert write_splat(path, src) == "SuperSplat .compressed.ply"
    back = read_splat(path).splat
    ref = src.subset(morton_order(src.means))  # the writer's order
    chunk, _, _ = compressed_ply_arrays(src)
    chunk = {name: chunk[name] for name in chunk.dtype.names}
    steps = np.array([2047, 1023, 2047])
    n = len(src)
    assert np.all(np.abs(back.means - ref.means) <= chunk_span(chunk, "", "xyz", n) / steps / 2 + 1e-5)
    assert np.all(np.abs(back.log_scales - ref.log_scales) <= chunk_span(chunk, "scale_", "xyz", n) / steps / 2 + 1e-5)
    assert np.all(np.abs(back.base_rgb - ref.base_rgb) <= chunk_span(chunk, "", "rgb", n) / 255 / 2 + 1e-5)
    assert np.abs(back.opacities - ref.opacities).max() <= 0.5 / 255 + 1e-6
    assert np.abs(np.abs(np.sum(back.unit_quats * ref.unit_quats, axis=1)) - 1).max() < 2e-5
    assert np.abs(back.sh_rest - ref.sh_rest).max() <= 8 / 256 + 1e-6  # truncation: up to one step
    # Morton order keeps each chunk compact, so its bounds are tight: the mean chunk spans a few % of the scene
    big = writer_scene(50_000, degree=0)
    chunk, _, _ = compressed_ply_arrays(big)
    span = np.stack([chunk[f"max_{a}"] - chunk[f"min_{a}"] for a in "xyz"], 1).mean(0)
    assert np.all(span < 0.2 * (big.means.max(0) - big.means.min(0)))


def test_writer_without_sh_and_a_single_gaussian(tmp_path):
    src = writer_scene(1, degree=0)
    path = tmp_path / "one.compressed.ply"
    write_splat(path, src)
    back = read_splat(path).splat
    assert len(back) == 1 and back.sh_degree == 0
    np.testing.assert_allclose(back.means, src.means)  # a chunk of one: min = max = the value
    header = path.read_bytes()[:400]
    assert b"element chunk 1" in header and b"element sh" not in header


def test_writer_refuses_an_empty_splat_and_leaves_no_file(tmp_path):
    src = writer_scene(3).subset(np.zeros(3, bool))
    with pytest.raises(SplatFileError, match="at least one Gaussian"):
        write_splat(tmp_path / "empty.compressed.ply", src)
    assert list(tmp_path.iterdir()) == []
