"""Blender's 3D viewport as an engine camera, and mouse positions as engine pixels (no bpy).

A viewport gives ``view_matrix`` (world -> view, OpenGL axes: x right, y up, looking down -z), ``window_matrix``
(the OpenGL projection), the region size, and whether it is a perspective view. The engine wants OpenCV
cameras (x right, y down, looking down +z), a 3x3 K in pixels, and pixel (0, 0) at the top-left corner.

Perspective: with P the window matrix, a view-space point projects to region pixels
    x = (P00 X / Z - P02 + 1) W / 2 and, measured from the top, v = (1 + P12) H / 2 + P11 H / 2 * Y / Z
in OpenCV coordinates (X, Y, Z) = (x, -y, -z); so fx = P00 W / 2, cx = (1 - P02) W / 2, fy = P11 H / 2,
cy = (1 + P12) H / 2. Orthographic: u = fx X + cx with fx = P00 W / 2, cx = (1 + P03) W / 2, fy = P11 H / 2,
cy = (1 - P13) H / 2.

The splat lives in its object's local frame, so the engine camera is ``view_matrix @ matrix_world`` converted to
OpenCV: clicks stay right when the object has been moved, rotated or scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class EngineCamera:
    viewmat: np.ndarray  # [4, 4] object-local -> OpenCV camera
    K: np.ndarray  # [3, 3]
    width: int
    height: int
    model: str  # "pinhole" or "ortho"

    def to_json(self) -> dict:
        return {"viewmat": self.viewmat.tolist(), "K": self.K.tolist(), "width": self.width, "height": self.height,
                "camera_model": self.model}  # fmt: skip


def viewport_camera(view_matrix, window_matrix, width: int, height: int, is_perspective: bool,
                    matrix_world=None) -> EngineCamera:  # fmt: skip
    """The engine camera of a viewport region looking at an object with ``matrix_world`` (identity if None)."""
    V = np.asarray(view_matrix, np.float64).reshape(4, 4)
    P = np.asarray(window_matrix, np.float64).reshape(4, 4)
    M = np.eye(4) if matrix_world is None else np.asarray(matrix_world, np.float64).reshape(4, 4)
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        raise ValueError(f"bad viewport size {w}x{h}")
    if is_perspective:
        fx, fy = P[0, 0] * w / 2, P[1, 1] * h / 2
        cx, cy = (1 - P[0, 2]) * w / 2, (1 + P[1, 2]) * h / 2
        model = "pinhole"
    else:
        fx, fy = P[0, 0] * w / 2, P[1, 1] * h / 2
        cx, cy = (1 + P[0, 3]) * w / 2, (1 - P[1, 3]) * h / 2
        model = "ortho"
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    return EngineCamera(GL_TO_CV @ V @ M, K, w, h, model)


def mouse_to_pixel(mouse_x: float, mouse_y: float, height: int) -> tuple[float, float]:
    """Region mouse coordinates (origin bottom-left, y up) -> engine pixel coordinates (origin top-left):
    the centre of the pixel under the mouse."""
    return float(mouse_x) + 0.5, float(height) - float(mouse_y) - 0.5


def pixel_ray(camera: EngineCamera, u: float, v: float) -> tuple[np.ndarray, np.ndarray]:
    """(origin, unit direction) in the object's local frame of the ray through engine pixel (u, v): what the
    engine's camera sees there (used to check the conversion against Blender's own ray maths)."""
    K, c2w = camera.K, np.linalg.inv(camera.viewmat)
    x, y = (u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1]
    if camera.model == "pinhole":
        origin_c, dir_c = np.zeros(3), np.array([x, y, 1.0])
    else:
        origin_c, dir_c = np.array([x, y, 0.0]), np.array([0.0, 0.0, 1.0])
    origin = c2w[:3, :3] @ origin_c + c2w[:3, 3]
    direction = c2w[:3, :3] @ dir_c
    return origin, direction / np.linalg.norm(direction)
