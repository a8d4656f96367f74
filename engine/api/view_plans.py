"""The training views of a prepare, decided before anything is rendered: automatic views of the splat, or the
capture's photos (COLMAP binary / text, transforms.json), each checked up front (files, sizes) so a bad request is
refused at once instead of failing minutes into a job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from engine.cameras.cameras import Cameras, concatenate_cameras
from engine.views.training_view import TrainingView

from .prepare_spec import ResolvedPrepare, parse_auto_views


@dataclass
class ViewPlan:
    """``make()`` yields the TrainingViews at the training size; ``cameras`` are the same views at their own size
    (the photos' size for a capture), which is what ``--view I`` and clicks refer to."""

    make: Callable[[], Iterator[TrainingView]]
    count: int
    description: str
    cameras: Cameras
    training_size: tuple[int, int]  # (width, height)


def plan_views(run: ResolvedPrepare, splat) -> ViewPlan:
    from engine.views.view_sources import captured_views, check_capture_images, training_scale

    spec = run.spec
    if spec.from_capture:
        cameras = read_capture(spec.colmap, spec.transforms, spec.images)
        check_capture_images(cameras)
        factor = training_scale(cameras, run.size)
        small = cameras.scaled(factor) if factor < 1.0 else cameras
        kind = "COLMAP" if spec.colmap else "transforms.json"
        what = f"{len(cameras)} photos of the capture ({kind}, {cameras.width}x{cameras.height}, trained at " \
               f"{small.width}x{small.height})"  # fmt: skip
        close = close_up_cameras(run, splat, cameras)
        if not len(close):
            return ViewPlan(lambda: captured_views(splat, cameras, max_side=run.size, device=run.device),
                            len(cameras), what, cameras, (small.width, small.height))  # fmt: skip

        def photos_then_close_ups() -> Iterator[TrainingView]:
            yield from captured_views(splat, cameras, max_side=run.size, device=run.device)
            yield from close_up_views(splat, close, factor, run.device)

        return ViewPlan(photos_then_close_ups, len(cameras) + len(close),
                        f"{what} and {len(close)} close-ups rendered from the splat",
                        concatenate_cameras(cameras, close), (small.width, small.height))  # fmt: skip
    from engine.cameras.auto_views import auto_views

    n = parse_auto_views(spec.views)
    cameras = auto_views(splat, n, width=run.size, height=run.size, layout=spec.layout)
    close = close_up_cameras(run, splat, cameras)
    if len(close):
        return rendered_view_plan(run, splat, concatenate_cameras(cameras, close),
                                  f"views rendered from the splat ({n} automatic, {len(close)} close-ups)")  # fmt: skip
    return rendered_view_plan(run, splat, cameras, "automatic views")


def close_up_cameras(run: ResolvedPrepare, splat, overview: Cameras) -> Cameras:
    """The spec's close-ups (at the overview cameras' image size; none when it asks for none)."""
    from engine.cameras.close_ups import plan_close_ups

    layout = run.spec.layout
    return plan_close_ups(splat, run.spec.close_ups, overview.width, overview.height, layout=layout).cameras


def close_up_views(splat, close: Cameras, factor: float, device: str) -> Iterator[TrainingView]:
    """Close-ups of a capture rendered at its training size, remembering the photos' size (their ``--view``
    pixels are the photos' pixels, like every view of the capture)."""
    from dataclasses import replace

    from engine.views.view_sources import rendered_views

    scaled = close.scaled(factor) if factor < 1.0 else close
    for view in rendered_views(splat, scaled, device=device):
        yield replace(view, source_width=close.width, source_height=close.height)


def rendered_view_plan(run: ResolvedPrepare, splat, cameras: Cameras, what: str = "given views") -> ViewPlan:
    """Views rendered from the splat at these cameras (trained at the cameras' own size)."""
    from engine.views.view_sources import rendered_views

    size = (cameras.width, cameras.height)
    return ViewPlan(lambda: rendered_views(splat, cameras, device=run.device), len(cameras),
                    f"{len(cameras)} {what} ({size[0]}x{size[1]})", cameras, size)  # fmt: skip


def read_capture(colmap: str | None, transforms: str | None, images: str | None) -> Cameras:
    """The capture's cameras with their photos (CameraFileError naming the file for anything wrong)."""
    import os

    from engine.cameras.cameras import CameraFileError

    if images is not None and not os.path.isdir(images):
        raise CameraFileError(images, "the images folder does not exist" if not os.path.exists(images)
                              else "is not a folder (give the folder of the capture's photos)")  # fmt: skip
    if colmap:
        from engine.cameras.colmap import read_colmap

        if not os.path.exists(colmap):
            raise CameraFileError(colmap, "COLMAP model folder not found")
        return read_colmap(colmap, images)
    from engine.cameras.nerf_transforms import read_transforms_json

    if not os.path.isfile(transforms):
        raise CameraFileError(transforms, "transforms.json not found" if not os.path.exists(transforms)
                              else "is not a file")  # fmt: skip
    return read_transforms_json(transforms, images)
