"""Bake a 4x4 affine world matrix (e.g. Blender's ``matrix_world``) into a :class:`GaussianSplat`.

The 3x3 part ``A`` of the matrix is split by polar decomposition into ``A = R S`` (``R`` a rotation,
``S`` a symmetric positive stretch); the matrix is then ``T R S``. What each property becomes:

- means: ``A p + t`` (exact, computed in float64).
- shape (quats, log_scales): each Gaussian's covariance becomes exactly ``A Sigma A^T``. For a uniform
  scale ``s`` (``S = s I``) that is the rotation ``q_R * q`` (Hamilton product, original quaternion norm
  kept) with ``log_scales + log(s)``. For a non-uniform scale or shear the new axes and scales come
  from a per-Gaussian SVD of ``A R_q diag(scales)``: still the exact covariance, not an approximation,
  with axes ordered and signed to stay as close as possible to the original ones.
- SH bands 1..3 (view-dependent colour): rotated with ``R`` alone (:func:`rotate_sh_rest`). This is
  exact for rigid and similarity transforms; under a non-uniform scale the directional colour
  pattern is not exactly representable and only the rotation part is applied (the approximation).
- normals: transformed as normals, by ``A^{-T}`` (which is ``R`` unless the scale is non-uniform), each
  non-zero normal keeping its original length; zero normals stay zero.
- opacity_logits, sh_dc, extras, property_order: unchanged (copies).

A reflection (``det A < 0``) cannot be represented (a Gaussian's rotation is proper and the SH
would need mirroring), so it raises ``ValueError``, as does a singular or non-affine matrix.
"""

from __future__ import annotations

import itertools

import numpy as np

from .gaussians import GaussianSplat
from .sh_rotation import rotate_sh_rest

#: Singular values of the 3x3 part within this relative spread count as a uniform scale.
UNIFORM_SCALE_RTOL = 1e-5
#: Gaussians per chunk in the non-uniform path (bounds the float64 [chunk, 3, 3] temporaries).
CHUNK = 1 << 18
_PERMS = np.array(list(itertools.permutations(range(3))))  # [6, 3]


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of w, x, y, z quaternions ([..., 4], broadcast)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] of w, x, y, z quaternions [..., 4] (normalised here; zero -> identity)."""
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(norm > 0, q / np.where(norm > 0, norm, 1.0), np.array([1.0, 0.0, 0.0, 0.0]))
    w, x, y, z = np.moveaxis(q, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Unit w, x, y, z quaternions [..., 4] of rotation matrices [..., 3, 3] (Shepperd's method)."""
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    trace = m00 + m11 + m22
    # Candidate i is 4 q_i * q; the one with the largest |q_i| is the best conditioned.
    cand = np.stack(
        [
            np.stack([1 + trace, m21 - m12, m02 - m20, m10 - m01], -1),
            np.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], -1),
            np.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], -1),
            np.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], -1),
        ],
        axis=-2,
    )
    best = np.argmax(np.stack([trace, m00, m11, m22], -1), axis=-1)
    q = np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def decompose_affine(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(A, R, singular_values, t)`` of a 4x4 affine matrix: ``A = R S`` (polar), ``t`` the translation.

    Raises ``ValueError`` for a wrong shape, non-finite values, a projective bottom row, a singular
    3x3 part or a reflection.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise ValueError(f"the transform must be a finite 4x4 matrix, got shape {matrix.shape}")
    if not np.allclose(matrix[3], [0.0, 0.0, 0.0, 1.0], atol=1e-9):
        raise ValueError(f"the transform is not affine (bottom row {matrix[3].tolist()}, expected [0, 0, 0, 1])")
    a, t = matrix[:3, :3], matrix[:3, 3]
    u, sv, vt = np.linalg.svd(a)
    det = np.linalg.det(a)
    if sv[-1] <= 1e-12 * max(sv[0], 1e-300):
        raise ValueError("the transform is singular (a zero scale): the splat would collapse")
    if det < 0:
        raise ValueError(
            "the transform mirrors the scene (negative determinant, e.g. a negative scale): a Gaussian "
            "splat cannot be reflected by a rotation; remove the negative scale before exporting"
        )
    return a, u @ vt, sv, t


def transform_splat(splat: GaussianSplat, matrix: np.ndarray) -> tuple[GaussianSplat, dict]:
    """``splat`` with the 4x4 affine ``matrix`` baked in (see the module doc), and a report dict.

    The report has ``identity``, ``uniform_scale``, ``reflection`` (always False: reflections raise),
    ``scale`` (singular values of the 3x3 part, largest first), ``max_scale_ratio`` (largest / smallest)
    and ``sh_approximate`` (True when the SH had to be rotated under a non-uniform scale).
    The identity matrix gives back exact copies; a pure translation changes only the means.
    """
    a, rot, sv, t = decompose_affine(matrix)
    uniform = bool(sv[0] - sv[-1] <= UNIFORM_SCALE_RTOL * sv[0])
    identity = bool(np.array_equal(np.asarray(matrix, np.float64), np.eye(4)))
    report = {
        "identity": identity,
        "uniform_scale": uniform,
        "reflection": False,
        "scale": tuple(float(s) for s in sv),
        "max_scale_ratio": float(sv[0] / sv[-1]),
        "sh_approximate": bool(not uniform and splat.sh_rest.shape[1] > 0),
    }
    linear_identity = bool(np.array_equal(a, np.eye(3)))
    if identity or linear_identity:
        means = splat.means.copy() if identity else (splat.means.astype(np.float64) + t).astype(np.float32)
        return _rebuild(splat, means, splat.quats.copy(), splat.log_scales.copy(), splat.sh_rest.copy(),
                        splat.normals.copy()), report  # fmt: skip

    means = (splat.means.astype(np.float64) @ a.T + t).astype(np.float32)
    q_rot = matrix_to_quat(rot)
    if uniform:
        s = float(np.cbrt(np.linalg.det(a)))
        quats = quat_multiply(q_rot, _nonzero_quats(splat.quats)).astype(np.float32)
        log_scales = (splat.log_scales.astype(np.float64) + np.log(s)).astype(np.float32)
    else:
        quats, log_scales = _general_shape(splat.quats, splat.log_scales, a, q_rot)
    sh_rest = splat.sh_rest.copy() if np.array_equal(rot, np.eye(3)) else rotate_sh_rest(splat.sh_rest, rot)
    normals = _transform_normals(splat.normals, rot if uniform else np.linalg.inv(a).T)
    return _rebuild(splat, means, quats, log_scales, sh_rest, normals), report


def _general_shape(quats: np.ndarray, log_scales: np.ndarray, a: np.ndarray, q_rot: np.ndarray):
    """New (quats, log_scales) float32 such that each covariance becomes exactly ``A Sigma A^T``.

    ``B = A R_q diag(scales) = U diag(sigma) V^T`` gives ``A Sigma A^T = U diag(sigma^2) U^T``. The
    singular triples are permuted so ``V`` is nearest the identity (new axis i is the image of old
    axis i where possible), signs chosen likewise and the result made a proper rotation.
    """
    n = quats.shape[0]
    out_q = np.empty((n, 4), np.float32)
    out_s = np.empty((n, 3), np.float32)
    for lo in range(0, n, CHUNK):
        q = _nonzero_quats(quats[lo : lo + CHUNK])
        scales = np.exp(log_scales[lo : lo + CHUNK].astype(np.float64))
        b = (a @ quat_to_matrix(q)) * scales[:, None, :]
        u, sig, vt = np.linalg.svd(b)
        v = np.swapaxes(vt, -1, -2)  # column k of v: the old (local) axis mixing that becomes new axis k
        score = np.abs(v[:, np.arange(3)[None, :], _PERMS]).sum(-1)  # [m, 6]
        perm = _PERMS[np.argmax(score, axis=1)]  # new axis i <- singular triple perm[i]
        u = np.take_along_axis(u, perm[:, None, :], axis=2)
        sig = np.take_along_axis(sig, perm, axis=1)
        vdiag = np.take_along_axis(v, perm[:, None, :], axis=2)[:, np.arange(3), np.arange(3)]
        u *= np.where(vdiag < 0, -1.0, 1.0)[:, None, :]
        flip = np.linalg.det(u) < 0  # flip the least-aligned axis: the covariance does not change
        worst = np.argmin(np.abs(vdiag), axis=1)
        u[flip, :, worst[flip]] *= -1.0
        new_q = matrix_to_quat(u)
        ref = quat_multiply(q_rot, q)  # same hemisphere as the rotated original, for continuity
        new_q *= np.where(np.sum(new_q * ref, axis=1) < 0, -1.0, 1.0)[:, None]
        out_q[lo : lo + CHUNK] = new_q * np.linalg.norm(q, axis=1, keepdims=True)
        out_s[lo : lo + CHUNK] = np.log(np.maximum(sig, 1e-300))
    return out_q, out_s


def _nonzero_quats(q: np.ndarray) -> np.ndarray:
    """float64 copy of w, x, y, z quaternions with zero ones (the renderer's identity) made [1, 0, 0, 0]."""
    q = q.astype(np.float64)
    q[np.all(q == 0, axis=1)] = (1.0, 0.0, 0.0, 0.0)
    return q


def _transform_normals(normals: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Normals [N, 3] times ``m`` (``A^{-T}``, or ``R``), each non-zero one keeping its length."""
    nrm = normals.astype(np.float64)
    out = nrm @ m.T
    old, new = np.linalg.norm(nrm, axis=1, keepdims=True), np.linalg.norm(out, axis=1, keepdims=True)
    out = np.where(new > 0, out * (old / np.where(new > 0, new, 1.0)), 0.0)
    return out.astype(np.float32)


def _rebuild(splat: GaussianSplat, means, quats, log_scales, sh_rest, normals) -> GaussianSplat:
    return GaussianSplat(
        means=means,
        quats=quats,
        log_scales=log_scales,
        opacity_logits=splat.opacity_logits.copy(),
        sh_dc=splat.sh_dc.copy(),
        sh_rest=sh_rest,
        normals=normals,
        extras={k: v.copy() for k, v in splat.extras.items()},
        property_order=splat.property_order,
    )
