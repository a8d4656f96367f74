"""saga-engine segment / cluster / extract end to end on the small trained scene, and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.api.trained_scene import open_trained
from engine.cli import main
from engine.evaluation.click_protocol import choose_clicks
from engine.query.feature_scores import FeatureScorer
from engine.query.prompts import Prompts, QueryCamera
from engine.query.segment_everything import segment_everything
from engine.synthetic.label_maps import render_label_maps
from engine.training.checkpoint import load_checkpoint
from saga_blender.core.splat_io import read_splat


def iou(ids, truth):
    sel = np.zeros(len(truth), bool)
    sel[ids] = True
    return (sel & truth).sum() / max((sel | truth).sum(), 1)


def test_segment_then_extract_writes_exactly_the_selected_rows(trained, tmp_path, capsys):
    scene, cams = trained["scene"], trained["cameras"]
    vase = scene.object_names.index("vase")
    c = choose_clicks([m[0] for m in render_label_maps(scene, cams)], [vase])[0]
    ids_path = tmp_path / "ids.npy"
    predictor = open_trained(trained["workdir"]).predictor
    cam, truth = QueryCamera.from_cameras(cams, c.view), scene.object_id == vase
    scale = max(np.linspace(0, 1, 11), key=lambda s: iou(predictor.predict(cam, Prompts(positive=[(c.x, c.y)]), s).ids,
                                                          truth))  # fmt: skip
    rc = main(["segment", trained["workdir"], "--view", str(c.view), "--point", f"{c.x},{c.y}", "--scale", str(scale),
               "--out", str(ids_path)])  # fmt: skip
    assert rc == 0 and "selected" in capsys.readouterr().out
    ids = np.load(ids_path)
    assert ids.dtype == np.int64 and len(ids) > 100
    assert (scene.object_id[ids] == vase).mean() > 0.8
    out = tmp_path / "vase.ply"
    assert main(["extract", trained["scene_path"], "--ids", str(ids_path), "--out", str(out)]) == 0
    part = read_splat(out).splat
    full = read_splat(trained["scene_path"]).splat
    np.testing.assert_array_equal(part.means, full.means[ids])
    np.testing.assert_array_equal(part.sh_coeffs, full.sh_coeffs[ids])
    np.testing.assert_array_equal(part.log_scales, full.log_scales[ids])
    rest = tmp_path / "rest.ply"
    assert main(["extract", trained["scene_path"], "--ids", str(ids_path), "--invert", "--out", str(rest)]) == 0
    assert len(read_splat(rest).splat) == len(full) - len(ids)


def test_segment_from_a_camera_file(trained, tmp_path):
    cams = trained["cameras"]
    cams.subset([3]).save_json(tmp_path / "cam.json")
    out = tmp_path / "ids.npy"
    assert main(["segment", trained["workdir"], "--camera", str(tmp_path / "cam.json"), "--point", "64,64",
                 "--scale", "1.0", "--out", str(out)]) == 0  # fmt: skip
    assert len(np.load(out)) > 0


def test_cluster_covers_every_gaussian_and_separates_objects(trained, tmp_path):
    scene = trained["scene"]
    out = tmp_path / "labels.npy"
    assert main(["cluster", trained["workdir"], "--scale", "0.3", "--out", str(out)]) == 0
    labels = np.load(out)
    assert labels.shape == (len(scene.splat),) and labels.min() >= 0
    # most objects get a cluster of their own: the cluster holding most of an object is mostly that object
    seen = load_checkpoint(trained["workdir"] + "/saga_features.npz").visibility >= 0.05
    pure = 0
    names = [n for n in scene.object_names if n not in ("background", "table")]
    for name in names:
        o = (scene.object_id == scene.object_names.index(name)) & seen
        main_label = np.bincount(labels[o]).argmax()
        pure += (scene.object_id[(labels == main_label) & seen] == scene.object_names.index(name)).mean() > 0.7
    assert pure >= len(names) - 2  # the die (tiny at 128 px) may join its neighbour


def test_cluster_is_deterministic_for_a_seed(trained):
    ckpt = load_checkpoint(trained["workdir"] + "/saga_features.npz")
    scorer = FeatureScorer(ckpt.features, ckpt.gate_weight, ckpt.gate_bias)
    a, b = segment_everything(scorer, 0.5, seed=3), segment_everything(scorer, 0.5, seed=3)
    np.testing.assert_array_equal(a.labels, b.labels)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["segment", "{work}", "--view", "0", "--point", "500,5", "--scale", "0.5", "--out", "{tmp}/x.npy"],
         "outside the 128x128 image"),
        (["segment", "{work}", "--view", "0", "--point", "60,60", "--scale", "2", "--out", "{tmp}/x.npy"],
         "outside [0, 1]"),
        (["segment", "{work}", "--view", "99", "--point", "60,60", "--scale", "0.5", "--out", "{tmp}/x.npy"],
         "view 99 does not exist"),
        (["segment", "{tmp}", "--view", "0", "--point", "60,60", "--scale", "0.5", "--out", "{tmp}/x.npy"],
         "no trained features here"),
        (["segment", "{work}", "--view", "0", "--point", "sixty", "--scale", "0.5", "--out", "{tmp}/x.npy"],
         "a point is X,Y"),
        (["cluster", "{tmp}", "--scale", "0.5", "--out", "{tmp}/l.npy"], "no trained features here"),
        (["extract", "{scene}", "--ids", "{tmp}/bad.npy", "--out", "{tmp}/o.ply"], "ids must be in"),
        (["segment", "{work}", "--view", "0", "--point", "60,60", "--scale", "0.5", "--out", "{tmp}/no/x.npy"],
         "does not exist"),
        (["extract", "{scene}", "--ids", "{tmp}/bad.npy", "--out", "{tmp}/no/o.ply"], "ids must be in"),
        (["extract", "{scene}", "--ids", "{tmp}/huge.npy", "--out", "{tmp}/o.ply"], "more than the limit"),
        (["extract", "{scene}", "--ids", "{tmp}/ok.npy", "--out", "{tmp}/no/o.ply"], "does not exist"),
        (["extract", "{scene}", "--ids", "{tmp}/ok.npy", "--out", "{scene}"], "the scene's own file"),
        (["segment", "{work}", "--view", "0", "--mask", "{tmp}/bad.npy", "--scale", "0.5", "--out", "{tmp}/x.npy"],
         "a mask prompt is one [H, W] image"),
        (["segment", "{work}", "--view", "0", "--mask", "{tmp}/text.png", "--scale", "0.5", "--out", "{tmp}/x.npy"],
         "not an image"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(trained, tmp_path, capsys, argv, message):
    np.save(tmp_path / "bad.npy", np.array([0, 10**9]))
    np.save(tmp_path / "ok.npy", np.array([0, 1, 2]))
    (tmp_path / "text.png").write_text("not a picture")
    # a .npy whose header claims 10^12 elements (the data is not there): refused before anything is allocated
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (10**12,)
    with open(tmp_path / "huge.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
    subst = {"work": trained["workdir"], "tmp": str(tmp_path), "scene": trained["scene_path"]}
    assert main([a.format(**subst) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "no").exists()  # no folder made on the way


def test_training_saved_its_cameras(trained):
    with open(trained["workdir"] + "/cameras.json") as fh:
        assert len(json.load(fh)["cameras"]) == len(trained["cameras"])
