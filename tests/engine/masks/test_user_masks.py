"""User-provided masks: .npz stacks and label PNGs (with levels), and every error case."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.masks.source import MaskSourceError
from engine.masks.user_masks import UserMaskSource, view_stem
from engine.views.training_view import TrainingView

H, W = 12, 16


def make_view(name, h=H, w=W):
    return TrainingView(
        name,
        np.zeros((h, w, 3), np.uint8),
        np.ones((h, w), np.float32),
        np.ones((h, w), np.float32),
        np.eye(4),
        np.eye(3),
    )


def label_image(values_boxes, h=H, w=W, dtype=np.uint8):
    labels = np.zeros((h, w), dtype)
    for value, (y0, y1, x0, x1) in values_boxes:
        labels[y0:y1, x0:x1] = value
    return labels


def test_view_stem():
    assert view_stem("images/IMG_0042.JPG") == "IMG_0042"
    assert view_stem("view_003") == "view_003"
    assert view_stem("scan.v2.png") == "scan.v2"


def test_npz_masks(tmp_path):
    masks = np.zeros((2, H, W), bool)
    masks[0, :5] = True
    masks[1, 3:, 4:] = True
    np.savez_compressed(tmp_path / "frame_1.npz", masks=masks)
    np.savez(tmp_path / "frame_2.npz", masks=masks.astype(np.uint8))  # integer 0/1 is accepted
    source = UserMaskSource(tmp_path)
    out = source.masks_for_view(make_view("frame_1.jpg"))
    assert out.dtype == np.bool_ and np.array_equal(out, masks)
    assert np.array_equal(source.masks_for_view(make_view("frame_2.jpg")), masks)
    source.check_folder([make_view("frame_1.jpg"), ("frame_2.png", H, W)])


def test_label_pngs_with_levels(tmp_path):
    Image.fromarray(label_image([(1, (0, 4, 0, 4)), (7, (6, 12, 6, 16))])).save(tmp_path / "v.png")
    Image.fromarray(label_image([(300, (0, 12, 0, 8))], dtype=np.uint16)).save(tmp_path / "v.2.png")
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[:6] = (255, 0, 0)
    rgb[6:, :3] = (0, 0, 9)
    Image.fromarray(rgb).save(tmp_path / "v.10.png")
    out = UserMaskSource(tmp_path).masks_for_view(make_view("v.jpg"))
    # v.png (labels 1, 7), then level 2 (label 300), then level 10 (two colours: (0,0,9) < (255,0,0)).
    assert out.shape == (5, H, W) and out.dtype == np.bool_
    assert out[0].sum() == 16 and out[1].sum() == 60 and out[2].sum() == 96
    assert out[3].sum() == 18 and out[4].sum() == 96
    assert not (out[0] & out[1]).any()


def test_palette_and_bilevel_pngs(tmp_path):
    pal = Image.fromarray(label_image([(3, (0, 6, 0, 6))])).convert("P")
    pal.save(tmp_path / "p.png")
    Image.fromarray(label_image([(1, (0, 6, 0, 6))]) * 255).convert("1").save(tmp_path / "b.png")
    source = UserMaskSource(tmp_path)
    for name in ("p", "b"):
        out = source.masks_for_view(make_view(name))
        assert out.shape == (1, H, W) and out[0].sum() == 36


def test_no_file_for_view(tmp_path):
    np.savez(tmp_path / "a.npz", masks=np.zeros((1, H, W), bool))
    with pytest.raises(MaskSourceError, match=r"no masks for view 'b\.jpg'.*b\.npz"):
        UserMaskSource(tmp_path).masks_for_view(make_view("b.jpg"))


def test_wrong_size(tmp_path):
    np.savez(tmp_path / "a.npz", masks=np.zeros((1, H + 1, W), bool))
    Image.fromarray(np.zeros((H, W + 2), np.uint8)).save(tmp_path / "b.png")
    source = UserMaskSource(tmp_path)
    with pytest.raises(MaskSourceError, match=r"a\.npz.*shape \[1, 13, 16\].*\[M, H, W\] with W x H = 16x12"):
        source.masks_for_view(make_view("a"))
    with pytest.raises(MaskSourceError, match=r"b\.png.*18x12.*16x12"):
        source.masks_for_view(make_view("b"))


def test_bad_dtypes_and_values(tmp_path):
    np.savez(tmp_path / "f.npz", masks=np.zeros((1, H, W), np.float32))
    np.savez(tmp_path / "i.npz", masks=np.full((1, H, W), 3, np.int32))
    np.savez(tmp_path / "k.npz", other=np.zeros((1, H, W), bool))
    Image.fromarray(np.zeros((H, W), np.float32), mode="F").save(tmp_path / "t.tif")  # ignored: not .png
    source = UserMaskSource(tmp_path)
    with pytest.raises(MaskSourceError, match=r"f\.npz.*float32.*bool"):
        source.masks_for_view(make_view("f"))
    with pytest.raises(MaskSourceError, match=r"i\.npz.*only 0 and 1"):
        source.masks_for_view(make_view("i"))
    with pytest.raises(MaskSourceError, match=r"k\.npz.*no array named 'masks'.*other"):
        source.masks_for_view(make_view("k"))


def test_unreadable_files(tmp_path):
    (tmp_path / "a.npz").write_bytes(b"not a zip")
    (tmp_path / "b.png").write_bytes(b"\x89PNG garbage")
    source = UserMaskSource(tmp_path)
    with pytest.raises(MaskSourceError, match=r"a\.npz: cannot read"):
        source.masks_for_view(make_view("a"))
    with pytest.raises(MaskSourceError, match=r"b\.png: cannot read"):
        source.masks_for_view(make_view("b"))


def test_empty_or_missing_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("no masks here")
    with pytest.raises(MaskSourceError, match=r"holds no \.npz or \.png"):
        UserMaskSource(tmp_path)
    with pytest.raises(MaskSourceError, match="mask folder not found"):
        UserMaskSource(tmp_path / "absent")


def test_both_kinds_for_one_view(tmp_path):
    np.savez(tmp_path / "a.npz", masks=np.zeros((1, H, W), bool))
    Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(MaskSourceError, match=r"both a\.npz and label PNGs"):
        UserMaskSource(tmp_path).masks_for_view(make_view("a"))


def test_check_folder_reports_everything_at_once(tmp_path):
    np.savez(tmp_path / "ok.npz", masks=np.zeros((1, H, W), bool))
    np.savez(tmp_path / "big.npz", masks=np.zeros((1, H, W + 1), bool))
    Image.fromarray(np.zeros((H + 3, W), np.uint8)).save(tmp_path / "lvl.1.png")
    np.savez(tmp_path / "orphan.npz", masks=np.zeros((1, H, W), bool))
    (tmp_path / "broken.png").write_bytes(b"nope")
    views = [make_view(n) for n in ("ok.jpg", "big.jpg", "lvl.jpg", "missing.jpg", "broken.jpg")]
    source = UserMaskSource(tmp_path)
    problems = source.problems(views)
    text = "\n".join(problems)
    assert len(problems) == 5, text
    assert "big.npz" in text and "lvl.1.png: masks are 16x15" in text
    assert "no masks for view 'missing.jpg'" in text
    assert "broken.png: cannot read" in text and "orphan.npz: matches no training view" in text
    assert len(source.problems(views, allow_extra=True)) == 4
    with pytest.raises(MaskSourceError, match=r"5 problem\(s\)"):
        source.check_folder(views)


def test_settings_change_with_the_files(tmp_path):
    np.savez(tmp_path / "a.npz", masks=np.zeros((1, H, W), bool))
    source = UserMaskSource(tmp_path)
    before = source.settings()
    np.savez(tmp_path / "b.npz", masks=np.zeros((2, H, W), bool))
    assert UserMaskSource(tmp_path).settings() != before
