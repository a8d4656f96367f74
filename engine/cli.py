"""``saga-engine``: the engine's command line (also ``python -m engine``). A thin shell over ``engine.api``: parse,
call, print; the errors a user can cause become one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import sys
import time

from engine.cli_support import (
    EXIT_USAGE,
    OneLineParser,
    UsageError,
    int_range,
    positive_int,
    read_scene_for_command,
)


def cmd_info(args) -> int:
    from engine.api.scene_files import describe_scene_file

    info = describe_scene_file(args.file)
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    none = "(no finite Gaussians)"
    print(f"file:        {info['file']}")
    print(f"format:      {info['format']} {info['encoding']}".rstrip())
    print(f"gaussians:   {info['count']}")
    print(f"sh degree:   {info['sh_degree']}")
    print(f"bounds min:  {info['bounds_min'] or none}")
    print(f"bounds max:  {info['bounds_max'] or none}")
    print(f"extras:      {', '.join(info['extra_properties']) or '(none)'}")
    print(f"nan/inf:     {info['non_finite_summary']}")
    for note in info["notes"]:
        print(f"note:        {note}")
    return 0


def cmd_convert(args) -> int:
    from saga_blender.core.splat_io import write_splat

    scene = read_scene_for_command(args.input, args.sanitize)
    written = write_splat(args.output, scene.splat)
    print(f"wrote {args.output}: {len(scene.splat)} Gaussians, SH degree {scene.splat.sh_degree} ({written})")
    return 0


def cmd_render(args) -> int:
    from engine.api.render_files import cameras_for_render, render_scene_to_folder

    scene = read_scene_for_command(args.file, args.sanitize)
    cameras = cameras_for_render(scene.splat, args.views, args.cameras, args.width, args.height, args.layout)
    t0 = time.perf_counter()
    paths = render_scene_to_folder(scene.splat, cameras, args.out, backend=args.backend, device=args.device,
                                   depth=not args.no_depth, log=print)  # fmt: skip
    took = time.perf_counter() - t0
    print(f"done: {len(paths)} views of {len(scene.splat)} Gaussians in {took:.1f} s -> {args.out}")
    return 0


def cmd_generate_scene(args) -> int:
    from engine.synthetic.scene_generator import generate_table_scene, save_scene

    t0 = time.perf_counter()
    scene = generate_table_scene(n_gaussians=args.gaussians, seed=args.seed)
    paths = save_scene(scene, args.out, name=args.name)
    print(f"generated {len(scene.splat)} Gaussians in {time.perf_counter() - t0:.1f} s: {paths}")
    return 0


def cmd_demo(args) -> int:
    from engine.demo import run_demo

    return run_demo(args.out, n_gaussians=args.gaussians, n_views=args.views, size=args.size,
                    iterations=args.iterations, train_views=args.train_views)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="saga-engine", description="SAGA engine: splat files, rendering, segmentation")
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
    s.add_argument("--width", type=int_range(1, 16384), help="image width (auto views: default 512; cameras: "
                   "rescale)")  # fmt: skip
    s.add_argument("--height", type=int_range(1, 16384), help="image height for auto views (default: width)")
    s.add_argument("--layout", default="auto", choices=["auto", "object", "room"], help="auto-view layout")
    s.add_argument("--backend", default="auto", choices=["auto", "torch", "gsplat"])
    s.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    s.add_argument("--no-depth", action="store_true", help="skip the depth images")
    s.add_argument("--sanitize", action="store_true", help="drop Gaussians with NaN/inf values")
    s.set_defaults(func=cmd_render)

    s = sub.add_parser("generate-scene", help="write the synthetic labelled table scene (.ply + labels .npz)")
    s.add_argument("out")
    s.add_argument("--gaussians", type=int_range(100, 50_000_000), default=200_000)
    s.add_argument("--seed", type=int_range(0, 2**31 - 1), default=0)
    s.add_argument("--name", default="scene")
    s.set_defaults(func=cmd_generate_scene)

    from engine import query_commands, train_command
    from engine.service import serve_command

    train_command.add_parser(sub)
    query_commands.add_parsers(sub)
    serve_command.add_parser(sub)

    s = sub.add_parser("demo", help="the main job on the built-in demo scene")
    s.add_argument("--out", default="demo_out")
    s.add_argument("--gaussians", type=int_range(1000, 5_000_000), default=200_000)
    s.add_argument("--views", type=int_range(1, 64), default=8, help="display views (pictures)")
    s.add_argument("--size", type=int_range(32, 4096), default=384, help="display image size in pixels")
    s.add_argument("--iterations", type=positive_int, default=2000, help="training iterations")
    s.add_argument("--train-views", type=int_range(1, 1024), default=24, help="automatic training views")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    from engine.api.errors import USER_ERRORS
    from engine.api.prepare_spec import SpecError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed on one line
        return int(exc.code or 0)
    try:
        return int(args.func(args) or 0)
    except (*USER_ERRORS, UsageError) as exc:
        print(f"error: {exc.for_cli() if isinstance(exc, SpecError) else exc}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as exc:  # an optional dependency (its message says what to install)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
