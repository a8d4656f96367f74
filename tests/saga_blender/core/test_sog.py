"""PlayCanvas SOG: a hand-built bundle decoded to its known values (bundled and unbundled), and bad bundles.
(Files written by splat-transform are in test_reference_formats.py.)"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from saga_blender.core.errors import SplatFileError
from saga_blender.core.sog import read_sog, unpack_quats
from saga_blender.core.splat_io import FORMAT_SOG, read_splat

Image = pytest.importorskip("PIL.Image", reason="the SOG tests encode WebP textures with Pillow")


def webp(texels: np.ndarray, width: int) -> bytes:
    """Lossless WebP of [N, 4] uint8 texels laid out row-major, ``width`` wide (padded with zeros)."""
    rows = -(-len(texels) // width)
    image = np.zeros((rows * width, 4), np.uint8)
    image[: len(texels)] = texels
    buf = io.BytesIO()
    Image.fromarray(image.reshape(rows, width, 4), "RGBA").save(buf, "WEBP", lossless=True, exact=True)
    return buf.getvalue()


def build_sog(n=300, bands=1, width=16, seed=0):
    """(files {name: bytes}, expected values) of a small version-2 SOG."""
    rng = np.random.default_rng(seed)
    mins, maxs = np.array([-2.0, -1.0, 0.0]), np.array([1.0, 2.0, 0.5])
    v = rng.integers(0, 65536, (n, 3))
    t = mins + (maxs - mins) * v / 65535
    means = np.sign(t) * np.expm1(np.abs(t))
    lo = np.concatenate([v & 255, np.full((n, 1), 255)], 1).astype(np.uint8)
    hi = np.concatenate([v >> 8, np.full((n, 1), 255)], 1).astype(np.uint8)
    scale_book = np.sort(rng.uniform(-8, 0, 256)).astype(np.float32)
    colour_book = np.sort(rng.uniform(-2, 2, 256)).astype(np.float32)
    sb, cb = rng.integers(0, 256, (n, 3)), rng.integers(0, 256, (n, 3))
    alpha = rng.integers(1, 255, n)
    quat_texels = rng.integers(0, 256, (n, 4)).astype(np.uint8)
    quat_texels[:, 3] = 252 + rng.integers(0, 4, n)
    quat_texels[0, 3] = 17  # an invalid tag: the identity
    k = {1: 3, 2: 8, 3: 15}[bands]
    palette = 70  # more than one row of 64 entries
    centroids = rng.integers(0, 256, (palette, k, 3)).astype(np.uint8)
    sh_book = np.linspace(-1, 1, 256).astype(np.float32)
    labels = rng.integers(0, palette, n)
    labels[1] = palette + 5  # out of range: zeros
    rows = -(-palette // 64)
    cen = np.zeros((rows * 64, k, 4), np.uint8)
    cen[:palette, :, :3] = centroids
    cen[:, :, 3] = 255
    cen_image = cen.reshape(rows, 64 * k, 4)
    buf = io.BytesIO()
    Image.fromarray(cen_image, "RGBA").save(buf, "WEBP", lossless=True, exact=True)
    files = {
        "means_l.webp": webp(lo, width), "means_u.webp": webp(hi, width),
        "quats.webp": webp(quat_texels, width),
        "scales.webp": webp(np.concatenate([sb, np.zeros((n, 1))], 1).astype(np.uint8), width),
        "sh0.webp": webp(np.concatenate([cb, alpha[:, None]], 1).astype(np.uint8), width),
        "shN_centroids.webp": buf.getvalue(),
        "shN_labels.webp": webp(np.stack([labels & 255, labels >> 8, labels * 0, labels * 0 + 255], 1).astype(np.uint8),
                                width),
    }  # fmt: skip
    meta = {
        "version": 2, "count": n,
        "means": {"mins": mins.tolist(), "maxs": maxs.tolist(), "files": ["means_l.webp", "means_u.webp"]},
        "scales": {"codebook": scale_book.tolist(), "files": ["scales.webp"]},
        "quats": {"files": ["quats.webp"]},
        "sh0": {"codebook": colour_book.tolist(), "files": ["sh0.webp"]},
        "shN": {"count": palette, "bands": bands, "codebook": sh_book.tolist(),
                "files": ["shN_centroids.webp", "shN_labels.webp"]},
    }  # fmt: skip
    rest = sh_book[centroids[np.minimum(labels, palette - 1)]]
    rest[1] = 0
    expected = {
        "means": means, "log_scales": scale_book[sb], "sh_dc": colour_book[cb],
        "opacities": alpha / 255, "sh_rest": rest, "quat_texels": quat_texels,
    }  # fmt: skip
    files["meta.json"] = json.dumps(meta).encode()
    return files, expected


def write_bundle(path, files):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)


@pytest.mark.parametrize("bundled", [True, False])
def test_hand_built_sog_decodes_to_its_values(tmp_path, bundled):
    files, expected = build_sog()
    if bundled:
        path = tmp_path / "scene.sog"
        write_bundle(path, files)
    else:
        for name, data in files.items():
            (tmp_path / name).write_bytes(data)
        path = tmp_path / "meta.json"
    result = read_splat(path)
    assert result.format == FORMAT_SOG
    s = result.splat
    assert len(s) == 300 and s.sh_degree == 1
    np.testing.assert_allclose(s.means, expected["means"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(s.log_scales, expected["log_scales"])
    np.testing.assert_array_equal(s.sh_dc, expected["sh_dc"])
    np.testing.assert_allclose(s.opacities, expected["opacities"], atol=1e-6)
    np.testing.assert_array_equal(s.sh_rest, expected["sh_rest"])
    np.testing.assert_array_equal(s.quats[0], [1, 0, 0, 0])  # invalid tag
    np.testing.assert_allclose(s.quats[1:], unpack_quats(expected["quat_texels"][1:]), atol=1e-7)


def test_quaternion_texels():
    # largest x (tag 253); stored w, y, z = bytes for +0.5, -0.25, 0 after the sqrt(2) scaling
    b = [round((v * np.sqrt(2) + 1) / 2 * 255) for v in (0.5, -0.25, 0.0)]
    w, x, y, z = unpack_quats(np.array([[*b, 253]], np.uint8))[0]
    assert (round(w, 2), round(y, 2), round(z, 2)) == (0.5, -0.25, 0.0)
    assert x == pytest.approx(np.sqrt(1 - 0.25 - 0.0625), abs=5e-3)


def test_an_injected_decoder_is_used(tmp_path):
    files, expected = build_sog(n=20)
    path = tmp_path / "scene.sog"
    write_bundle(path, files)
    calls = []

    def decode(data: bytes) -> np.ndarray:
        calls.append(len(data))
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGBA"))

    splat = read_sog(path, decode)
    assert len(calls) == 7 and len(splat) == 20
    np.testing.assert_array_equal(splat.sh_dc, expected["sh_dc"])


def replace(files, name, data):
    out = dict(files)
    out[name] = data
    return out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: replace(f, "meta.json", b"{not json"), "not valid JSON"),
        (lambda f: replace(f, "meta.json", json.dumps({"count": 3, "means": {}}).encode()), "version 1"),
        (lambda f: replace(f, "meta.json", json.dumps({"version": 2, "count": 3}).encode()), "lacks"),
        (lambda f: {k: v for k, v in f.items() if k != "quats.webp"}, "'quats.webp' is missing"),
        (lambda f: replace(f, "sh0.webp", b"RIFF0000WEBPjunk"), "not a readable WebP"),
        (lambda f: replace(f, "scales.webp", webp(np.zeros((10, 4), np.uint8), 4)), "holds 12 texels for 300"),
    ],
)
def test_bad_bundles_raise_one_clear_error(tmp_path, change, message):
    files, _ = build_sog()
    path = tmp_path / "bad.sog"
    write_bundle(path, change(files))
    with pytest.raises(SplatFileError, match=message) as info:
        read_splat(path)
    assert "bad.sog" in str(info.value)


def test_not_a_zip_and_names_outside_the_bundle(tmp_path):
    path = tmp_path / "fake.sog"
    path.write_bytes(b"definitely not a zip")
    with pytest.raises(SplatFileError, match="not a zip"):
        read_splat(path)
    files, _ = build_sog()
    meta = json.loads(files["meta.json"])
    meta["quats"]["files"] = ["../../etc/passwd"]
    write_bundle(path, replace(files, "meta.json", json.dumps(meta).encode()))
    with pytest.raises(SplatFileError, match="outside its bundle"):
        read_splat(path)
