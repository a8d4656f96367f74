"""Every axis and camera-model conversion of the project, in one bpy-free (numpy only) module.

Camera axes
    OpenCV (the engine, COLMAP, gsplat): x right, y down, z forward (the viewing direction).
    OpenGL (NeRF / instant-ngp / nerfstudio ``transform_matrix``) and Blender camera objects:
    x right, y up, the camera looks down -z. Both differ from OpenCV by ``diag(1, -1, -1)`` applied on
    the *camera* side: ``c2w_opencv = c2w_opengl @ diag(1, -1, -1, 1)`` (and the same matrix back,
    being its own inverse).

Matrices
    ``viewmat`` is world-to-camera 4x4 (OpenCV axes), ``c2w`` camera-to-world 4x4. All functions
    accept stacks ``[..., 4, 4]`` where noted.

Blender camera model (verified against Blender's ``BKE_camera_params_compute_viewplane`` and
``BKE_camera_sensor_fit`` / ``BKE_camera_sensor_size`` in ``source/blender/blenkernel/intern/camera.cc``)
    * sensor fit ``AUTO`` resolves to HORIZONTAL when ``pixel_aspect_x * res_x >= pixel_aspect_y * res_y``
      and VERTICAL otherwise; the sensor size used is ``sensor_height`` only for an explicit
      ``VERTICAL`` fit, otherwise ``sensor_width`` (so with AUTO and a portrait image the sensor
      *width* spans the image *height*).
    * ``viewfac`` = ``res_x`` for a horizontal fit, ``ycor * res_y`` for a vertical one, with
      ``ycor = pixel_aspect_y / pixel_aspect_x``; ``fx = lens * viewfac / sensor_size``, ``fy = fx / ycor``.
    * ``shift_x`` / ``shift_y`` move the view plane by ``shift * viewfac`` pixels (units of the fitted
      dimension: for AUTO, the larger image dimension) towards +x (right) / +y (up). The optical axis
      therefore lands at ``cx = res_x / 2 - shift_x * viewfac`` and, with image y pointing down,
      ``cy = res_y / 2 + shift_y * viewfac / ycor``.
    * The view plane spans pixels ``[-res/2, res/2]`` about the axis: pixel ``i`` covers ``[i, i + 1]``
      and its centre is ``i + 0.5``, the same continuous-pixel convention as COLMAP and gsplat (centred
      principal point ``cx = width / 2``).
    ``res_x`` / ``res_y`` here are the rendered pixel counts (``resolution_* * resolution_percentage /
    100``); ``pixel_aspect = render.pixel_aspect_x / render.pixel_aspect_y``. Object scale in a camera's
    ``matrix_world`` is ignored (Blender normalises it for the view too).

Up axis
    Import keeps file coordinates in the data and puts the up-axis correction in the object transform
    (``up_axis_matrix``), so that exporting an unmoved object writes back the same numbers.
"""

from __future__ import annotations

import numpy as np

#: diag(1, -1, -1) on the camera axes, 4x4: OpenGL/Blender camera axes <-> OpenCV camera axes.
FLIP_YZ = np.diag([1.0, -1.0, -1.0, 1.0])

SENSOR_FITS = ("AUTO", "HORIZONTAL", "VERTICAL")
UP_AXES = ("Z_UP", "-Z_UP", "Y_UP", "-Y_UP", "X_UP", "-X_UP")


# --- camera axes -------------------------------------------------------------------------------------
def opengl_to_opencv_c2w(c2w: np.ndarray) -> np.ndarray:
    """Camera-to-world [..., 4, 4] with OpenGL/Blender camera axes -> the same camera with OpenCV axes."""
    return np.asarray(c2w, np.float64) @ FLIP_YZ


def opencv_to_opengl_c2w(c2w: np.ndarray) -> np.ndarray:
    """Camera-to-world [..., 4, 4] with OpenCV camera axes -> the same camera with OpenGL/Blender axes."""
    return np.asarray(c2w, np.float64) @ FLIP_YZ


def rigid_inverse(m: np.ndarray) -> np.ndarray:
    """Inverse of rigid transforms [..., 4, 4] (rotation + translation), exact and cheap."""
    m = np.asarray(m, np.float64)
    r = np.swapaxes(m[..., :3, :3], -1, -2)
    out = np.zeros_like(m)
    out[..., :3, :3] = r
    out[..., :3, 3] = -(r @ m[..., :3, 3:4])[..., 0]
    out[..., 3, 3] = 1.0
    return out


# The four below use a general inverse, so that files whose rotations are orthonormal only to float32
# precision (real captures) keep their camera centres exactly through a round trip.
def viewmat_to_c2w(viewmat: np.ndarray) -> np.ndarray:
    """World-to-camera [..., 4, 4] -> camera-to-world (same camera axes)."""
    return np.linalg.inv(np.asarray(viewmat, np.float64))


def c2w_to_viewmat(c2w: np.ndarray) -> np.ndarray:
    """Camera-to-world [..., 4, 4] -> world-to-camera (same camera axes)."""
    return np.linalg.inv(np.asarray(c2w, np.float64))


def opengl_c2w_to_viewmat(c2w_gl: np.ndarray) -> np.ndarray:
    """NeRF/Blender camera-to-world (OpenGL axes) [..., 4, 4] -> engine viewmat (OpenCV world-to-camera)."""
    return np.linalg.inv(opengl_to_opencv_c2w(c2w_gl))


def viewmat_to_opengl_c2w(viewmat: np.ndarray) -> np.ndarray:
    """Engine viewmat (OpenCV world-to-camera) [..., 4, 4] -> camera-to-world with OpenGL/Blender axes."""
    return opencv_to_opengl_c2w(np.linalg.inv(np.asarray(viewmat, np.float64)))


def _without_scale(matrix_world: np.ndarray) -> np.ndarray:
    m = np.array(matrix_world, np.float64)
    if m.shape != (4, 4):
        raise ValueError(f"matrix_world has shape {m.shape}, expected 4x4")
    norms = np.linalg.norm(m[:3, :3], axis=0)
    if np.any(norms < 1e-12):
        raise ValueError("matrix_world has a zero scale; a camera needs a rotation")
    m[:3, :3] /= norms
    return m


# --- Blender camera <-> OpenCV -------------------------------------------------------------------------
def _resolve_fit(sensor_fit: str, res_x: float, res_y: float, pixel_aspect: float) -> str:
    if sensor_fit not in SENSOR_FITS:
        raise ValueError(f"sensor_fit {sensor_fit!r} is not one of {SENSOR_FITS}")
    if sensor_fit == "AUTO":
        return "HORIZONTAL" if pixel_aspect * res_x >= res_y else "VERTICAL"
    return sensor_fit


def _viewfac(fit: str, res_x: float, res_y: float, pixel_aspect: float) -> float:
    """Pixels per unit of shift / per sensor size (Blender's ``viewfac``); ycor = 1 / pixel_aspect."""
    return float(res_x) if fit == "HORIZONTAL" else float(res_y) / pixel_aspect


def blender_intrinsics(
    lens_mm: float,
    sensor_width_mm: float,
    sensor_height_mm: float,
    sensor_fit: str,
    shift_x: float,
    shift_y: float,
    res_x: int,
    res_y: int,
    pixel_aspect: float = 1.0,
) -> np.ndarray:
    """3x3 OpenCV intrinsics K of a Blender perspective camera (see the module docstring)."""
    if lens_mm <= 0 or pixel_aspect <= 0 or res_x <= 0 or res_y <= 0:
        raise ValueError("lens, pixel aspect and resolution must be positive")
    fit = _resolve_fit(sensor_fit, res_x, res_y, pixel_aspect)
    sensor = sensor_height_mm if sensor_fit == "VERTICAL" else sensor_width_mm  # AUTO uses the width
    if sensor <= 0:
        raise ValueError("sensor size must be positive")
    viewfac = _viewfac(fit, res_x, res_y, pixel_aspect)
    fx = lens_mm * viewfac / sensor
    fy = fx * pixel_aspect
    cx = res_x / 2.0 - shift_x * viewfac
    cy = res_y / 2.0 + shift_y * viewfac * pixel_aspect
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def blender_camera_to_opencv(
    matrix_world: np.ndarray,
    lens_mm: float,
    sensor_width_mm: float,
    sensor_height_mm: float,
    sensor_fit: str,
    shift_x: float,
    shift_y: float,
    res_x: int,
    res_y: int,
    pixel_aspect: float = 1.0,
    *,
    object_matrix: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A Blender camera -> (viewmat 4x4 OpenCV world-to-camera, K 3x3).

    ``matrix_world`` is the camera object's world matrix (camera looks down -Z, +Y up; scale ignored).
    ``object_matrix`` optionally is the splat object's world matrix: the viewmat is then expressed in
    the object's (file) coordinates, which is what the engine needs (a scaled object leaves its scale
    in the viewmat's 3x3 part: it still maps object points to camera coordinates).
    """
    c2w = _without_scale(matrix_world)
    if object_matrix is not None:
        c2w = np.linalg.inv(np.asarray(object_matrix, np.float64)) @ c2w
    viewmat = np.linalg.inv(opengl_to_opencv_c2w(c2w))
    K = blender_intrinsics(
        lens_mm, sensor_width_mm, sensor_height_mm, sensor_fit, shift_x, shift_y, res_x, res_y, pixel_aspect
    )
    return viewmat, K


def opencv_to_blender_camera(
    viewmat: np.ndarray,
    K: np.ndarray,
    width: int,
    height: int,
    sensor_width_mm: float = 36.0,
    *,
    sensor_fit: str = "AUTO",
    object_matrix: np.ndarray | None = None,
) -> dict:
    """(viewmat, K) of an image ``width`` x ``height`` -> Blender camera settings (inverse of the above).

    Returns dict(matrix_world 4x4, lens_mm, sensor_width_mm, sensor_height_mm, sensor_fit, shift_x,
    shift_y, res_x, res_y, pixel_aspect_x, pixel_aspect_y). ``sensor_height_mm`` is the width scaled
    by the image aspect (it only matters for an explicit VERTICAL fit). Non-square pixels (fx != fy)
    come back as a pixel aspect with both components >= 1, as Blender requires.
    ``object_matrix``: the splat object's world matrix when the viewmat is in the object's coordinates.
    """
    K = np.asarray(K, np.float64)
    if K.shape != (3, 3) or abs(K[0, 1]) > 1e-9 * abs(K[0, 0]):
        raise ValueError("K must be a 3x3 pinhole matrix without skew")
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if fx <= 0 or fy <= 0:
        raise ValueError("focal lengths must be positive")
    pixel_aspect = fy / fx
    fit = _resolve_fit(sensor_fit, width, height, pixel_aspect)
    viewfac = _viewfac(fit, width, height, pixel_aspect)
    sensor_height_mm = sensor_width_mm * (height / pixel_aspect) / width
    sensor = sensor_height_mm if sensor_fit == "VERTICAL" else sensor_width_mm
    c2w = opencv_to_opengl_c2w(np.linalg.inv(np.asarray(viewmat, np.float64)))
    if object_matrix is not None:
        c2w = np.asarray(object_matrix, np.float64) @ c2w
    return {
        "matrix_world": c2w,
        "lens_mm": float(fx * sensor / viewfac),
        "sensor_width_mm": float(sensor_width_mm),
        "sensor_height_mm": float(sensor_height_mm),
        "sensor_fit": sensor_fit,
        "shift_x": float((width / 2.0 - cx) / viewfac),
        "shift_y": float((cy - height / 2.0) / (viewfac * pixel_aspect)),
        "res_x": int(width),
        "res_y": int(height),
        "pixel_aspect_x": float(max(pixel_aspect, 1.0)),
        "pixel_aspect_y": float(max(1.0 / pixel_aspect, 1.0)),
    }


# --- up axis -------------------------------------------------------------------------------------------
def up_axis_matrix(source_up: str) -> np.ndarray:
    """4x4 rotation taking a file whose up direction is ``source_up`` to Blender's +Z up.

    Use it as the imported object's transform. ``'-Y_UP'`` is typical of COLMAP / INRIA 3DGS captures
    (image y points down, so cameras' "up" is world -Y), ``'Y_UP'`` of NeRF / glTF-style data,
    ``'Z_UP'`` is the identity. Its inverse is its transpose.
    """
    c, s = 0.0, 1.0  # cos / sin of 90 degrees, exact
    rx_pos = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])  # +90 about X: +Y -> +Z
    ry_pos = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # +90 about Y: -X -> +Z
    table = {
        "Z_UP": np.eye(3),
        "-Z_UP": np.diag([1.0, -1.0, -1.0]),  # 180 about X
        "Y_UP": rx_pos,
        "-Y_UP": rx_pos.T,
        "X_UP": ry_pos.T,
        "-X_UP": ry_pos,
    }
    if source_up not in table:
        raise ValueError(f"source up axis {source_up!r} is not one of {UP_AXES}")
    m = np.eye(4)
    m[:3, :3] = table[source_up]
    return m
