"""Formats in real Blender: File > Import and drag-and-drop of .spz / .sog / .compressed.ply (files we and
splat-transform wrote), File > Export in every format (the extension follows the format), merge on export with each
object's transform and SH rotation baked in, and a moved -Y-up object exporting where it stands."""

from __future__ import annotations

import numpy as np
import pytest

from saga_blender.core.splat_io import read_splat, write_splat
from saga_blender.core.splat_transform import transform_splat

from ..core.test_spz import assert_within_quantisation
from .test_extension import attribute, import_file, positions

bpy = pytest.importorskip("bpy")
FIELDS = ("means", "quats", "log_scales", "opacity_logits", "sh_dc", "sh_rest")


def assert_object_holds(obj, splat):
    """The object's points and attributes are exactly the splat the core reader gives."""
    assert len(obj.data.vertices) == len(splat)
    np.testing.assert_array_equal(positions(obj), splat.means)
    for prop, column in splat.columns().items():
        if prop not in ("x", "y", "z"):
            np.testing.assert_array_equal(attribute(obj, prop), column.astype(np.float32), err_msg=prop)


@pytest.mark.parametrize("name", ["scene.spz", "scene_v4.spz", "scene.compressed.ply", "scene.splat"])
def test_files_we_write_import_as_the_core_reads_them(clean_scene, sample_ply, tmp_path, name):
    path = tmp_path / name
    write_splat(path, read_splat(sample_ply).splat, spz_version=4 if "v4" in name else 3)
    obj = import_file(path)
    assert obj.name.startswith("scene")
    assert_object_holds(obj, read_splat(path).splat)


@pytest.mark.parametrize("name", ["theirs.spz", "theirs.sog", "theirs.compressed.ply"])
def test_files_splat_transform_writes_import_as_it_decodes_them(clean_scene, sample_ply, tmp_path, splat_transform,
                                                                name):  # fmt: skip
    path = tmp_path / name
    splat_transform.convert(sample_ply, path, *(["--sh-iterations", "2"] if name.endswith(".sog") else []))
    obj = import_file(path)
    decoded = tmp_path / "decoded.ply"
    splat_transform.convert(path, decoded)
    reference = read_splat(decoded).splat
    assert len(obj.data.vertices) == len(reference) == 9080
    np.testing.assert_allclose(positions(obj), reference.means, atol=2e-6)
    for prop in ("opacity", "scale_0", "rot_1", "f_dc_2", "f_rest_44"):
        np.testing.assert_allclose(attribute(obj, prop), reference.columns()[prop], atol=2e-6, err_msg=prop)


def test_sog_textures_decoded_by_blender_equal_the_pillow_free_reference(clean_scene, sample_ply, tmp_path,
                                                                         splat_transform):  # fmt: skip
    """Blender's own WebP decoder gives the texture bytes: the SOG import equals the core reader with that decoder,
    and unbundled meta.json imports the same."""
    import importlib
    import zipfile

    decode = importlib.import_module("bl_ext.user_default.saga_blender.blender_images").decode_webp
    path = tmp_path / "bundle.sog"
    splat_transform.convert(sample_ply, path, "--sh-iterations", "2")
    bundled = read_splat(path, decode_webp=decode).splat
    folder = tmp_path / "unbundled"
    folder.mkdir()
    with zipfile.ZipFile(path) as z:
        z.extractall(folder)
    obj = import_file(folder / "meta.json")
    assert obj.name.startswith("unbundled")
    assert_object_holds(obj, bundled)


def test_drag_and_drop_of_the_new_formats(clean_scene, sample_ply, tmp_path):
    handler = bpy.types.SAGA_FH_splat
    assert {".ply", ".splat", ".spz", ".sog"} <= set(handler.bl_file_extensions.split(";"))
    write_splat(tmp_path / "a.spz", read_splat(sample_ply).splat)
    write_splat(tmp_path / "b.splat", read_splat(sample_ply).splat)
    before = set(bpy.data.objects)
    # what a drop does: the import operator invoked with the dropped files
    result = bpy.ops.saga.import_splat("INVOKE_DEFAULT", directory=str(tmp_path),
                                       files=[{"name": "a.spz"}, {"name": "b.splat"}])  # fmt: skip
    assert result == {"FINISHED"}
    new = sorted(o.name for o in set(bpy.data.objects) - before)
    assert new == ["a", "b"]


@pytest.mark.parametrize(
    ("file_format", "typed", "written"),
    [("SPZ", "out.ply", "out.spz"), ("COMPRESSED", "out", "out.compressed.ply"), ("SPLAT", "out.spz", "out.splat"),
     ("PLY", "out.compressed.ply", "out.ply")],
)  # fmt: skip
def test_export_writes_the_chosen_format_and_the_name_follows_it(clean_scene, sample_ply, tmp_path, file_format,
                                                                  typed, written):  # fmt: skip
    import_file(sample_ply)
    # the file browser's check() puts the format's extension on the name
    from bl_ext.user_default.saga_blender.operators_io import EXPORT_FORMATS, strip_splat_suffix

    assert strip_splat_suffix(str(tmp_path / typed)) + EXPORT_FORMATS[file_format][0] == str(tmp_path / written)
    rna = bpy.ops.saga.export_splat.get_rna_type()
    assert rna.properties["file_format"].enum_items.keys() == ["PLY", "SPZ", "COMPRESSED", "SPLAT"]
    target = tmp_path / written
    assert bpy.ops.saga.export_splat(filepath=str(target), file_format=file_format) == {"FINISHED"}
    back = read_splat(target)
    source = read_splat(sample_ply).splat
    assert len(back.splat) == len(source)
    if file_format == "SPZ":
        assert_within_quantisation(back.splat, source)
    if file_format == "PLY":
        assert list(back.splat.columns()) == list(source.columns())  # every property, extras included


def test_export_spz_version_4_and_a_typed_extension_wins(clean_scene, sample_ply, tmp_path):
    import_file(sample_ply)
    target = tmp_path / "v4.spz"
    assert bpy.ops.saga.export_splat(filepath=str(target), file_format="PLY", spz_version="4") == {"FINISHED"}
    assert target.read_bytes()[:4] == b"NGSP"
    assert_within_quantisation(read_splat(target).splat, read_splat(sample_ply).splat)


def test_merge_on_export_bakes_each_objects_transform_and_sh_rotation(clean_scene, sample_ply, tmp_path):
    from mathutils import Matrix

    a = import_file(sample_ply)  # -Y up
    b = import_file(sample_ply)
    b.matrix_world = Matrix.Translation((2.0, 0.5, 1.0)) @ Matrix.Rotation(0.7, 4, "Z") @ b.matrix_world
    bpy.context.view_layer.update()
    for obj in bpy.data.objects:
        obj.select_set(obj in (a, b))
    bpy.context.view_layer.objects.active = a
    out = tmp_path / "merged.ply"
    assert bpy.ops.saga.export_splat(filepath=str(out), merge_selected=True) == {"FINISHED"}
    merged = read_splat(out).splat
    source = read_splat(sample_ply).splat
    assert len(merged) == 2 * len(source)
    first, second = merged.subset(np.arange(len(source))), merged.subset(np.arange(len(source), 2 * len(source)))
    for name in FIELDS:  # the active object is unmoved: its points exactly as read
        np.testing.assert_array_equal(getattr(first, name), getattr(source, name), err_msg=name)
    # the other: moved in the world, expressed in the active object's file frame (its import matrix undone)
    frame = np.linalg.inv(np.array(a.matrix_world, np.float64)) @ np.array(b.matrix_world, np.float64)
    expected, info = transform_splat(source, frame)
    assert info.get("uniform_scale", True)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(second, name), getattr(expected, name), atol=2e-5, err_msg=name)
    assert np.abs(second.sh_rest - source.sh_rest).max() > 0.01  # the SH really rotated
    # only the active object without the merge option
    single = tmp_path / "single.ply"
    assert bpy.ops.saga.export_splat(filepath=str(single)) == {"FINISHED"}
    assert len(read_splat(single).splat) == len(source)


def test_a_moved_object_of_a_y_down_file_exports_where_it_stands(clean_scene, sample_ply, tmp_path):
    """Import with the default -Y up, lift the object 1 m (world +Z) and turn it: the exported file, imported again,
    stands exactly where the moved object stood."""
    from mathutils import Matrix

    obj = import_file(sample_ply)
    obj.matrix_world = Matrix.Translation((0.0, 0.0, 1.0)) @ Matrix.Rotation(0.4, 4, "Z") @ obj.matrix_world
    bpy.context.view_layer.update()
    world = np.array(obj.matrix_world)
    moved_world = positions(obj) @ world[:3, :3].T + world[:3, 3]
    out = tmp_path / "moved.ply"
    assert bpy.ops.saga.export_splat(filepath=str(out)) == {"FINISHED"}
    again = import_file(out)
    world2 = np.array(again.matrix_world)
    np.testing.assert_allclose(positions(again) @ world2[:3, :3].T + world2[:3, 3], moved_world, atol=2e-5)
