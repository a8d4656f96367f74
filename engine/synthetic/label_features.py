"""Stand-in trained features for timing runs: each part of the synthetic scene gets a random centre in R^D, each
Gaussian its part's centre plus noise, and the gate starts as training starts it. Selections then have the
sizes real ones have, and timings do not depend on how features were learned. Not for accuracy figures."""

from __future__ import annotations

import numpy as np
import torch

from engine.training.checkpoint import SceneCheckpoint
from engine.training.trainer import AffinityModel


def label_feature_checkpoint(scene, rng: np.random.Generator, dim: int = 32, noise: float = 0.3) -> SceneCheckpoint:
    """A checkpoint for ``scene`` (a ``SyntheticScene``) with label-made features, tagged with its content hash."""
    centres = rng.normal(size=(len(scene.part_names), dim)).astype(np.float32)
    features = centres[scene.part_id] + noise * rng.normal(size=(len(scene.splat), dim)).astype(np.float32)
    gate = AffinityModel(1, dim, 0.1, torch.Generator().manual_seed(0)).gate
    return SceneCheckpoint(features, gate.weight.detach().numpy(), gate.bias.detach().numpy(), np.linspace(0, 1, 11),
                           {"content_hash": scene.splat.content_hash()})  # fmt: skip
