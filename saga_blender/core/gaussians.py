"""The in-memory Gaussian splat: one numpy array per INRIA property, values exactly as stored.

Values keep the storage conventions of the reference 3DGS trainer (``opacity`` is a logit, ``scale_*``
are logs, ``rot_*`` is a w, x, y, z quaternion that need not be normalised). Derived, activated values
are computed on demand (:attr:`GaussianSplat.opacities`, :attr:`GaussianSplat.scales`, ...), so a file
that is read and written again comes back bit for bit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

#: Band-0 spherical-harmonic constant: RGB = 0.5 + SH_C0 * f_dc.
SH_C0 = 0.28209479177387814

#: Number of ``f_rest_*`` properties for SH degree 0..3 (3 channels x ((d + 1)^2 - 1) coefficients).
F_REST_COUNT_BY_DEGREE = {0: 0, 1: 9, 2: 24, 3: 45}


def sh_degree_for_rest_count(count: int) -> int | None:
    """SH degree for a number of ``f_rest_*`` properties, or None if the count is not valid."""
    for degree, n in F_REST_COUNT_BY_DEGREE.items():
        if n == count:
            return degree
    return None


@dataclass
class GaussianSplat:
    """N Gaussians. Arrays are float32 unless an extra property was stored with another type.

    means [N, 3], quats [N, 4] (w, x, y, z as stored), log_scales [N, 3], opacity_logits [N],
    sh_dc [N, 3], sh_rest [N, K - 1, 3] with K = (degree + 1)^2 coefficient-major (the file stores it
    channel-major), normals [N, 3] (INRIA nx, ny, nz; zeros when the source has none).
    ``extras`` holds every other per-Gaussian property of the source file, in file order, with its
    dtype. ``property_order`` is the source's vertex property order, used to write back unchanged.
    """

    means: np.ndarray
    quats: np.ndarray
    log_scales: np.ndarray
    opacity_logits: np.ndarray
    sh_dc: np.ndarray
    sh_rest: np.ndarray
    normals: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    property_order: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = self.means.shape[0]
        expect = {
            "means": (self.means, (n, 3)),
            "quats": (self.quats, (n, 4)),
            "log_scales": (self.log_scales, (n, 3)),
            "opacity_logits": (self.opacity_logits, (n,)),
            "sh_dc": (self.sh_dc, (n, 3)),
        }
        for name, (arr, shape) in expect.items():
            if arr.shape != shape:
                raise ValueError(f"GaussianSplat.{name} has shape {arr.shape}, expected {shape}")
        if self.sh_rest.ndim != 3 or self.sh_rest.shape[0] != n or self.sh_rest.shape[2] != 3:
            raise ValueError(f"GaussianSplat.sh_rest has shape {self.sh_rest.shape}, expected [{n}, K-1, 3]")
        if sh_degree_for_rest_count(self.sh_rest.shape[1] * 3) is None:
            raise ValueError(f"GaussianSplat.sh_rest has {self.sh_rest.shape[1]} coefficients per channel")
        if self.normals is None:
            self.normals = np.zeros((n, 3), np.float32)
        elif self.normals.shape != (n, 3):
            raise ValueError(f"GaussianSplat.normals has shape {self.normals.shape}, expected ({n}, 3)")
        for name, arr in self.extras.items():
            if arr.shape != (n,):
                raise ValueError(f"extra property {name!r} has shape {arr.shape}, expected ({n},)")

    # --- sizes -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        return int(sh_degree_for_rest_count(self.sh_rest.shape[1] * 3))

    # --- activated values --------------------------------------------------------------------------
    @property
    def opacities(self) -> np.ndarray:
        """[N] opacity in (0, 1) (sigmoid of the stored logit)."""
        return (1.0 / (1.0 + np.exp(-self.opacity_logits.astype(np.float64)))).astype(np.float32)

    @property
    def scales(self) -> np.ndarray:
        """[N, 3] linear scales (exp of the stored logs)."""
        return np.exp(self.log_scales.astype(np.float64)).astype(np.float32)

    @property
    def unit_quats(self) -> np.ndarray:
        """[N, 4] normalised w, x, y, z quaternions (a zero quaternion becomes the identity)."""
        q = self.quats.astype(np.float64)
        norm = np.linalg.norm(q, axis=1, keepdims=True)
        out = np.where(norm > 0, q / np.where(norm > 0, norm, 1.0), np.array([1.0, 0, 0, 0]))
        return out.astype(np.float32)

    @property
    def base_rgb(self) -> np.ndarray:
        """[N, 3] colour of SH band 0, 0.5 + C0 * f_dc (not clamped)."""
        return (0.5 + SH_C0 * self.sh_dc.astype(np.float64)).astype(np.float32)

    @property
    def sh_coeffs(self) -> np.ndarray:
        """[N, K, 3] all SH coefficients, band 0 first (the layout gsplat's ``colors`` takes)."""
        return np.concatenate([self.sh_dc[:, None, :], self.sh_rest], axis=1)

    # --- named columns (the INRIA property view) ---------------------------------------------------
    def standard_columns(self) -> dict[str, np.ndarray]:
        """INRIA property name -> 1-D column, in the reference trainer's order."""
        cols: dict[str, np.ndarray] = {}
        for i, axis in enumerate("xyz"):
            cols[axis] = self.means[:, i]
        for i, axis in enumerate("xyz"):
            cols[f"n{axis}"] = self.normals[:, i]
        for c in range(3):
            cols[f"f_dc_{c}"] = self.sh_dc[:, c]
        n_rest = self.sh_rest.shape[1]
        for c in range(3):  # channel-major in the file
            for k in range(n_rest):
                cols[f"f_rest_{c * n_rest + k}"] = self.sh_rest[:, k, c]
        cols["opacity"] = self.opacity_logits
        for i in range(3):
            cols[f"scale_{i}"] = self.log_scales[:, i]
        for i in range(4):
            cols[f"rot_{i}"] = self.quats[:, i]
        return cols

    def columns(self) -> dict[str, np.ndarray]:
        """Every property (standard and extra) -> 1-D column, in the source order when known."""
        cols = self.standard_columns()
        cols.update(self.extras)
        if self.property_order is not None and set(self.property_order) == set(cols):
            return {name: cols[name] for name in self.property_order}
        return cols

    # --- selection ---------------------------------------------------------------------------------
    def subset(self, index: np.ndarray) -> GaussianSplat:
        """The Gaussians at ``index`` (bool mask or integer indices), every property kept."""
        index = np.asarray(index)
        return GaussianSplat(
            means=self.means[index],
            quats=self.quats[index],
            log_scales=self.log_scales[index],
            opacity_logits=self.opacity_logits[index],
            sh_dc=self.sh_dc[index],
            sh_rest=self.sh_rest[index],
            normals=self.normals[index],
            extras={k: v[index] for k, v in self.extras.items()},
            property_order=self.property_order,
        )

    def content_hash(self) -> str:
        """SHA-256 of every property's bytes (names included): the scene's cache key."""
        h = hashlib.sha256()
        for name, col in self.columns().items():
            h.update(name.encode())
            h.update(str(col.dtype).encode())
            h.update(np.ascontiguousarray(col).tobytes())
        return h.hexdigest()

    @staticmethod
    def from_activated(
        means: np.ndarray,
        quats: np.ndarray,
        scales: np.ndarray,
        opacities: np.ndarray,
        rgb: np.ndarray,
        sh_rest: np.ndarray | None = None,
    ) -> GaussianSplat:
        """Build from linear scales, opacities in (0, 1) and band-0 RGB (the inverse activations)."""
        n = means.shape[0]
        op = np.clip(opacities.astype(np.float64), 1e-7, 1 - 1e-7)
        return GaussianSplat(
            means=np.ascontiguousarray(means, np.float32),
            quats=np.ascontiguousarray(quats, np.float32),
            log_scales=np.log(np.maximum(scales.astype(np.float64), 1e-30)).astype(np.float32),
            opacity_logits=np.log(op / (1.0 - op)).astype(np.float32),
            sh_dc=((rgb.astype(np.float64) - 0.5) / SH_C0).astype(np.float32),
            sh_rest=np.zeros((n, 0, 3), np.float32) if sh_rest is None else sh_rest.astype(np.float32),
        )
