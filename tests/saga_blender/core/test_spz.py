""".spz: our writer and reader within the format's quantisation, versions 2-4, the gzip container, bad files.
(Files written and read by the reference encoder are in test_reference_formats.py.)"""

from __future__ import annotations

import gzip
import struct
import sys
import zlib

import numpy as np
import pytest

from saga_blender.core import spz
from saga_blender.core.errors import FileWriteError, SplatFileError
from saga_blender.core.gaussians import GaussianSplat
from saga_blender.core.splat_io import FORMAT_SPZ, read_splat, write_splat


def random_splat(n: int, degree: int = 3, seed: int = 0, reach: float = 5.0) -> GaussianSplat:
    rng = np.random.default_rng(seed)
    k = (degree + 1) ** 2 - 1
    f = np.float32
    return GaussianSplat(
        means=rng.uniform(-reach, reach, (n, 3)).astype(f), quats=rng.normal(size=(n, 4)).astype(f),
        log_scales=rng.uniform(-9, 5, (n, 3)).astype(f), opacity_logits=rng.uniform(-6, 6, n).astype(f),
        sh_dc=rng.uniform(-3, 3, (n, 3)).astype(f), sh_rest=rng.uniform(-0.9, 0.9, (n, k, 3)).astype(f),
    )  # fmt: skip


def assert_within_quantisation(back: GaussianSplat, src: GaussianSplat, frac_bits: int = 12, rotation_tol=2e-3):
    """``back`` is ``src`` within .spz's steps (values beyond its ranges compared with the range's end)."""
    assert len(back) == len(src) and back.sh_degree == src.sh_degree
    assert np.abs(back.means - src.means).max() <= 0.5 / 2**frac_bits + 1e-6 * np.abs(src.means).max()
    assert np.abs(back.log_scales - np.clip(src.log_scales, -10, 255 / 16 - 10)).max() <= 0.5 / 16 + 1e-5
    assert np.abs(back.opacities - src.opacities).max() <= 0.5 / 255 + 1e-6
    dc_range = 127.5 / (0.15 * 255)
    assert np.abs(back.sh_dc - np.clip(src.sh_dc, -dc_range, dc_range)).max() <= 0.5 / (0.15 * 255) + 1e-5
    dots = np.abs(np.sum(back.unit_quats.astype(float) * src.unit_quats.astype(float), axis=1))
    assert dots.min() >= 1 - rotation_tol
    if src.sh_degree:
        err = np.abs(back.sh_rest - np.clip(src.sh_rest, -1, 127 / 128))
        assert err[:, :3].max() <= 4.5 / 128 + 1e-6  # band 1: 5 bits (buckets of 8)
        if src.sh_degree > 1:
            assert err[:, 3:].max() <= 8.5 / 128 + 1e-6  # bands 2-3: 4 bits (buckets of 16)


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("degree", [0, 1, 3])
def test_write_then_read_within_quantisation(tmp_path, version, degree):
    if version == 4:
        pytest.importorskip("zstandard", reason="spz version 4 needs the zstandard package")
    src = random_splat(3000, degree)
    path = tmp_path / "scene.spz"
    assert write_splat(path, src, spz_version=version) == f"Niantic .spz version {version}"
    result = read_splat(path)
    assert result.format == FORMAT_SPZ
    assert_within_quantisation(result.splat, src)
    head = path.read_bytes()[:4]
    assert head == (b"NGSP" if version == 4 else b"\x1f\x8b\x08\x00")


def test_version_2_rotations_keep_w_positive(tmp_path):
    src = random_splat(2000, 1)
    path = tmp_path / "v2.spz"
    assert write_splat(path, src, spz_version=2) == "Niantic .spz version 2"
    back = read_splat(path).splat
    assert (back.quats[:, 0] >= 0).all()
    assert_within_quantisation(back, src, rotation_tol=3e-2)  # 8 bits per component


def test_large_coordinates_use_fewer_fractional_bits(tmp_path):
    src = random_splat(500, 0, reach=5000.0)  # 5000 * 2^12 does not fit 24 signed bits; 2^10 does
    assert spz.fractional_bits_for(src.means) == 10
    path = tmp_path / "big.spz"
    write_splat(path, src)
    header, _ = spz.parse_spz(gzip.decompress(path.read_bytes()))
    assert header.fractional_bits == 10
    assert_within_quantisation(read_splat(path).splat, src, frac_bits=10)
    with pytest.raises(SplatFileError, match="24-bit"):
        write_splat(tmp_path / "huge.spz", random_splat(10, 0, reach=1e8))


def test_values_outside_the_format_range_are_clamped_not_wrapped(tmp_path):
    src = random_splat(4, 1)
    src.log_scales[0] = (-30.0, 12.0, 0.0)  # below -10 / above 5.94 in the log encoding
    src.sh_dc[1] = (9.0, -9.0, 0.0)  # beyond +-3.33
    src.sh_rest[2, 0] = (5.0, -5.0, 0.0)
    path = tmp_path / "clamped.spz"
    write_splat(path, src)
    back = read_splat(path).splat
    np.testing.assert_allclose(back.log_scales[0], [-10.0, 255 / 16 - 10, 0.0])
    np.testing.assert_allclose(back.sh_dc[1, :2], [(255 / 255 - 0.5) / 0.15, (0 / 255 - 0.5) / 0.15], rtol=1e-6)
    np.testing.assert_allclose(back.sh_rest[2, 0, :2], [127 / 128, -1.0])


def test_parallel_gzip_is_a_single_member_any_reader_inflates_in_one_pass():
    data = np.random.default_rng(0).integers(0, 8, 3 * spz.GZIP_SEGMENT + 123, dtype=np.uint8).tobytes()
    packed = spz.gzip_parallel(data)
    inflater = zlib.decompressobj(31)  # one gzip member, as the reference's inflate reads
    assert inflater.decompress(packed) == data and inflater.eof and inflater.unused_data == b""
    assert gzip.decompress(packed) == data
    assert spz.gzip_parallel(b"") and gzip.decompress(spz.gzip_parallel(b"")) == b""


def make_raw(version=3, count=2, degree=0, frac=12, extra=b"") -> bytes:
    header = struct.pack("<IIIBBBB", spz.MAGIC, version, count, degree, frac, 0, 0)
    return header + bytes(count * (9 + 1 + 3 + 3 + (3 if version == 2 else 4) + spz.SH_COUNT[degree])) + extra


def test_uncompressed_payload_is_read_like_splat_transform(tmp_path):
    path = tmp_path / "raw.spz"
    path.write_bytes(make_raw(count=3))
    splat = read_splat(path).splat
    assert len(splat) == 3
    np.testing.assert_array_equal(splat.means, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "shorter than its header"),
        (b"hello world, not a splat", "no NGSP header"),
        (gzip.compress(make_raw())[:-9], "truncated or damaged"),
        (gzip.compress(make_raw()[:-5]), "truncated .spz"),
        (gzip.compress(make_raw(version=1)), "version 1 is not supported"),
        (gzip.compress(make_raw(version=7)), "version 7 is not supported"),
        (gzip.compress(make_raw(degree=4)), "SH degree 4 is not supported"),
        (gzip.compress(make_raw(count=0)), "no Gaussians"),
        (struct.pack("<IIIBBBBI12x", spz.MAGIC, 4, 2, 0, 12, 0, 5, 10_000), "table of contents"),
        (struct.pack("<IIIBBBBI12x", spz.MAGIC, 4, 2, 1, 12, 0, 5, 32), "needs 6"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.spz"
    path.write_bytes(content)
    with pytest.raises(SplatFileError, match=message) as info:
        read_splat(path)
    assert "bad.spz" in str(info.value)


def test_version_4_damaged_stream(tmp_path):
    pytest.importorskip("zstandard", reason="spz version 4 needs the zstandard package")
    good = spz.spz_bytes(random_splat(50, 0), version=4)
    data = bytearray(good)
    first_stream = 32 + 5 * 16
    data[first_stream : first_stream + 4] = b"\x00" * 4  # its zstd frame magic
    path = tmp_path / "damaged.spz"
    path.write_bytes(bytes(data))
    with pytest.raises(SplatFileError, match=r"damaged \.spz: stream"):
        read_splat(path)
    path.write_bytes(good[:-100])
    with pytest.raises(SplatFileError, match=r"truncated \.spz: stream"):
        read_splat(path)


def test_version_4_without_zstandard_says_which_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as where it is not installed
    with pytest.raises(SplatFileError, match="needs the 'zstandard' package"):
        write_splat(tmp_path / "v4.spz", random_splat(5, 0), spz_version=4)
    assert not (tmp_path / "v4.spz").exists()


def test_write_is_atomic_and_names_the_file(tmp_path):
    with pytest.raises(FileWriteError, match=r"folder .* does not exist"):
        write_splat(tmp_path / "missing" / "out.spz", random_splat(5, 0))
    target = tmp_path / "out.spz"
    target.write_bytes(b"old")
    with pytest.raises(SplatFileError, match="versions"):
        write_splat(target, random_splat(5, 0), spz_version=5)
    with pytest.raises(SplatFileError, match="versions"):
        write_splat(target, random_splat(5, 0), spz_version=1)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.spz"]  # no temporary file left


def test_smallest_three_round_trip_matches_the_reference_packing():
    rng = np.random.default_rng(3)
    q = rng.normal(size=(10000, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    words = spz.pack_smallest_three(q)
    back = spz.unpack_smallest_three(words)
    assert np.abs(np.abs(np.sum(back * q, axis=1)) - 1).max() < 2e-6 * 511 / 10
    # a hand-packed word: largest z (index 2 in x, y, z, w), x = +0.5, y = -0.25, w = +0.1
    mag = [round(511 * abs(v) / np.sqrt(0.5)) for v in (0.5, 0.25, 0.1)]
    word = (((2 << 10) | mag[0]) << 10 | (1 << 9) | mag[1]) << 10 | mag[2]
    w, x, y, z = spz.unpack_smallest_three(np.array([word], np.uint32))[0]
    assert (round(x, 3), round(y, 3), round(w, 3)) == (0.5, -0.25, 0.1)
    assert z == pytest.approx(np.sqrt(1 - 0.5**2 - 0.25**2 - 0.1**2), abs=2e-3)
