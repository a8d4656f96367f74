"""The synthetic labelled table scene (engine/synthetic): labels, geometry, Gaussian shapes, files."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.synthetic import shapes
from engine.synthetic.scene_generator import (
    TABLE_TOP_Z,
    generate_table_scene,
    load_scene,
    load_scene_labels,
    save_scene,
)

N = 20000


@pytest.fixture(scope="module")
def scene():
    return generate_table_scene(N, seed=0)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], 1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], 1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], 1),
        ],
        axis=1,
    )


def min_distance(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    return float(cKDTree(b).query(a)[0].min())


# --- determinism and size -----------------------------------------------------------------------------
def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    paths = [save_scene(generate_table_scene(5000, seed=s), tmp_path / f"run{i}") for i, s in enumerate((3, 3, 4))]
    for k in range(2):  # .ply, then labels .npz
        assert paths[0][k].read_bytes() == paths[1][k].read_bytes()
    assert paths[0][0].read_bytes() != paths[2][0].read_bytes()


@pytest.mark.parametrize("n", [22, 1000, 12345, N, 100_000])
def test_count_is_exact(n):
    scene = generate_table_scene(n, seed=1)
    assert len(scene.splat) == n
    assert scene.object_id.shape == scene.part_id.shape == (n,)
    assert scene.normals.shape == (n, 3)
    assert np.bincount(scene.part_id, minlength=len(scene.part_names)).min() >= 1


def test_too_few_gaussians_is_refused():
    with pytest.raises(ValueError, match="number of parts"):
        generate_table_scene(5)


# --- labels ---------------------------------------------------------------------------------------------
def test_objects_and_parts(scene):
    assert scene.object_names[:2] == ["background", "table"]
    assert len(scene.object_names) - 2 >= 6  # objects on the table
    for name in ("mug", "lamp", "books", "bowl", "plate", "apple", "vase", "die", "pen"):
        assert name in scene.object_names
    assert len(set(scene.part_names)) == len(scene.part_names)
    assert all(
        p.split("/")[0] == scene.object_names[o] for p, o in zip(scene.part_names, scene.part_object, strict=True)
    )
    for obj, parts in {
        "mug": ["body", "handle"],
        "lamp": ["base", "pole", "shade"],
        "books": ["book_bottom", "book_middle", "book_top"],
        "table": ["top", "leg_front_left", "leg_front_right", "leg_back_left", "leg_back_right"],
    }.items():
        got = [
            p.split("/")[1]
            for p, o in zip(scene.part_names, scene.part_object, strict=True)
            if o == scene.object_index(obj)
        ]
        assert got == parts


def test_label_arrays(scene):
    assert scene.object_id.dtype == scene.part_id.dtype == scene.part_object.dtype == np.int32
    assert scene.part_object.shape == (len(scene.part_names),)
    assert scene.part_rgb.shape == (len(scene.part_names), 3)
    assert np.array_equal(scene.part_object[scene.part_id], scene.object_id)
    assert np.bincount(scene.object_id, minlength=len(scene.object_names)).min() > 0
    assert np.bincount(scene.part_id, minlength=len(scene.part_names)).min() >= 16


def test_without_floor_ids_start_at_the_table():
    scene = generate_table_scene(3000, seed=0, floor=False)
    assert scene.object_names[0] == "table" and "background" not in scene.object_names
    assert np.array_equal(scene.part_object[scene.part_id], scene.object_id)
    assert len(scene.splat) == 3000


# --- colours ----------------------------------------------------------------------------------------------
def test_two_objects_share_a_base_colour(scene):
    rgb = scene.splat.base_rgb

    def mean(mask):
        return rgb[mask].mean(axis=0)

    red_mug = mean(scene.part_id == scene.part_index("mug/body"))
    red_book = mean(scene.part_id == scene.part_index("books/book_top"))
    assert np.abs(red_mug - red_book).max() < 0.05
    bowl = mean(scene.object_id == scene.object_index("bowl"))
    plate = mean(scene.object_id == scene.object_index("plate"))
    assert np.abs(bowl - plate).max() < 0.05
    # ...while other parts are distinguishable from the red
    other = mean(scene.part_id == scene.part_index("books/book_middle"))
    assert np.abs(other - red_book).max() > 0.2


def test_colours_are_noisy_and_in_range(scene):
    rgb = scene.splat.base_rgb
    assert rgb.min() >= -1e-6 and rgb.max() <= 1 + 1e-6
    die = rgb[scene.object_id == scene.object_index("die")]
    assert 0.005 < die.std(axis=0).mean() < 0.1


# --- geometry ---------------------------------------------------------------------------------------------
def test_up_axis_table_height_and_extent(scene):
    assert np.array_equal(scene.up, [0.0, 0.0, 1.0])
    means = scene.splat.means
    top = means[scene.part_id == scene.part_index("table/top")]
    assert abs(top[:, 2].max() - TABLE_TOP_Z) < 0.003
    fg = scene.object_id >= 1
    extent = means[fg].max(axis=0) - means[fg].min(axis=0)
    assert 1.0 < extent[:2].max() < 1.6
    assert np.all(scene.bbox_min <= means.min(axis=0)) and np.all(scene.bbox_max >= means.max(axis=0))
    assert np.allclose(scene.center, (means[fg].min(axis=0) + means[fg].max(axis=0)) / 2, atol=1e-6)
    for name in scene.object_names[2:]:  # every object stands on the table and is 2-30 cm big
        pts = means[scene.object_id == scene.object_index(name)]
        assert abs(pts[:, 2].min() - TABLE_TOP_Z) < 0.003, name
        assert 0.02 < np.ptp(pts, axis=0).max() < 0.30, name


def test_parts_touch(scene):
    means = scene.splat.means

    def part(name):
        return means[scene.part_id == scene.part_index(name)]

    assert min_distance(part("mug/handle"), part("mug/body")) < 0.005
    dense = generate_table_scene(100_000, seed=0)

    def dpart(name):
        return dense.splat.means[dense.part_id == dense.part_index(name)]

    for a, b in [
        ("mug/body", "mug/handle"),
        ("lamp/base", "lamp/pole"),
        ("lamp/pole", "lamp/shade"),
        ("books/book_bottom", "books/book_middle"),
        ("books/book_middle", "books/book_top"),
        ("apple/body", "apple/stem"),
        ("pen/barrel", "pen/cap"),
        ("table/top", "table/leg_front_left"),
    ]:
        assert min_distance(dpart(a), dpart(b)) < 0.003, (a, b)


def test_objects_are_apart(scene):
    means = scene.splat.means
    names = scene.object_names[2:]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pa = means[scene.object_id == scene.object_index(a)]
            pb = means[scene.object_id == scene.object_index(b)]
            assert min_distance(pa, pb) > 0.02, (a, b)


# --- Gaussian shapes --------------------------------------------------------------------------------------
def test_quats_scales_opacities(scene):
    splat = scene.splat
    assert np.allclose(np.linalg.norm(splat.quats, axis=1), 1.0, atol=1e-5)
    scales = splat.scales
    assert np.all(scales > 0)
    assert np.all(scales[:, 2] < scales[:, :2].min(axis=1))  # scale_2 is along the normal
    assert np.all(scales[:, 2] <= 0.5001 * scales[:, :2].min(axis=1))
    # The rotation's third column is the surface normal.
    rot = quat_to_matrix(splat.quats.astype(np.float64))
    assert np.abs(np.sum(rot[:, :, 2] * scene.normals, axis=1)).min() > 0.999
    assert np.allclose(np.linalg.norm(scene.normals, axis=1), 1.0, atol=1e-5)
    # A realistic spread: log-normal scales, opacities mostly high.
    log_t = np.log(scales[:, 0])
    assert log_t.std() > 0.3
    op = splat.opacities
    assert 0.75 < np.mean(op > 0.6) < 0.95 and op.min() > 0.0 and op.max() < 1.0
    assert splat.sh_degree == 0


def test_sh_degree_option():
    scene = generate_table_scene(2000, seed=0, sh_degree=3)
    assert scene.splat.sh_rest.shape == (2000, 15, 3)
    assert 0 < np.abs(scene.splat.sh_rest).mean() < 0.05


def test_surface_quats_align_z_with_the_normal():
    rng = np.random.default_rng(0)
    normals = rng.normal(size=(3000, 3))
    normals[:3] = [[0, 0, 1], [0, 0, -1], [1, 0, 0]]
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    q = shapes.surface_quats(rng, normals)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0) and np.all(q[:, 0] >= 0)
    rot = quat_to_matrix(q)
    assert np.allclose(rot[:, :, 2], normals, atol=1e-9)
    angle = np.arctan2(rot[3:, 2, 0], rot[3:, 2, 1])  # tangent directions are spread, not aligned
    assert np.histogram(angle, bins=8)[0].min() > 100


# --- surface samplers -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("surface", "area"),
    [
        (shapes.cylinder(0.1, 0.3), 2 * np.pi * 0.1 * 0.3 + 2 * np.pi * 0.01),
        (shapes.cylinder(0.1, 0.3, bottom=False, top=False), 2 * np.pi * 0.1 * 0.3),
        (shapes.cone(0.3, 0.4), np.pi * 0.3 * 0.5 + np.pi * 0.09),
        (shapes.disc(0.2, 0.1), np.pi * (0.04 - 0.01)),
        (shapes.Box((0.1, 0.2, 0.3)), 2 * (0.02 + 0.03 + 0.06)),
        (shapes.Sphere(0.5), 4 * np.pi * 0.25),
        (shapes.Sphere(0.5, z_min=0.0), 2 * np.pi * 0.25),
        (shapes.Torus(0.3, 0.1), 4 * np.pi**2 * 0.03),
        (shapes.Torus(0.3, 0.1, (0.0, np.pi)), 2 * np.pi**2 * 0.03),
        (shapes.Rect(2.0, 3.0), 6.0),
    ],
)
def test_sampler_area_and_unit_normals(surface, area):
    assert surface.area() == pytest.approx(area, rel=1e-9)
    pts, nrm = surface.sample(np.random.default_rng(0), 5000)
    assert pts.shape == nrm.shape == (5000, 3)
    assert np.allclose(np.linalg.norm(nrm, axis=1), 1.0)


def test_samplers_are_area_weighted_with_outward_normals():
    rng = np.random.default_rng(0)
    # Cone side: the lower half (in height) holds 3/4 of the lateral area.
    pts, nrm = shapes.cone(0.3, 0.4, bottom=False).sample(rng, 200_000)
    assert np.mean(pts[:, 2] < 0.2) == pytest.approx(0.75, abs=0.01)
    assert np.all(np.sum(nrm[:, :2] * pts[:, :2], axis=1) > 0)  # outward
    # Torus: the outer half (cos(theta) > 0) is the larger.
    pts, nrm = shapes.Torus(0.3, 0.1).sample(rng, 200_000)
    expect = (np.pi * 0.3 + 2 * 0.1) / (2 * np.pi * 0.3)
    assert np.mean(np.sum(nrm[:, :2] * pts[:, :2], axis=1) > 0) == pytest.approx(expect, abs=0.01)
    rho = np.hypot(pts[:, 0], pts[:, 1])
    assert np.allclose(np.hypot(rho - 0.3, pts[:, 2]), 0.1)
    # A cup shell: outer wall normals outward, inner wall normals into the cavity, rim up.
    cup = shapes.shell([(0.0, 0.0), (0.05, 0.0), (0.05, 0.1)], 0.005)
    pts, nrm = cup.sample(rng, 50_000)
    rho = np.hypot(pts[:, 0], pts[:, 1])
    radial = np.sum(nrm[:, :2] * pts[:, :2], axis=1) / np.maximum(rho, 1e-12)
    wall = (pts[:, 2] > 0.01) & (pts[:, 2] < 0.099)
    assert np.all(radial[wall & (rho > 0.0499)] > 0.99) and np.all(radial[wall & (rho < 0.0451)] < -0.99)
    rim = (pts[:, 2] > 0.1 - 1e-9) & (rho > 0.0451) & (rho < 0.0499)
    assert rim.sum() > 10 and np.all(nrm[rim][:, 2] > 0.99)
    # Placed: rotation and translation move points and normals.
    placed = shapes.Placed(shapes.Rect(1, 1), shapes.rotation("x", np.pi / 2), (0, 0, 2))
    pts, nrm = placed.sample(rng, 100)
    assert np.allclose(nrm, [0, -1, 0]) and np.allclose(pts[:, 1], 0) and np.all(np.abs(pts[:, 2] - 2) <= 0.5)


# --- files ------------------------------------------------------------------------------------------------
def test_save_load_round_trip(scene, tmp_path):
    ply, labels = save_scene(scene, tmp_path / "out", name="table")
    assert ply.name == "table.ply" and labels.name == "table_labels.npz"
    back = load_scene(tmp_path / "out", name="table")
    for attr in ("means", "quats", "log_scales", "opacity_logits", "sh_dc", "sh_rest"):
        assert np.array_equal(getattr(back.splat, attr), getattr(scene.splat, attr)), attr
    for attr in ("object_id", "part_id", "part_object", "normals", "part_rgb", "up", "center", "bbox_min"):
        assert np.array_equal(getattr(back, attr), getattr(scene, attr)), attr
        assert getattr(back, attr).dtype == getattr(scene, attr).dtype, attr
    assert back.object_names == scene.object_names and back.part_names == scene.part_names
    assert back.radius == scene.radius and back.table_top_z == scene.table_top_z
    via_ply = load_scene_labels(ply)
    assert np.array_equal(via_ply["part_id"], scene.part_id) and via_ply["labels_version"] == 1
    with np.load(labels, allow_pickle=False) as data:  # plain npz, no pickles
        assert {"object_id", "part_id", "object_names", "part_names", "part_object"} <= set(data.files)


@pytest.mark.slow
def test_one_million_generation_time(capsys):
    start = time.perf_counter()
    scene = generate_table_scene(1_000_000, seed=0)
    elapsed = time.perf_counter() - start
    assert len(scene.splat) == 1_000_000
    with capsys.disabled():
        print(f"\n[synthetic] generate_table_scene(1_000_000): {elapsed:.2f} s")
