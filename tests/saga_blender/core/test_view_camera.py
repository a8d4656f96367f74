"""Viewport -> engine camera: projections agree with the OpenGL maths Blender uses, perspective and ortho."""

from __future__ import annotations

import numpy as np
import pytest

from saga_blender.core.view_camera import mouse_to_pixel, pixel_ray, viewport_camera


def gl_perspective(fov_y, aspect, near, far, shift_x=0.0, shift_y=0.0):
    f = 1 / np.tan(fov_y / 2)
    P = np.zeros((4, 4))
    P[0, 0], P[1, 1] = f / aspect, f
    P[0, 2], P[1, 2] = shift_x, shift_y  # off-centre frustum (lens shift)
    P[2, 2], P[2, 3] = (far + near) / (near - far), 2 * far * near / (near - far)
    P[3, 2] = -1
    return P


def gl_ortho(half_w, half_h, near, far, off_x=0.0, off_y=0.0):
    P = np.eye(4)
    P[0, 0], P[1, 1] = 1 / half_w, 1 / half_h
    P[0, 3], P[1, 3] = off_x, off_y
    P[2, 2], P[2, 3] = -2 / (far - near), -(far + near) / (far - near)
    return P


def random_rigid(rng):
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    R = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                  [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                  [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])  # fmt: skip
    M = np.eye(4)
    M[:3, :3], M[:3, 3] = R, rng.normal(size=3)
    return M


def blender_region_xy(P, V, p_world, w, h):
    """Blender's own rule (view3d_utils.location_3d_to_region_2d): NDC of perspective_matrix @ p."""
    clip = P @ V @ np.append(p_world, 1.0)
    ndc = clip[:2] / clip[3]
    return (ndc[0] + 1) * w / 2, (ndc[1] + 1) * h / 2  # origin bottom-left, y up


def engine_uv(cam, p_local):
    pc = cam.viewmat @ np.append(p_local, 1.0)
    if cam.model == "pinhole":
        return cam.K[0, 0] * pc[0] / pc[2] + cam.K[0, 2], cam.K[1, 1] * pc[1] / pc[2] + cam.K[1, 2]
    return cam.K[0, 0] * pc[0] + cam.K[0, 2], cam.K[1, 1] * pc[1] + cam.K[1, 2]


@pytest.mark.parametrize("perspective", [True, False])
def test_engine_camera_projects_like_blender(perspective):
    rng = np.random.default_rng(0)
    w, h = 640, 480
    for _ in range(5):
        V = np.linalg.inv(random_rigid(rng))  # world -> view
        M = random_rigid(rng)
        M[:3, :3] *= rng.uniform(0.5, 2.0, size=3)  # the object may be scaled non-uniformly
        P = (gl_perspective(0.8, w / h, 0.1, 100, *rng.uniform(-0.2, 0.2, 2)) if perspective
             else gl_ortho(3.0, 2.25, 0.1, 100, *rng.uniform(-0.2, 0.2, 2)))  # fmt: skip
        cam = viewport_camera(V, P, w, h, perspective, M)
        assert cam.model == ("pinhole" if perspective else "ortho")
        for _ in range(10):
            p_local = rng.normal(size=3)
            p_world = (M @ np.append(p_local, 1.0))[:3]
            if perspective and (V @ np.append(p_world, 1))[2] > -0.1:
                continue  # behind the camera
            bx, by = blender_region_xy(P, V, p_world, w, h)
            u, v = engine_uv(cam, p_local)
            assert abs(u - bx) < 1e-6 * w and abs(v - (h - by)) < 1e-6 * h


def test_mouse_to_pixel_and_rays():
    assert mouse_to_pixel(0, 0, 480) == (0.5, 479.5)  # bottom-left region pixel -> last engine row
    assert mouse_to_pixel(639, 479, 480) == (639.5, 0.5)
    rng = np.random.default_rng(1)
    V, M = np.linalg.inv(random_rigid(rng)), random_rigid(rng)
    cam = viewport_camera(V, gl_perspective(0.9, 4 / 3, 0.1, 100), 640, 480, True, M)
    origin, direction = pixel_ray(cam, 100.5, 200.5)
    point = origin + 3.0 * direction
    u, v = engine_uv(cam, point)
    assert abs(u - 100.5) < 1e-6 and abs(v - 200.5) < 1e-6
    with pytest.raises(ValueError, match="viewport size"):
        viewport_camera(V, np.eye(4), 0, 10, True)
