"""Axis conversions: OpenGL/Blender <-> OpenCV, Blender camera data <-> (viewmat, K), up-axis matrices."""

from __future__ import annotations

import numpy as np
import pytest

from saga_blender.core import axes

FITS = ("AUTO", "HORIZONTAL", "VERTICAL")


def _random_rigid(rng, n=None):
    shape = () if n is None else (n,)
    q = rng.normal(size=(*shape, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.zeros((*shape, 4, 4))
    m[..., :3, :3] = np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )
    m[..., :3, 3] = rng.normal(scale=5, size=(*shape, 3))
    m[..., 3, 3] = 1
    return m


def blender_project(cam: dict, point: np.ndarray) -> np.ndarray:
    """Pixel (x right, y down from the top-left corner) of a world point seen by a Blender camera.

    Written from Blender's view-plane computation (BKE_camera_params_compute_viewplane, clip_start = 1),
    independently of the K formula under test: the camera looks down -Z with +Y up.
    """
    rx, ry, aspx, aspy = cam["res_x"], cam["res_y"], cam["pixel_aspect_x"], cam["pixel_aspect_y"]
    ycor = aspy / aspx
    sensor = cam["sensor_height_mm"] if cam["sensor_fit"] == "VERTICAL" else cam["sensor_width_mm"]
    fit = cam["sensor_fit"]
    if fit == "AUTO":
        fit = "HORIZONTAL" if aspx * rx >= aspy * ry else "VERTICAL"
    viewfac = rx if fit == "HORIZONTAL" else ycor * ry
    pixsize = sensor / cam["lens_mm"] / viewfac
    dx, dy = cam["shift_x"] * viewfac, cam["shift_y"] * viewfac
    xmin, xmax = (-0.5 * rx + dx) * pixsize, (0.5 * rx + dx) * pixsize
    ymin, ymax = (-0.5 * ycor * ry + dy) * pixsize, (0.5 * ycor * ry + dy) * pixsize
    p = np.linalg.inv(cam["matrix_world"]) @ np.append(point, 1.0)
    assert p[2] < 0, "point behind the Blender camera"
    X, Y = p[0] / -p[2], p[1] / -p[2]
    return np.array([(X - xmin) / (xmax - xmin) * rx, (ymax - Y) / (ymax - ymin) * ry])


def opencv_project(viewmat, K, point):
    p = viewmat[:3, :3] @ point + viewmat[:3, 3]
    assert p[2] > 0
    return (K @ (p / p[2]))[:2]


def test_opengl_opencv_inverse_of_each_other():
    rng = np.random.default_rng(0)
    c2w = _random_rigid(rng, 10)
    cv = axes.opengl_to_opencv_c2w(c2w)
    np.testing.assert_allclose(axes.opencv_to_opengl_c2w(cv), c2w, atol=1e-14)
    np.testing.assert_allclose(axes.opengl_to_opencv_c2w(axes.opencv_to_opengl_c2w(c2w)), c2w, atol=1e-14)
    # same position, y and z camera axes flipped
    np.testing.assert_allclose(cv[:, :3, 3], c2w[:, :3, 3])
    np.testing.assert_allclose(cv[:, :3, 1:3], -c2w[:, :3, 1:3])
    vm = axes.opengl_c2w_to_viewmat(c2w)
    np.testing.assert_allclose(vm, np.linalg.inv(cv), atol=1e-12)
    np.testing.assert_allclose(axes.viewmat_to_opengl_c2w(vm), c2w, atol=1e-12)
    np.testing.assert_allclose(axes.rigid_inverse(c2w), np.linalg.inv(c2w), atol=1e-12)
    np.testing.assert_allclose(axes.c2w_to_viewmat(axes.viewmat_to_c2w(vm)), vm, atol=1e-12)


def _random_blender(rng, fit, res, aspect=(1.0, 1.0)):
    return {
        "matrix_world": _random_rigid(rng),
        "lens_mm": rng.uniform(15, 120),
        "sensor_width_mm": rng.uniform(10, 40),
        "sensor_height_mm": rng.uniform(10, 40),
        "sensor_fit": fit,
        "shift_x": rng.uniform(-0.4, 0.4),
        "shift_y": rng.uniform(-0.4, 0.4),
        "res_x": res[0],
        "res_y": res[1],
        "pixel_aspect_x": aspect[0],
        "pixel_aspect_y": aspect[1],
    }


def _to_opencv(cam):
    return axes.blender_camera_to_opencv(
        cam["matrix_world"], cam["lens_mm"], cam["sensor_width_mm"], cam["sensor_height_mm"], cam["sensor_fit"],
        cam["shift_x"], cam["shift_y"], cam["res_x"], cam["res_y"], cam["pixel_aspect_x"] / cam["pixel_aspect_y"],
    )  # fmt: skip


RESOLUTIONS = [(1920, 1080), (1080, 1920), (512, 512), (640, 481)]
ASPECTS = [(1.0, 1.0), (1.5, 1.0), (1.0, 1.25)]


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("res", RESOLUTIONS)
@pytest.mark.parametrize("fit", FITS)
def test_projection_matches_blender_convention(fit, res, aspect):
    rng = np.random.default_rng(hash((fit, res, aspect)) % 2**32)
    for _ in range(5):
        cam = _random_blender(rng, fit, res, aspect)
        viewmat, K = _to_opencv(cam)
        c2w_gl = cam["matrix_world"]
        for _ in range(5):  # points in front of the camera (along Blender's -Z)
            local = np.array([*rng.uniform(-1, 1, 2), -rng.uniform(2, 20)])
            world = (c2w_gl @ np.append(local, 1.0))[:3]
            np.testing.assert_allclose(opencv_project(viewmat, K, world), blender_project(cam, world), atol=1e-7)


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("res", RESOLUTIONS)
@pytest.mark.parametrize("fit", FITS)
def test_round_trips(fit, res, aspect):
    rng = np.random.default_rng(hash((fit, res, aspect, 1)) % 2**32)
    for _ in range(5):
        # OpenCV -> Blender -> OpenCV: exact
        viewmat = np.linalg.inv(_random_rigid(rng))
        pa = aspect[0] / aspect[1]
        fx = rng.uniform(200, 3000)
        K = np.array([[fx, 0, rng.uniform(0, res[0])], [0, fx * pa, rng.uniform(0, res[1])], [0, 0, 1]])
        cam = axes.opencv_to_blender_camera(viewmat, K, res[0], res[1], rng.uniform(10, 40), sensor_fit=fit)
        assert cam["pixel_aspect_x"] >= 1 and cam["pixel_aspect_y"] >= 1
        vm2, K2 = _to_opencv(cam)
        np.testing.assert_allclose(vm2, viewmat, atol=1e-9)
        np.testing.assert_allclose(K2, K, rtol=1e-12, atol=1e-9)
        # the Blender camera it makes sees points where the OpenCV camera does
        world = np.linalg.inv(viewmat)[:3] @ np.array([0.3, -0.2, 4.0, 1.0])
        np.testing.assert_allclose(blender_project(cam, world), opencv_project(viewmat, K, world), atol=1e-7)

        # Blender -> OpenCV -> Blender: same settings back (sensor height only matters for VERTICAL,
        # where the inverse derives it from the width and the image aspect)
        b = _random_blender(rng, fit, res, aspect)
        if fit == "VERTICAL":
            b["sensor_height_mm"] = b["sensor_width_mm"] * (res[1] * aspect[1] / aspect[0]) / res[0]
        vm, K = _to_opencv(b)
        back = axes.opencv_to_blender_camera(vm, K, res[0], res[1], b["sensor_width_mm"], sensor_fit=fit)
        np.testing.assert_allclose(back["matrix_world"], b["matrix_world"], atol=1e-9)
        for key in ("lens_mm", "shift_x", "shift_y", "sensor_height_mm", "pixel_aspect_x", "pixel_aspect_y"):
            if key != "sensor_height_mm" or fit == "VERTICAL":
                assert back[key] == pytest.approx(b[key], rel=1e-10, abs=1e-12), key


def test_known_blender_values():
    eye = np.eye(4)
    # default camera: 50 mm, 36 mm sensor, 1920x1080, AUTO -> horizontal fit
    _, K = axes.blender_camera_to_opencv(eye, 50, 36, 24, "AUTO", 0.0, 0.0, 1920, 1080)
    np.testing.assert_allclose(K, [[50 / 36 * 1920, 0, 960], [0, 50 / 36 * 1920, 540], [0, 0, 1]])
    # portrait with AUTO: the sensor *width* spans the larger (vertical) dimension
    _, K = axes.blender_camera_to_opencv(eye, 50, 36, 24, "AUTO", 0.1, 0.1, 1080, 1920)
    f = 50 / 36 * 1920
    np.testing.assert_allclose(K, [[f, 0, 540 - 192], [0, f, 960 + 192], [0, 0, 1]])
    # shifts are in units of the larger dimension; +shift_y moves the view up, so the axis moves down
    _, K = axes.blender_camera_to_opencv(eye, 50, 36, 24, "AUTO", 0.1, 0.1, 1920, 1080)
    assert (K[0, 2], K[1, 2]) == pytest.approx((960 - 192, 540 + 192))
    # HORIZONTAL fit of a portrait image: the width spans 36 mm, shifts in units of the width
    _, K = axes.blender_camera_to_opencv(eye, 50, 36, 24, "HORIZONTAL", 0.1, 0.0, 1080, 1920)
    assert K[0, 0] == pytest.approx(50 / 36 * 1080) and K[0, 2] == pytest.approx(540 - 108)
    # VERTICAL fit: the sensor height spans the image height
    _, K = axes.blender_camera_to_opencv(eye, 50, 36, 24, "VERTICAL", 0.0, 0.0, 1920, 1080)
    assert K[1, 1] == pytest.approx(50 / 24 * 1080)


def test_blender_camera_looks_down_minus_z():
    vm, K = axes.blender_camera_to_opencv(np.eye(4), 50, 36, 24, "AUTO", 0.0, 0.0, 100, 100)
    c = K[:2, 2]
    assert opencv_project(vm, K, np.array([0, 0, -5.0])) == pytest.approx(c)
    u, v = opencv_project(vm, K, np.array([1.0, 1.0, -5.0]))  # right and up in Blender's view
    assert u > c[0] and v < c[1]
    # a scaled camera object projects like the unscaled one
    scaled = np.diag([2.0, 2.0, 2.0, 1.0])
    vm2, _ = axes.blender_camera_to_opencv(scaled, 50, 36, 24, "AUTO", 0.0, 0.0, 100, 100)
    np.testing.assert_allclose(vm2, vm)


def test_object_matrix():
    rng = np.random.default_rng(5)
    obj = axes.up_axis_matrix("-Y_UP")
    obj[:3, 3] = [1, 2, 3]
    cam = _random_blender(rng, "AUTO", (800, 600))
    vm_world, K = _to_opencv(cam)
    vm_obj, _ = axes.blender_camera_to_opencv(
        cam["matrix_world"], cam["lens_mm"], cam["sensor_width_mm"], cam["sensor_height_mm"], "AUTO",
        cam["shift_x"], cam["shift_y"], 800, 600, object_matrix=obj,
    )  # fmt: skip
    local = np.linalg.inv(obj) @ np.append(cam["matrix_world"][:3] @ [0.1, 0.2, -3.0, 1.0], 1.0)
    world = obj @ local
    np.testing.assert_allclose(opencv_project(vm_obj, K, local[:3]), opencv_project(vm_world, K, world[:3]))
    back = axes.opencv_to_blender_camera(vm_obj, K, 800, 600, cam["sensor_width_mm"], object_matrix=obj)
    np.testing.assert_allclose(back["matrix_world"], cam["matrix_world"], atol=1e-9)


@pytest.mark.parametrize("up", axes.UP_AXES)
def test_up_axis_matrices(up):
    m = axes.up_axis_matrix(up)
    r = m[:3, :3]
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-15)
    assert np.linalg.det(r) == pytest.approx(1.0)
    sign = -1.0 if up.startswith("-") else 1.0
    src = sign * np.eye(3)["XYZ".index(up.lstrip("-")[0])]
    np.testing.assert_allclose(r @ src, [0, 0, 1], atol=1e-15)
    np.testing.assert_array_equal(m[3], [0, 0, 0, 1])
    np.testing.assert_array_equal(m[:3, 3], 0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="up axis"):
        axes.up_axis_matrix("UP")
    with pytest.raises(ValueError, match="sensor_fit"):
        axes.blender_intrinsics(50, 36, 24, "FIT", 0, 0, 10, 10)
    with pytest.raises(ValueError, match="skew"):
        axes.opencv_to_blender_camera(np.eye(4), np.array([[1.0, 0.5, 0], [0, 1, 0], [0, 0, 1]]), 10, 10)
