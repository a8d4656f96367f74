"""The trained-scene checkpoint: one ``.npz`` file per scene, written atomically, read without pickles.

Holds the smoothed features [N, D], the scale gate (weight [D, 1], bias [D]), the scale transform's
quantiles, and metadata (scene content hash, Gaussian count, settings, package versions, time).
"""

from __future__ import annotations

import io
import json
import os
import platform
import time
from dataclasses import dataclass

import numpy as np

CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "saga_features.npz"


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, or belongs to another scene (message says which and why)."""


@dataclass
class SceneCheckpoint:
    features: np.ndarray  # [N, D] float32
    gate_weight: np.ndarray  # [D, 1]
    gate_bias: np.ndarray  # [D]
    scale_quantiles: np.ndarray  # [Q]
    metadata: dict
    #: [N] each Gaussian's largest blending weight at any pixel of the training views (0 = never seen)
    visibility: np.ndarray | None = None

    @property
    def content_hash(self) -> str:
        return str(self.metadata.get("content_hash", ""))

    def gate(self, scale: float) -> np.ndarray:
        """[D] gate vector at a unit scale in [0, 1]."""
        return 1.0 / (1.0 + np.exp(-(self.gate_weight[:, 0] * float(scale) + self.gate_bias)))


def package_versions() -> dict:
    import torch

    import engine

    return {"engine": engine.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}  # fmt: skip


def save_checkpoint(path: str, ckpt: SceneCheckpoint, crash_after_temp_write=None) -> None:
    """Write ``path`` atomically: a temporary file in the same folder, flushed, then renamed over the old one.

    ``crash_after_temp_write`` is a test hook (called after the temporary file is complete)."""
    meta = dict(ckpt.metadata, checkpoint_version=CHECKPOINT_VERSION, saved_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
    buf = io.BytesIO()
    np.savez(
        buf,
        features=ckpt.features.astype(np.float32),
        gate_weight=ckpt.gate_weight.astype(np.float32),
        gate_bias=ckpt.gate_bias.astype(np.float32),
        scale_quantiles=ckpt.scale_quantiles.astype(np.float64),
        metadata=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        visibility=(np.zeros(0) if ckpt.visibility is None else ckpt.visibility).astype(np.float16),
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        if crash_after_temp_write is not None:
            crash_after_temp_write()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(path: str, expected_hash: str | None = None) -> SceneCheckpoint:
    """Read a checkpoint; with ``expected_hash``, refuse one trained for another scene."""
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no trained features here (run 'saga-engine train' first)")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["metadata"]).decode())
            vis = data["visibility"].astype(np.float32) if "visibility" in data.files else np.zeros(0)
            ckpt = SceneCheckpoint(data["features"], data["gate_weight"], data["gate_bias"],
                                   data["scale_quantiles"], meta, vis if len(vis) else None)  # fmt: skip
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: damaged or not a SAGA checkpoint ({exc})") from exc
    if int(meta.get("checkpoint_version", 0)) > CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: written by a newer engine (version {meta.get('checkpoint_version')})")
    if expected_hash is not None and ckpt.content_hash != expected_hash:
        raise CheckpointError(
            f"{path}: trained for another scene (content hash {ckpt.content_hash[:12]}..., this scene "
            f"{expected_hash[:12]}...); train this scene with its own --workdir"
        )
    return ckpt
