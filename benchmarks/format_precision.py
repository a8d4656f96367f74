"""How much each format's quantisation loses, measured: write a splat, read it back, compare with the source.

    .venv/bin/python benchmarks/format_precision.py [FILE.ply | generated]
    (default: ../shared/data/real/inria_sh3_small.ply where it exists, else a generated SH-3 splat of 8k)

Prints one markdown row per format: median and 99th-percentile error of positions (as a fraction of the scene's
extent), log scales, opacity, band-0 colour (RGB in [0, 1]), rotation (degrees) and SH bands 1-3 coefficients.
Formats that reorder (.compressed.ply, .sog: Morton order) are matched back to the source by position. .sog is
written by splat-transform (``bash scripts/setup_node_tools.sh``) and skipped without it.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from saga_blender.core.gaussians import GaussianSplat  # noqa: E402
from saga_blender.core.splat_io import read_splat, write_splat  # noqa: E402


def generated(n=8000, seed=0) -> GaussianSplat:
    rng = np.random.default_rng(seed)
    f = np.float32
    return GaussianSplat(
        means=rng.normal(0, 2, (n, 3)).astype(f), quats=rng.normal(size=(n, 4)).astype(f),
        log_scales=rng.uniform(-7, -1, (n, 3)).astype(f), opacity_logits=rng.normal(0, 3, n).astype(f),
        sh_dc=rng.normal(0, 1, (n, 3)).astype(f), sh_rest=rng.normal(0, 0.15, (n, 15, 3)).astype(f),
    )  # fmt: skip


def matched(source: GaussianSplat, back: GaussianSplat) -> GaussianSplat:
    """``source`` reordered as ``back`` (by nearest position), for formats that reorder."""
    from scipy.spatial import cKDTree

    _, index = cKDTree(source.means).query(back.means)
    return source.subset(index)


def errors(source: GaussianSplat, back: GaussianSplat) -> dict:
    extent = float(np.max(np.percentile(source.means, 99, 0) - np.percentile(source.means, 1, 0)))
    dots = np.clip(np.abs(np.sum(source.unit_quats.astype(float) * back.unit_quats.astype(float), axis=1)), 0, 1)
    out = {
        "position (of extent)": np.linalg.norm(back.means - source.means, axis=1) / extent,
        "log scale": np.abs(back.log_scales - source.log_scales).ravel(),
        "opacity": np.abs(back.opacities - source.opacities),
        "colour (RGB)": np.abs(np.clip(back.base_rgb, 0, 1) - np.clip(source.base_rgb, 0, 1)).ravel(),
        "rotation (deg)": np.degrees(2 * np.arccos(dots)),
    }
    if back.sh_degree and source.sh_degree:
        k = min(back.sh_rest.shape[1], source.sh_rest.shape[1])
        out["SH 1-3"] = np.abs(back.sh_rest[:, :k] - source.sh_rest[:, :k]).ravel()
    return out


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="saga-precision-")
    default = os.path.join(ROOT, "..", "shared", "data", "real", "inria_sh3_small.ply")
    path = sys.argv[1] if len(sys.argv) > 1 else default
    if path == "generated" or not os.path.exists(path):
        path = os.path.join(tmp, "generated.ply")
        write_splat(path, generated())
    source = read_splat(path).splat
    cases = [("Niantic .spz (v3 and v4)", "x.spz", False), ("SuperSplat .compressed.ply", "x.compressed.ply", True),
             ("antimatter15 .splat", "x.splat", False)]  # fmt: skip
    rows = []
    for label, filename, reorders in cases:
        out = os.path.join(tmp, filename)
        write_splat(out, source)
        back = read_splat(out).splat
        rows.append((label, os.path.getsize(out), errors(matched(source, back) if reorders else source, back)))
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from reference_converter import ReferenceConverter, missing_reason

    if missing_reason() is None:
        sog = os.path.join(tmp, "x.sog")
        ReferenceConverter().convert(path, sog, "--sh-iterations", "2")
        back = read_splat(sog).splat
        rows.append(("PlayCanvas .sog (splat-transform)", os.path.getsize(sog), errors(matched(source, back), back)))
    keys = list(rows[0][2])
    print(f"{os.path.basename(path)}: {len(source):,} Gaussians, SH degree {source.sh_degree}, INRIA .ply "
          f"{os.path.getsize(path) / 1024:.0f} KiB; median / 99th percentile error")  # fmt: skip
    print("| format | size | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for label, size, err in rows:
        cells = [f"{np.median(err[k]):.2g} / {np.percentile(err[k], 99):.2g}" if k in err else "dropped" for k in keys]
        print(f"| {label} | {size / 1024:.0f} KiB | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
