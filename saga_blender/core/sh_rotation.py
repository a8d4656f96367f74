"""Rotation of real spherical-harmonic (SH) coefficients, degree 1..3, in the 3DGS / gsplat basis.

The basis and its order are those of ``engine/render/sh.py`` (the reference 3DGS code and gsplat),
signs included: band 1 is ``(-C1 y, C1 z, -C1 x)``, band 2 and 3 follow the same constants, which live here
and which the renderer imports. The basis is evaluated here in numpy so that this module needs neither torch
nor bpy.

A splat's view-dependent colour along a unit direction ``d`` is ``f(d) = sum_k c_k Y_k(d)``. When the
scene is rotated by ``R`` the colour seen along ``d`` must become ``g(d) = f(R^T d)``. Each band l is
closed under rotation, so ``g``'s band-l coefficients are ``D_l @ c_l`` with an orthogonal
(2l+1)x(2l+1) matrix ``D_l``. :func:`sh_rotation_matrices` computes ``D_l`` exactly by sampling the
band on a fixed set of well-spread directions and solving ``Y(dirs) D_l = Y(R^T dirs)`` by least
squares (the system is consistent, so the solution is exact up to float64 round-off, ~1e-15).
Band 0 (``sh_dc``) is rotation invariant and never touched.
"""

from __future__ import annotations

import numpy as np

#: Real SH constants of bands 1-3 (band 0's is ``gaussians.SH_C0``), as in the reference 3DGS code and gsplat.
C1 = 0.4886025119029199
C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
C3 = (
    -0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
    -0.4570457994644658, 1.445305721320277, -0.5900435899266435,
)  # fmt: skip

#: Number of ``sh_rest`` coefficients (per channel) -> SH degree.
DEGREE_FOR_REST_COEFFS = {0: 0, 3: 1, 8: 2, 15: 3}

#: Directions used to fit each band's rotation matrix (a band has at most 7 functions).
_N_SAMPLE_DIRS = 64


def band_basis(band: int, dirs: np.ndarray) -> np.ndarray:
    """Values [..., 2*band+1] of the band-``band`` (1..3) real SH functions at unit directions [..., 3]."""
    x, y, z = dirs[..., 0], dirs[..., 1], dirs[..., 2]
    if band == 1:
        out = [-C1 * y, C1 * z, -C1 * x]
    elif band == 2:
        xx, yy, zz = x * x, y * y, z * z
        out = [C2[0] * x * y, C2[1] * y * z, C2[2] * (2.0 * zz - xx - yy), C2[3] * x * z, C2[4] * (xx - yy)]
    elif band == 3:
        xx, yy, zz = x * x, y * y, z * z
        out = [
            C3[0] * y * (3 * xx - yy),
            C3[1] * x * y * z,
            C3[2] * y * (4 * zz - xx - yy),
            C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
            C3[4] * x * (4 * zz - xx - yy),
            C3[5] * z * (xx - yy),
            C3[6] * x * (xx - 3 * yy),
        ]
    else:
        raise ValueError(f"SH band must be 1..3, got {band}")
    return np.stack(out, axis=-1)


def fibonacci_sphere(n: int) -> np.ndarray:
    """[n, 3] float64 unit directions spread evenly over the sphere (golden-angle spiral)."""
    i = np.arange(n, dtype=np.float64) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(np.maximum(0.0, 1.0 - z * z))
    phi = np.pi * (3.0 - np.sqrt(5.0)) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def _check_rotation(R: np.ndarray) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    if R.shape != (3, 3) or not np.all(np.isfinite(R)):
        raise ValueError(f"a rotation must be a finite 3x3 matrix, got shape {R.shape}")
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-5) or np.linalg.det(R) < 0:
        raise ValueError("the matrix is not a proper rotation (orthogonal with determinant +1)")
    return R


def sh_rotation_matrices(R: np.ndarray, degree: int) -> list[np.ndarray]:
    """[D_1, ..., D_degree]: float64 (2l+1)x(2l+1) matrices rotating band-l coefficients by ``R``.

    If ``c_l`` are the band-l coefficients of ``f``, then ``D_l @ c_l`` are those of ``g(d) = f(R^T d)``
    (the function carried along by the rotation). ``D(R1 @ R2) = D(R1) @ D(R2)`` and each ``D_l`` is
    orthogonal. ``degree`` 0 gives an empty list.
    """
    if not 0 <= degree <= 3:
        raise ValueError(f"SH degree must be 0..3, got {degree}")
    R = _check_rotation(R)
    dirs = fibonacci_sphere(_N_SAMPLE_DIRS)
    rotated = dirs @ R  # rows are R^T d
    mats = []
    for band in range(1, degree + 1):
        d, *_ = np.linalg.lstsq(band_basis(band, dirs), band_basis(band, rotated), rcond=None)
        mats.append(d)
    return mats


def rotate_sh_rest(sh_rest: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``sh_rest`` [N, K-1, 3] (coefficient-major, RGB last, as ``GaussianSplat.sh_rest``) rotated by ``R``.

    The degree comes from the shape (0, 3, 8 or 15 coefficients). Returns a new float32 array of the
    same shape; the input is not modified. One BLAS product per band, so millions of Gaussians are fast.
    """
    sh_rest = np.asarray(sh_rest)
    if sh_rest.ndim != 3 or sh_rest.shape[2] != 3 or sh_rest.shape[1] not in DEGREE_FOR_REST_COEFFS:
        raise ValueError(f"sh_rest must be [N, 0|3|8|15, 3], got shape {sh_rest.shape}")
    degree = DEGREE_FOR_REST_COEFFS[sh_rest.shape[1]]
    out = np.empty(sh_rest.shape, np.float32)
    start = 0
    for band, d in enumerate(sh_rotation_matrices(R, degree), start=1):
        stop = start + 2 * band + 1
        block = sh_rest[:, start:stop, :].astype(np.float32, copy=False)
        # [N, m, 3] x [m', m] contracted over m -> [N, 3, m'] -> written as [N, m', 3].
        out[:, start:stop, :] = np.tensordot(block, d.astype(np.float32).T, axes=([1], [0])).transpose(0, 2, 1)
        start = stop
    return out
