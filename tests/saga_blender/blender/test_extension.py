"""The extension in real Blender: install, import, attributes, selections, edits, undo, export, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saga_blender.core.splat_io import read_splat

bpy = pytest.importorskip("bpy")


def import_file(path, **kwargs):
    before = set(bpy.data.objects)
    assert bpy.ops.saga.import_splat(filepath=str(path), **kwargs) == {"FINISHED"}
    (obj,) = set(bpy.data.objects) - before
    return obj


def attribute(obj, name, dtype=np.float32):
    out = np.empty(len(obj.data.vertices), dtype)
    obj.data.attributes[name].data.foreach_get("value", out)
    return out


def positions(obj):
    out = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", out)
    return out.reshape(-1, 3)


def same_bits(a, b) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_installed_extension_registers_its_operators_and_menus(extension):
    for op in ("import_splat", "export_splat", "selection_delete", "selection_separate", "selection_move"):
        assert hasattr(bpy.ops.saga, op)
    assert hasattr(bpy.types, "SAGA_PT_selections") and hasattr(bpy.types, "SAGA_FH_splat")
    from bl_ui.space_toolsystem_common import ToolSelectPanelHelper

    tools = ToolSelectPanelHelper._tool_class_from_space_type("VIEW_3D")._tools["OBJECT"]
    assert any("saga.click_tool" in repr(item) for item in tools)  # the toolbar's click tool


@pytest.mark.parametrize("name", ["inria_sh3_small.ply", "guitar.compressed.ply", "biker.compressed.ply"])
def test_import_real_files_attributes_equal_the_engine_reader(clean_scene, real_data, name):
    obj = import_file(real_data / name)
    splat = read_splat(real_data / name).splat
    assert len(obj.data.vertices) == len(splat)
    assert same_bits(positions(obj), splat.means.astype(np.float32))
    for prop, column in splat.columns().items():
        if prop in ("x", "y", "z"):
            continue
        assert np.array_equal(attribute(obj, prop), column.astype(np.float32)), prop
    assert np.array_equal(attribute(obj, "gs_id", np.int32), np.arange(len(splat)))
    assert obj.data.color_attributes.get("gs_color") is not None
    assert obj.modifiers[0].type == "NODES" and obj.data.materials[0].name == "SAGA Splat"
    # -Y up by default: the correction is the object's transform, the mesh keeps the file's numbers
    assert np.allclose(np.array(obj.matrix_world)[:3, :3] @ [0, -1, 0], [0, 0, 1], atol=1e-6)


@pytest.mark.parametrize("which", ["sample", "real"])
def test_export_of_an_unmoved_object_is_bit_exact(clean_scene, sample_ply, request, tmp_path, which):
    src = sample_ply if which == "sample" else request.getfixturevalue("real_data") / "inria_sh3_small.ply"
    import_file(src)
    out = tmp_path / "out.ply"
    assert bpy.ops.saga.export_splat(filepath=str(out)) == {"FINISHED"}
    a, b = read_splat(src).splat.columns(), read_splat(out).splat.columns()
    assert list(a) == list(b)
    for k in a:
        assert same_bits(a[k], b[k]), k


def make_groups(obj, rng):
    n = len(obj.data.vertices)
    a = rng.random(n) < 0.3
    b = rng.random(n) < 0.5
    ga, gb = obj.vertex_groups.new(name="A"), obj.vertex_groups.new(name="B")
    ga.add(np.flatnonzero(a).tolist(), 1.0, "REPLACE")
    gb.add(np.flatnonzero(b).tolist(), 1.0, "REPLACE")
    return a, b


def members(obj, name):
    """gs_ids of a vertex group, read the slow, obvious way (independent of the add-on's fast path)."""
    index = obj.vertex_groups[name].index
    ids = attribute(obj, "gs_id", np.int32)
    return {int(ids[v.index]) for v in obj.data.vertices if any(g.group == index and g.weight > 0 for g in v.groups)}


def test_selection_operators_keep_the_right_gs_ids(clean_scene, sample_ply):
    obj = import_file(sample_ply)
    a, b = make_groups(obj, np.random.default_rng(0))
    ids_a, ids_b = set(np.flatnonzero(a).tolist()), set(np.flatnonzero(b).tolist())
    obj.vertex_groups.active = obj.vertex_groups["A"]
    assert bpy.ops.saga.selection_combine(other="B") == {"FINISHED"}
    assert members(obj, "A+B") == ids_a | ids_b
    obj.vertex_groups.active = obj.vertex_groups["A"]
    assert bpy.ops.saga.selection_subtract(other="B") == {"FINISHED"}
    assert members(obj, "A-B") == ids_a - ids_b
    assert bpy.ops.saga.selection_invert(group="A-B") == {"FINISHED"}
    assert members(obj, "A-B") == set(range(len(a))) - (ids_a - ids_b)
    # duplicate: a new object with exactly A's points and attributes; the original is unchanged
    assert bpy.ops.saga.selection_duplicate(group="A") == {"FINISHED"}
    copy = bpy.data.objects[f"{obj.name}.copy"]
    assert set(attribute(copy, "gs_id", np.int32).tolist()) == ids_a and len(obj.data.vertices) == len(a)
    src = read_splat(sample_ply).splat
    copy_ids = attribute(copy, "gs_id", np.int32)
    assert np.array_equal(attribute(copy, "opacity"), src.opacity_logits[copy_ids])
    # delete: B's points go, the other groups keep their ids
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.saga.selection_delete(group="B") == {"FINISHED"}
    left = set(attribute(obj, "gs_id", np.int32).tolist())
    assert left == set(range(len(a))) - ids_b
    assert members(obj, "A") == ids_a - ids_b
    # separate: A's remaining points move to a new object
    assert bpy.ops.saga.selection_separate(group="A") == {"FINISHED"}
    part = bpy.context.view_layer.objects.active
    assert set(attribute(part, "gs_id", np.int32).tolist()) == ids_a - ids_b
    assert set(attribute(obj, "gs_id", np.int32).tolist()) == left - ids_a


def test_every_editing_operator_is_undoable(extension):
    """Ctrl+Z itself needs a window, which headless Blender has not (ed.undo's poll fails); what makes it work
    is that each operator asks for an undo step and keeps no state outside Blender's data (an edit swaps in
    a new mesh), so the global undo snapshot restores it."""
    for name in ("import_splat", "selection_invert", "selection_combine", "selection_subtract", "selection_delete",
                 "selection_duplicate", "selection_separate", "selection_move"):  # fmt: skip
        op = getattr(bpy.types, f"SAGA_OT_{name}")
        assert "UNDO" in op.bl_options, name


def test_moved_object_exports_its_transform(clean_scene, sample_ply, tmp_path):
    src = sample_ply
    obj = import_file(src, up_axis="Z")
    obj.location = (1.0, 2.0, 3.0)
    bpy.context.view_layer.update()
    out = tmp_path / "moved.ply"
    assert bpy.ops.saga.export_splat(filepath=str(out)) == {"FINISHED"}
    a, b = read_splat(src).splat, read_splat(out).splat
    assert np.allclose(b.means, a.means + np.array([1.0, 2.0, 3.0]), atol=1e-5)
    assert same_bits(a.sh_rest, b.sh_rest) and same_bits(a.quats, b.quats)


def write_bad_files(tmp_path, sample_ply):
    not_splat = tmp_path / "mesh.ply"
    not_splat.write_text("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n"
                         "property float z\nend_header\n0 0 0\n")  # fmt: skip
    data = sample_ply.read_bytes()
    truncated = tmp_path / "truncated.ply"
    truncated.write_bytes(data[: len(data) // 2])
    splat = read_splat(sample_ply).splat
    splat.opacity_logits[5] = np.nan
    from saga_blender.core.splat_io import write_splat

    nan = tmp_path / "nan.ply"
    write_splat(nan, splat)
    return {"not a Gaussian splat": not_splat, "truncated": truncated, "NaN": nan}


def test_bad_files_are_reported_and_leave_nothing_behind(clean_scene, sample_ply, tmp_path):
    for expect, path in write_bad_files(tmp_path, sample_ply).items():
        objects, meshes = len(bpy.data.objects), len(bpy.data.meshes)
        with pytest.raises(RuntimeError) as info:  # bpy.ops turns an ERROR report into RuntimeError
            bpy.ops.saga.import_splat(filepath=str(path))
        assert path.name in str(info.value) and (expect in str(info.value) or expect == "truncated")
        assert (len(bpy.data.objects), len(bpy.data.meshes)) == (objects, meshes)
    # NaN Gaussians can be dropped explicitly
    obj = import_file(tmp_path / "nan.ply", sanitize=True)
    assert len(obj.data.vertices) == 9080 - 1


def test_layout_record_is_json_on_the_mesh(clean_scene, sample_ply):
    obj = import_file(sample_ply)
    layout = json.loads(obj.data["saga_layout"])
    assert layout["property_order"][:3] == ["x", "y", "z"] and layout["dtypes"]["segment_id"] == "<i4"


def test_the_imported_splat_renders_in_cycles(clean_scene, sample_ply, tmp_path):
    from mathutils import Vector

    obj = import_file(sample_ply)
    scene = bpy.context.scene
    bpy.context.view_layer.update()
    world = np.array(obj.matrix_world)
    pts = positions(obj) @ world[:3, :3].T + world[:3, 3]
    centre = Vector(np.median(pts, axis=0).tolist())
    size = float(np.percentile(np.linalg.norm(pts - np.median(pts, axis=0), axis=1), 80))
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    cam.data.clip_end = 100.0 * size
    scene.collection.objects.link(cam)
    cam.location = centre + Vector((0.0, -2.5 * size, 0.0))
    cam.rotation_euler = (1.5708, 0.0, 0.0)  # look along +Y
    scene.camera = cam
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 1
    scene.cycles.device = "CPU"
    scene.render.resolution_x = scene.render.resolution_y = 48
    scene.render.filepath = str(tmp_path / "render.png")
    scene.render.film_transparent = True
    bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(str(tmp_path / "render.png"))
    pixels = np.array(image.pixels[:]).reshape(48, 48, 4)
    covered = pixels[..., 3] > 0.5
    assert covered.mean() > 0.05  # the points are there
    assert pixels[covered, :3].std() > 0.02  # in their colours, not one flat shade
