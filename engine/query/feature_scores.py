"""Scores of every Gaussian against query features at a scale: SAGA's cosine of scale-gated features.

score_q(i) = cos(S(s) * f_i, S(s) * q) = sum_d f_id q_d g_d^2 / (|S(s) * f_i| |S(s) * q|), g = S(s).

The numerator for a few queries is one [N, D] x [D, Q] product; the norms |S(s) * f_i| depend only on the
scale and are cached per scale, so a new click at the same scale costs one pass over the features, and a
threshold change costs nothing here. Everything is torch, on the device the features live on, in row chunks
so that 5M Gaussians need no [N, Q] float64 temporaries.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

CHUNK = 1 << 20
NORM_CHUNK = 1 << 16  # the squared chunk stays in cache: 4x faster than one big temporary


class FeatureScorer:
    """Smoothed features [N, D] and the scale gate (weight [D, 1], bias [D]) of a trained scene."""

    def __init__(self, features: np.ndarray | torch.Tensor, gate_weight: np.ndarray, gate_bias: np.ndarray,
                 device: str | torch.device = "cpu", norm_cache: int = 4):  # fmt: skip
        f = torch.as_tensor(np.ascontiguousarray(features, dtype=np.float32)
                            if isinstance(features, np.ndarray) else features)  # fmt: skip
        assert f.ndim == 2, "features [N, D]"
        self.features = f.to(device=device, dtype=torch.float32).contiguous()
        self.gate_weight = torch.as_tensor(np.asarray(gate_weight, np.float32)).reshape(-1).to(device)
        self.gate_bias = torch.as_tensor(np.asarray(gate_bias, np.float32)).reshape(-1).to(device)
        assert self.gate_weight.shape == self.gate_bias.shape == (self.features.shape[1],), "gate of size D"
        self._norms: dict[float, torch.Tensor] = {}
        self._norm_cache = norm_cache
        self._lock = threading.Lock()  # concurrent queries share the cache

    @property
    def device(self) -> torch.device:
        return self.features.device

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def gate(self, scale: float) -> torch.Tensor:
        """[D] S(s) = sigmoid(W s + b)."""
        return torch.sigmoid(self.gate_weight * float(scale) + self.gate_bias)

    def gated_norms(self, scale: float) -> torch.Tensor:
        """[N] |S(s) * f_i|, cached for the last few scales (safe under concurrent queries: a miss may be computed
        twice, never read half-written)."""
        key = float(scale)
        with self._lock:
            hit = self._norms.get(key)
        if hit is not None:
            return hit
        g2 = self.gate(scale) ** 2
        out = torch.empty(len(self), device=self.device)
        for start in range(0, len(self), NORM_CHUNK):
            fc = self.features[start : start + NORM_CHUNK]
            out[start : start + NORM_CHUNK] = torch.sqrt((fc * fc) @ g2).clamp_min(1e-12)
        with self._lock:
            while len(self._norms) >= self._norm_cache:
                self._norms.pop(next(iter(self._norms)))
            self._norms[key] = out
        return out

    def best_scores(self, queries: torch.Tensor, scale: float) -> torch.Tensor:
        """[N] max over the queries [Q, D] of each Gaussian's gated cosine (Q >= 1)."""
        assert queries.ndim == 2 and queries.shape[1] == self.dim and len(queries) > 0, "queries [Q, D]"
        g = self.gate(scale)
        q = queries.to(self.device, torch.float32) * g
        q = q / q.norm(dim=1, keepdim=True).clamp_min(1e-12)  # unit gated queries
        w = (q * g).T.contiguous()  # [D, Q]: f_i . (g * q_unit) = (g f_i) . q_unit
        norms = self.gated_norms(scale)
        out = torch.empty(len(self), device=self.device)
        for start in range(0, len(self), CHUNK):
            s = self.features[start : start + CHUNK] @ w  # [n, Q]
            out[start : start + CHUNK] = (s.amax(dim=1) if s.shape[1] > 1 else s[:, 0]) / norms[start : start + CHUNK]
        return out
