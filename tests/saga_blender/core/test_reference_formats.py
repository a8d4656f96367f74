"""Our formats against another program's: the reference converter @playcanvas/splat-transform 3.7.0 and the reference
.spz library it ships (nianticlabs/spz compiled to WebAssembly). Files they write are read by us and compared with
their own decoding; files we write are read by them and compared with ours. Skipped (saying why) where node or the
package is absent (``bash scripts/setup_node_tools.sh``)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from saga_blender.core import spz
from saga_blender.core.gaussians import GaussianSplat
from saga_blender.core.splat_io import read_splat, write_splat

from .test_spz import assert_within_quantisation

FIELDS = ("means", "quats", "log_scales", "opacity_logits", "sh_dc", "sh_rest")


def needs_zstandard(version: int) -> None:
    if version == 4:
        pytest.importorskip("zstandard", reason="spz version 4 needs the zstandard package (pip install zstandard)")


def generated(n=4000, degree=3, seed=0) -> GaussianSplat:
    rng = np.random.default_rng(seed)
    f = np.float32
    return GaussianSplat(
        means=rng.normal(0, 2, (n, 3)).astype(f), quats=rng.normal(size=(n, 4)).astype(f),
        log_scales=rng.uniform(-7, 0, (n, 3)).astype(f), opacity_logits=rng.uniform(-5, 5, n).astype(f),
        sh_dc=rng.uniform(-2, 2, (n, 3)).astype(f),
        sh_rest=rng.uniform(-0.5, 0.5, (n, (degree + 1) ** 2 - 1, 3)).astype(f),
    )  # fmt: skip


@pytest.fixture(params=["generated", "real"])
def source(request, tmp_path):
    """(INRIA .ply path, its splat): a generated SH-3 splat, and the real inria_sh3_small.ply."""
    if request.param == "real":
        path = request.getfixturevalue("real_data") / "inria_sh3_small.ply"
        return path, read_splat(path).splat
    splat = generated()
    path = tmp_path / "generated.ply"
    write_splat(path, splat)
    return path, splat


def their_decoding(st, path, tmp_path) -> GaussianSplat:
    """The file as splat-transform decodes it (converted by it to a float .ply)."""
    out = tmp_path / f"{path.name}.decoded.ply"
    st.convert(path, out)
    return read_splat(out).splat


def assert_same(a: GaussianSplat, b: GaussianSplat, atol=0.0):
    assert len(a) == len(b) and a.sh_degree == b.sh_degree
    for name in FIELDS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=atol, err_msg=name)


# --- .spz ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [3, 4])
def test_spz_written_by_splat_transform_reads_as_it_decodes_it(splat_transform, source, tmp_path, version):
    needs_zstandard(version)
    path, splat = source
    out = tmp_path / f"theirs_v{version}.spz"
    splat_transform.convert(path, out, "--spz-version", str(version))
    ours = read_splat(out).splat
    assert_same(ours, their_decoding(splat_transform, out, tmp_path))
    assert_within_quantisation(ours, splat)


@pytest.mark.parametrize("version", [2, 3, 4])
def test_spz_from_the_reference_library_reads_as_it_decodes_it(splat_transform, tmp_path, version):
    needs_zstandard(version)
    splat = generated(2000, degree=2, seed=version)
    path = tmp_path / f"reference_v{version}.spz"
    splat_transform.spz_write(splat, path, version, tmp_path / "in")
    ours = read_splat(path).splat
    ref = splat_transform.spz_read(path, tmp_path / "out")
    np.testing.assert_array_equal(ours.means, ref["positions"])
    np.testing.assert_array_equal(ours.log_scales, ref["scales"])
    np.testing.assert_allclose(ours.sh_dc, ref["colors"], atol=1e-6)
    np.testing.assert_allclose(ours.opacity_logits, ref["alphas"], atol=2e-5)
    np.testing.assert_allclose(ours.sh_rest, ref["sh"], atol=1e-7)
    np.testing.assert_allclose(ours.quats, ref["rotations"], atol=2e-5 if version == 2 else 2e-6)  # w: float32 there
    assert_within_quantisation(ours, splat, rotation_tol=3e-2 if version == 2 else 2e-3)


def payload(path) -> list[bytes]:
    raw = path.read_bytes()
    return spz.parse_spz(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)[1]


@pytest.mark.parametrize("version", [2, 3, 4])
def test_our_spz_bytes_equal_the_reference_encoders(splat_transform, tmp_path, version):
    """Same splat, both encoders: every decompressed attribute block is byte for byte the same."""
    needs_zstandard(version)
    splat = generated(3000, degree=3, seed=10 + version)
    ref_path, our_path = tmp_path / "reference.spz", tmp_path / "ours.spz"
    splat_transform.spz_write(splat, ref_path, version, tmp_path / "in")
    our_path.write_bytes(spz.spz_bytes(splat, version))
    names = ["positions", "alphas", "colours", "scales", "rotations", "sh"]
    for name, ref, ours in zip(names, payload(ref_path), payload(our_path), strict=True):
        assert ref == ours, name


@pytest.mark.parametrize("version", [3, 4])
def test_splat_transform_and_the_reference_read_our_spz(splat_transform, source, tmp_path, version):
    needs_zstandard(version)
    _, splat = source
    ours_path = tmp_path / "ours.spz"
    write_splat(ours_path, splat, spz_version=version)
    ours = read_splat(ours_path).splat
    assert_same(their_decoding(splat_transform, ours_path, tmp_path), ours)
    ref = splat_transform.spz_read(ours_path, tmp_path / "ref")
    np.testing.assert_array_equal(ref["positions"], ours.means)
    np.testing.assert_allclose(ref["rotations"], ours.quats, atol=2e-6)
    np.testing.assert_allclose(ref["sh"], ours.sh_rest, atol=1e-7)


# --- .compressed.ply, .splat, .sog --------------------------------------------------------------------------------


def test_compressed_ply_written_by_splat_transform(splat_transform, source, tmp_path):
    path, splat = source
    out = tmp_path / "theirs.compressed.ply"
    splat_transform.convert(path, out)
    ours = read_splat(out).splat
    assert_same(ours, their_decoding(splat_transform, out, tmp_path), atol=1e-6)
    assert len(ours) == len(splat)


def test_splat_transform_reads_our_compressed_ply(splat_transform, source, tmp_path):
    _, splat = source
    out = tmp_path / "ours.compressed.ply"
    write_splat(out, splat)
    ours = read_splat(out).splat
    assert_same(their_decoding(splat_transform, out, tmp_path), ours, atol=1e-6)


def test_our_compressed_ply_is_as_precise_as_splat_transforms(splat_transform, source, tmp_path):
    """Both writers Morton-sort, so their chunks differ; per Gaussian (matched by position), our errors against the
    source are those of splat-transform's own file."""
    from scipy.spatial import cKDTree

    from saga_blender.core.ply_compressed import morton_order

    path, splat = source
    ours_path, theirs_path = tmp_path / "ours.compressed.ply", tmp_path / "theirs.compressed.ply"
    write_splat(ours_path, splat)
    splat_transform.convert(path, theirs_path)
    ours = read_splat(ours_path).splat
    theirs = read_splat(theirs_path).splat
    src_ours = splat.subset(morton_order(splat.means))
    _, match = cKDTree(splat.means).query(theirs.means)
    src_theirs = splat.subset(match)
    for name in ("means", "log_scales", "sh_dc", "opacity_logits"):
        mine = np.abs(getattr(ours, name) - getattr(src_ours, name)).mean()
        ref = np.abs(getattr(theirs, name) - getattr(src_theirs, name)).mean()
        assert mine <= 1.25 * ref + 1e-7, (name, mine, ref)


def test_splat_transform_reads_our_splat(splat_transform, source, tmp_path):
    _, splat = source
    out = tmp_path / "ours.splat"
    write_splat(out, splat)
    ours, theirs = read_splat(out).splat, their_decoding(splat_transform, out, tmp_path)
    np.testing.assert_array_equal(theirs.means, ours.means)
    np.testing.assert_allclose(theirs.log_scales, ours.log_scales, atol=1e-6)
    np.testing.assert_allclose(theirs.sh_dc, ours.sh_dc, atol=1e-5)
    np.testing.assert_allclose(theirs.opacity_logits, ours.opacity_logits, atol=1e-5)
    # rotation bytes: splat-transform maps b to b / 255 * 2 - 1, antimatter15 (and we) to (b - 128) / 128
    dots = np.abs(np.sum(theirs.unit_quats * ours.unit_quats, axis=1))
    assert dots.min() > 0.9999


def test_sog_written_by_splat_transform_reads_as_it_decodes_it(splat_transform, source, tmp_path):
    path, splat = source
    out = tmp_path / "theirs.sog"
    splat_transform.convert(path, out, "--sh-iterations", "2")
    ours = read_splat(out).splat
    theirs = their_decoding(splat_transform, out, tmp_path)
    assert_same(ours, theirs, atol=2e-6)
    assert len(ours) == len(splat) and ours.sh_degree == splat.sh_degree


def test_real_compressed_capture_through_every_format(splat_transform, real_data, tmp_path):
    """guitar.compressed.ply (SuperSplat) converted by splat-transform to .spz and .sog and read by us."""
    src = real_data / "guitar.compressed.ply"
    for name, options in (("guitar.spz", ["--spz-version", "3"]), ("guitar.sog", [])):
        out = tmp_path / name
        splat_transform.convert(src, out, *options)
        assert_same(read_splat(out).splat, their_decoding(splat_transform, out, tmp_path), atol=2e-6)
