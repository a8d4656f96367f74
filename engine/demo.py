"""The main job on the built-in demo scene (``saga-engine demo``), end to end, no model file needed.

1. generate the synthetic labelled table scene (200k Gaussians) and write it as an INRIA .ply;
2. prepare it as a user would, through the engine API (``engine.api.prepare``): automatic views rendered from
   the splat, masks from the weights-free generator, SAGA feature training;
3. click the lamp's shade once in a display view and select at three granularities (the shade, the lamp,
   everything on the table), with the product's predictor; a picture shows the three selections;
4. edit: write the lamp alone (``lamp.ply``) and the scene without it (``scene_without_lamp.ply``), and render
   the scene before and after.
The scene's ground-truth labels are used only to know where the lamp is (the pixel to click) and to print how
well the selections match the shade and the lamp; ``demo_report.json`` holds the lamp's IoU over all its Gaussians
(target 0.95: below it, a pole or a patch of base stays behind).
"""

from __future__ import annotations

import os
import time

import numpy as np

CLICK_SCALES = {"lamp shade (fine, s=0.2)": 0.2, "lamp (object, s=0.5)": 0.5, "all on the table (coarse, s=0.9)": 0.9}
OBJECT_SCALE = "lamp (object, s=0.5)"
LAMP_TARGET = 0.95  # the lamp's deletion leaves no pole and no patch of base on the table
HIGHLIGHT = np.array([1.0, 0.1, 0.1])


def run_demo(out_dir: str, n_gaussians: int = 200_000, n_views: int = 8, size: int = 384, iterations: int = 2000,
             train_views: int = 24, log=print) -> int:  # fmt: skip
    from engine.api.prepare import plan_prepare, run_prepare
    from engine.api.prepare_spec import PrepareSpec
    from engine.api.scene_files import read_scene
    from engine.api.selection import extract, select_rows
    from engine.api.trained_scene import open_trained
    from engine.cameras.auto_views import auto_views
    from engine.query.prompts import Prompts, QueryCamera
    from engine.render.image_files import save_png
    from engine.render.render_views import render_to_folder, render_views
    from engine.synthetic.label_maps import render_label_maps
    from engine.synthetic.scene_generator import generate_table_scene, save_scene
    from saga_blender.core.atomic_files import make_folder, write_json

    t0 = time.perf_counter()
    make_folder(out_dir, "output folder")
    log(f"[1/4] generating the demo scene ({n_gaussians} Gaussians)")
    scene = generate_table_scene(n_gaussians=n_gaussians, seed=0)
    ply, _ = save_scene(scene, out_dir, name="demo_scene")
    cameras = auto_views(scene.splat, n_views, width=size, height=size, layout="object", up=scene.up)
    cameras.save_json(os.path.join(out_dir, "cameras.json"))
    paths = render_to_folder(scene.splat, cameras, os.path.join(out_dir, "views"), log=lambda m: None)
    save_png(os.path.join(out_dir, "contact_sheet.png"), contact_sheet(paths, columns=4))

    log(f"[2/4] preparing: {train_views} automatic views, weights-free masks, {iterations} training iterations")
    spec = PrepareSpec(views=f"auto:{train_views}", layout="object", size=256, masks="fallback",
                       iterations=iterations, pixels=400, device="cpu")  # fmt: skip
    workdir = os.path.join(out_dir, "work")
    last = {"stage": "", "t": 0.0}

    def progress(p) -> None:
        now = time.perf_counter()
        if p.stage != last["stage"] or now - last["t"] > 5.0 or p.step == p.total:
            eta = f", ETA {p.eta_s:.0f} s" if p.eta_s else ""
            log(f"      [{p.percent:5.1f}%] {p.stage}: {p.message}{eta}")
            last.update(stage=p.stage, t=now)

    scene_file = read_scene(ply)
    run_prepare(plan_prepare(scene_file, workdir, spec), progress=progress)

    log("[3/4] one click on the lamp's shade, three granularities")
    trained = open_trained(workdir, scene=scene_file)
    lamp, shade = scene.object_names.index("lamp"), scene.part_names.index("lamp/shade")
    maps = render_label_maps(scene, cameras)
    view = int(np.argmax([(m[1] == shade).sum() for m in maps]))
    x, y = _interior_pixel(maps[view][1] == shade)
    camera, prompts = QueryCamera.from_cameras(cameras, view), Prompts(positive=[(x, y)])
    selections = {}
    for label, scale in CLICK_SCALES.items():
        sel = trained.select(camera, prompts, scale)
        selections[label] = sel.ids
        iou_shade, iou_lamp = _iou(sel.ids, scene.part_id == shade), _iou(sel.ids, scene.object_id == lamp)
        log(f"      {label}: {len(sel.ids):,} Gaussians in {sum(sel.timings_ms.values()):.0f} ms "
            f"(IoU with the shade {iou_shade:.2f}, with the lamp {iou_lamp:.2f})")  # fmt: skip
    one_view = cameras.subset([view])
    tiles = [next(render_views(_highlighted(scene.splat, ids), one_view)).rgb for ids in selections.values()]
    save_png(os.path.join(out_dir, "selection_scales.png"), np.concatenate(tiles, axis=1))

    log("[4/4] edit and export: the lamp alone, the scene without it")
    lamp_ids = selections[OBJECT_SCALE]
    rest = select_rows(lamp_ids, len(scene_file), invert=True)
    extract(scene_file, select_rows(lamp_ids, len(scene_file)), os.path.join(out_dir, "lamp.ply"))
    extract(scene_file, rest, os.path.join(out_dir, "scene_without_lamp.ply"))
    lamp_truth = scene.object_id == lamp
    lamp_iou = _iou(lamp_ids, lamp_truth)
    left = int(lamp_truth[rest].sum())
    taken = int((~lamp_truth[lamp_ids]).sum()) if len(lamp_ids) else 0
    verdict = "met" if lamp_iou >= LAMP_TARGET else "NOT met"
    log(f"      the lamp's IoU over all its Gaussians {lamp_iou:.3f} (target {LAMP_TARGET}: {verdict}); {left:,} of "
        f"its {int(lamp_truth.sum()):,} Gaussians stay in the scene, {taken:,} others left with it")  # fmt: skip
    write_json(os.path.join(out_dir, "demo_report.json"), {
        "lamp_iou": round(lamp_iou, 4), "lamp_target": LAMP_TARGET, "lamp_gaussians_left": left,
        "other_gaussians_removed": taken, "seconds": round(time.perf_counter() - t0, 1)})  # fmt: skip
    before = next(render_views(scene.splat, one_view)).rgb
    after = next(render_views(scene.splat.subset(rest), one_view)).rgb
    save_png(os.path.join(out_dir, "before_after.png"), np.concatenate([before, after], axis=1))
    log(f"done in {time.perf_counter() - t0:.1f} s: {out_dir}/scene_without_lamp.ply, lamp.ply, selection_scales.png, "
        f"before_after.png")  # fmt: skip
    return 0


def _interior_pixel(region: np.ndarray) -> tuple[int, int]:
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(region)
    y, x = np.unravel_index(int(depth.argmax()), depth.shape)
    return int(x), int(y)


def _iou(ids: np.ndarray, truth: np.ndarray) -> float:
    sel = np.zeros(len(truth), bool)
    sel[ids] = True
    return float((sel & truth).sum() / max((sel | truth).sum(), 1))


def _highlighted(splat, ids: np.ndarray):
    """A copy of the splat whose Gaussians ``ids`` are drawn in the highlight colour (view-independent)."""
    from saga_blender.core.gaussians import SH_C0

    out = splat.subset(np.arange(len(splat)))
    out.sh_dc[ids] = ((HIGHLIGHT - 0.5) / SH_C0).astype(np.float32)
    out.sh_rest[ids] = 0.0
    return out


def contact_sheet(paths: list[str], columns: int = 4) -> np.ndarray:
    """Tile PNGs of equal size into one uint8 image."""
    from PIL import Image

    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    h, w, _ = images[0].shape
    rows = -(-len(images) // columns)
    sheet = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    return sheet
