"""A small synthetic scene trained once for the query tests (clean label masks, ~30 s on 2 CPU cores)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    from engine.api.prepare import plan_prepare, run_prepare
    from engine.api.prepare_spec import PrepareSpec
    from engine.api.scene_files import read_scene
    from engine.cameras.auto_views import auto_views
    from engine.synthetic.damaged_masks import DamagedLabelMaskSource
    from engine.synthetic.scene_generator import generate_table_scene, save_scene

    root = tmp_path_factory.mktemp("trained")
    scene = generate_table_scene(30_000, seed=0)
    ply, _ = save_scene(scene, root)
    scene_path = str(ply)
    cams = auto_views(scene.splat, 16, width=128, height=128, layout="object", up=scene.up)
    source = DamagedLabelMaskSource.from_scene(scene, cams, seed=0, drop=0.0, merge=0.0, boundary_px=0.0,
                                               spurious=0)  # fmt: skip
    workdir = str(root / "work")
    spec = PrepareSpec(iterations=800, pixels=300, seed=0, device="cpu")
    run_prepare(plan_prepare(read_scene(scene_path), workdir, spec, cameras=cams, mask_source=source))
    return {"scene": scene, "scene_path": scene_path, "workdir": workdir, "cameras": cams}
