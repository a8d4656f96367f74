"""Gated cosine scores against a brute-force numpy reference."""

from __future__ import annotations

import numpy as np
import torch

from engine.query.feature_scores import FeatureScorer


def reference(f, w, b, q, s):
    g = 1 / (1 + np.exp(-(w[:, 0] * s + b)))
    fg, qg = f * g, q * g
    return ((fg @ qg.T) / np.linalg.norm(fg, axis=1)[:, None] / np.linalg.norm(qg, axis=1)[None]).max(axis=1)


def test_best_scores_match_the_formula_at_several_scales():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(5000, 32)).astype(np.float32)
    w, b = rng.normal(size=(32, 1)) * 4, rng.normal(size=32)
    scorer = FeatureScorer(f, w, b)
    for s in (0.0, 0.3, 1.0):
        q = rng.normal(size=(3, 32)).astype(np.float32)
        got = scorer.best_scores(torch.from_numpy(q), s).numpy()
        np.testing.assert_allclose(got, reference(f, w, b, q, s), atol=2e-5)
        one = scorer.best_scores(torch.from_numpy(q[:1]), s).numpy()
        np.testing.assert_allclose(one, reference(f, w, b, q[:1], s), atol=2e-5)
    assert len(scorer._norms) == 3  # one cached norm vector per scale
    n0 = scorer.gated_norms(0.3)
    assert scorer.gated_norms(0.3) is n0
