"""``saga-engine``: the engine's command line (also ``python -m engine``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

EXIT_USAGE = 2


def read_scene(path: str, sanitize: bool):
    """Read a splat file for a command; a sanitising read says on stderr what it dropped."""
    from saga_blender.core.splat_io import read_splat

    result = read_splat(path, sanitize=sanitize)
    if result.sanitized:
        print(f"warning: {path}: {result.sanitized}", file=sys.stderr)
    return result


def cmd_info(args) -> int:
    from saga_blender.core.errors import NonFiniteValuesError
    from saga_blender.core.finite_check import check_finite
    from saga_blender.core.splat_io import read_splat

    try:
        result = read_splat(args.file, sanitize=False)
        report = result.finite_report
    except NonFiniteValuesError as exc:  # info always reports, never refuses
        result = read_splat(args.file, sanitize=True)
        report = exc.report
    splat = result.splat
    finite = check_finite(splat)[1]
    lo, hi = splat.means[finite].min(0), splat.means[finite].max(0)
    info = {
        "file": os.path.abspath(args.file),
        "format": result.format,
        "encoding": result.encoding,
        "count": report.total,
        "sh_degree": splat.sh_degree,
        "bounds_min": [round(float(v), 6) for v in lo],
        "bounds_max": [round(float(v), 6) for v in hi],
        "extra_properties": list(splat.extras),
        "non_finite": {"gaussians": report.bad_gaussians, "by_property": report.bad_by_property},
    }
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"file:        {info['file']}")
    print(f"format:      {info['format']} {info['encoding']}".rstrip())
    print(f"gaussians:   {info['count']}")
    print(f"sh degree:   {info['sh_degree']}")
    print(f"bounds min:  {info['bounds_min']}")
    print(f"bounds max:  {info['bounds_max']}")
    print(f"extras:      {', '.join(info['extra_properties']) or '(none)'}")
    print(f"nan/inf:     {report.summary()}")
    return 0


def cmd_convert(args) -> int:
    from saga_blender.core.splat_io import write_splat

    result = read_scene(args.input, args.sanitize)
    written = write_splat(args.output, result.splat)
    print(f"wrote {args.output}: {len(result.splat)} Gaussians, SH degree {result.splat.sh_degree} ({written})")
    return 0


def parse_views(spec: str) -> int:
    if not spec.startswith("auto:") or not spec[5:].isdigit() or int(spec[5:]) < 1:
        raise ValueError(f"--views expects auto:N with N >= 1, got {spec!r}")
    return int(spec[5:])


def cmd_render(args) -> int:
    from engine.render.render_views import render_to_folder

    result = read_scene(args.file, args.sanitize)
    cameras = _cameras_for(args, result.splat)
    os.makedirs(args.out, exist_ok=True)
    cameras.save_json(os.path.join(args.out, "cameras.json"))
    t0 = time.perf_counter()
    paths = render_to_folder(result.splat, cameras, args.out, backend=args.backend, device=args.device,
                             depth=not args.no_depth)  # fmt: skip
    took = time.perf_counter() - t0
    print(f"done: {len(paths)} views of {len(result.splat)} Gaussians in {took:.1f} s -> {args.out}")
    return 0


def _cameras_for(args, splat):
    from engine.cameras.load import load_cameras

    if (args.views is None) == (args.cameras is None):
        raise ValueError("give exactly one of --views auto:N or --cameras PATH")
    if args.cameras:
        cameras = load_cameras(args.cameras)
        if args.width:
            cameras = cameras.scaled(args.width / cameras.width)
        return cameras
    from engine.cameras.auto_views import auto_views

    n = parse_views(args.views)
    return auto_views(splat, n, width=args.width or 512, height=args.height or args.width or 512, layout=args.layout)


def cmd_generate_scene(args) -> int:
    from engine.synthetic.scene_generator import generate_table_scene, save_scene

    t0 = time.perf_counter()
    scene = generate_table_scene(n_gaussians=args.gaussians, seed=args.seed)
    paths = save_scene(scene, args.out, name=args.name)
    print(f"generated {len(scene.splat)} Gaussians in {time.perf_counter() - t0:.1f} s: {paths}")
    return 0


def cmd_demo(args) -> int:
    from engine.demo import run_demo

    return run_demo(
        args.out, n_gaussians=args.gaussians, n_views=args.views, size=args.size, iterations=args.iterations
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="saga-engine", description="SAGA engine: splat files, rendering, segmentation")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("info", help="print count, SH degree, bounds, extra properties and NaN/inf report")
    s.add_argument("file")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("convert", help="convert to .ply, .compressed.ply, .splat or .spz (OUT's extension)")
    s.add_argument("input")
    s.add_argument("output")
    s.add_argument("--sanitize", action="store_true", help="drop Gaussians with NaN/inf values (says how many)")
    s.set_defaults(func=cmd_convert)

    s = sub.add_parser("render", help="render views of a splat to PNG (and depth)")
    s.add_argument("file")
    s.add_argument("--views", help="auto:N  automatic views from the splat alone")
    s.add_argument("--cameras", help="saga cameras.json, transforms.json, or a COLMAP folder")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--width", type=int, help="image width (auto views: default 512; cameras: rescale)")
    s.add_argument("--height", type=int, help="image height for auto views (default: width)")
    s.add_argument("--layout", default="auto", choices=["auto", "object", "room"], help="auto-view layout")
    s.add_argument("--backend", default="auto", choices=["auto", "torch", "gsplat"])
    s.add_argument("--device", default="cpu", help="cpu or cuda")
    s.add_argument("--no-depth", action="store_true", help="skip the depth images")
    s.add_argument("--sanitize", action="store_true", help="drop Gaussians with NaN/inf values")
    s.set_defaults(func=cmd_render)

    s = sub.add_parser("generate-scene", help="write the synthetic labelled table scene (.ply + labels .npz)")
    s.add_argument("out")
    s.add_argument("--gaussians", type=int, default=200_000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--name", default="scene")
    s.set_defaults(func=cmd_generate_scene)

    from engine import train_command

    train_command.add_parser(sub)

    from engine import query_commands

    query_commands.add_parsers(sub)

    from engine.service import serve_command

    serve_command.add_parser(sub)

    s = sub.add_parser("demo", help="the main job on the built-in demo scene")
    s.add_argument("--out", default="demo_out")
    s.add_argument("--gaussians", type=int, default=200_000)
    s.add_argument("--views", type=int, default=8)
    s.add_argument("--size", type=int, default=384, help="image size in pixels")
    s.add_argument("--iterations", type=int, default=2000, help="training iterations")
    s.add_argument("--train-views", type=int, default=24, help="automatic training views")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    from engine.cameras.cameras import CameraFileError
    from engine.masks.source import MaskSourceError
    from engine.render.rasterization import BackendUnavailableError
    from engine.training.checkpoint import CheckpointError
    from saga_blender.core.errors import SplatFileError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (
        SplatFileError,
        CameraFileError,
        BackendUnavailableError,
        MaskSourceError,
        CheckpointError,
        ValueError,
        ImportError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
