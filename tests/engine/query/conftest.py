"""A small synthetic scene trained once for the query tests (clean label masks, ~30 s on 2 CPU cores)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    from engine.cameras.auto_views import auto_views
    from engine.synthetic.damaged_masks import DamagedLabelMaskSource
    from engine.synthetic.scene_generator import generate_table_scene, save_scene
    from engine.training.pipeline import prepare_scene
    from engine.training.trainer import TrainSettings
    from engine.training.views import rendered_views

    root = tmp_path_factory.mktemp("trained")
    scene = generate_table_scene(30_000, seed=0)
    ply, _ = save_scene(scene, root)
    scene_path = str(ply)
    cams = auto_views(scene.splat, 16, width=128, height=128, layout="object", up=scene.up)
    source = DamagedLabelMaskSource.from_scene(scene, cams, seed=0, drop=0.0, merge=0.0, boundary_px=0.0,
                                               spurious=0)  # fmt: skip
    workdir = str(root / "work")
    prepare_scene(scene.splat, lambda: rendered_views(scene.splat, cams), len(cams), source, workdir,
                  TrainSettings(iterations=800, num_pixels=300, seed=0),
                  metadata={"scene_path": scene_path})  # fmt: skip
    return {"scene": scene, "scene_path": scene_path, "workdir": workdir, "cameras": cams}
