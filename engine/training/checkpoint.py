"""The trained-scene checkpoint: one ``.npz`` file per scene, written atomically, read without pickles.

Holds the smoothed features [N, D], the scale gate (weight [D, 1], bias [D]), the scale transform's quantiles, each
Gaussian's visibility in the training views, and metadata (scene content hash, Gaussian count, settings, the
training views' cameras, package versions, time). Loading checks everything (readable archive, every array there
with the right dtype, shape and finite values, metadata that fits the arrays) and raises one
:class:`CheckpointError` that says what is wrong and what to do.
"""

from __future__ import annotations

import io
import json
import platform
import time
import zipfile
from dataclasses import dataclass

import numpy as np

from saga_blender.core.atomic_files import atomic_write

CHECKPOINT_VERSION = 2
CHECKPOINT_NAME = "saga_features.npz"
ARRAYS = ("features", "gate_weight", "gate_bias", "scale_quantiles", "metadata", "visibility")


class CheckpointError(ValueError):
    """A checkpoint cannot be used (missing, damaged, or another scene's); the message says which and what to do."""


class CheckpointMissingError(CheckpointError):
    """No checkpoint: the scene was never prepared in this work folder."""


class CheckpointDamagedError(CheckpointError):
    """The checkpoint file is there but unreadable or inconsistent (prepare again)."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint is sound but belongs to another scene (other content)."""


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
    """Write ``path`` atomically (``atomic_files``): the old file stays whole until the new one is complete.

    ``crash_after_temp_write`` is a test hook (called after the temporary file is complete, before the rename)."""
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
    with atomic_write(path) as fh:
        fh.write(buf.getbuffer())
        if crash_after_temp_write is not None:
            fh.flush()
            crash_after_temp_write()


def _damaged(path: str, problem: str) -> CheckpointDamagedError:
    return CheckpointDamagedError(f"checkpoint damaged: {path}: {problem}; prepare the scene again")


def _read_arrays(path: str) -> dict[str, np.ndarray]:
    """The archive's arrays, each member's header checked against its stored size before anything is allocated
    (a damaged header cannot make this allocate more than the file holds)."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = {info.filename[:-4]: info for info in zf.infolist() if info.filename.endswith(".npy")}
            missing = [k for k in ARRAYS if k not in members and k != "visibility"]
            if missing:
                raise _damaged(path, f"it lacks {', '.join(missing)} (not a SAGA checkpoint, or cut short)")
            out = {}
            for key in ARRAYS:
                if key not in members:
                    continue
                with zf.open(members[key]) as fh:
                    version = np.lib.format.read_magic(fh)
                    shape, _, dtype = np.lib.format._read_array_header(fh, version)
                    if dtype.hasobject:
                        raise _damaged(path, f"{key} holds Python objects (refused: a checkpoint holds numbers)")
                    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                    if nbytes > members[key].file_size:
                        raise _damaged(path, f"{key} claims {nbytes} bytes but the file holds {members[key].file_size}")
                with zf.open(members[key]) as fh:
                    out[key] = np.lib.format.read_array(fh, allow_pickle=False)
            return out
    except CheckpointError:
        raise
    except MemoryError as exc:
        raise _damaged(path, "an array is larger than this machine's memory") from exc
    except Exception as exc:  # a damaged archive raises many kinds (BadZipFile, zlib.error, EOFError, TokenError...)
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if isinstance(exc, (zipfile.BadZipFile, EOFError)) or "zip" in reason.lower():
            reason = f"not a complete .npz archive ({reason})"
        raise _damaged(path, reason) from exc


def _check_arrays(path: str, a: dict[str, np.ndarray], meta: dict) -> None:
    f, w, b, q = a["features"], a["gate_weight"], a["gate_bias"], a["scale_quantiles"]
    if f.ndim != 2 or f.shape[1] < 1 or f.dtype != np.float32:
        raise _damaged(path, f"features are {f.dtype} {list(f.shape)}, expected float32 [N, D]")
    n, d = f.shape
    if w.shape != (d, 1) or b.shape != (d,):
        raise _damaged(path, f"the scale gate has shapes {list(w.shape)} / {list(b.shape)}, expected [{d}, 1] / [{d}]")
    if q.ndim != 1 or len(q) < 2 or not np.all(np.diff(q) >= 0):
        raise _damaged(path, "the scale quantiles are not an increasing list")
    vis = a.get("visibility")
    if vis is not None and len(vis) and vis.shape != (n,):
        raise _damaged(path, f"visibility has shape {list(vis.shape)}, expected [{n}]")
    for name, arr in (("features", f), ("gate", w), ("gate", b), ("scale quantiles", q)):
        if not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).sum())
            raise _damaged(path, f"{bad} NaN/inf values in the {name} (training diverged or the file was altered)")
    if not (np.linalg.norm(f, axis=1) > 0).any():
        raise _damaged(path, "every feature is zero")
    count = meta.get("num_gaussians")
    if count is not None and int(count) != n:
        raise _damaged(path, f"its metadata says {count} Gaussians, its features hold {n}")
    if not isinstance(meta.get("content_hash"), str) or not meta["content_hash"]:
        raise _damaged(path, "its metadata names no scene (content hash)")


def load_checkpoint(path: str, expected_hash: str | None = None) -> SceneCheckpoint:
    """Read and check a checkpoint; with ``expected_hash``, refuse one trained for another scene.

    Raises CheckpointMissingError, CheckpointDamagedError or CheckpointMismatchError (all CheckpointError)."""
    import os

    if not os.path.exists(path):
        raise CheckpointMissingError(f"{path}: no trained features here (prepare the scene first: saga-engine train)")
    if not os.path.isfile(path):
        raise _damaged(path, "it is not a regular file")
    arrays = _read_arrays(path)
    try:
        meta = json.loads(bytes(arrays["metadata"]).decode())
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise _damaged(path, f"unreadable metadata ({exc})") from exc
    if not isinstance(meta, dict):
        raise _damaged(path, "its metadata is not a JSON object")
    version = meta.get("checkpoint_version", 0)
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise CheckpointDamagedError(
            f"{path}: written by a newer engine (checkpoint version {version}, this engine reads up to "
            f"{CHECKPOINT_VERSION}); update the engine, or prepare the scene again with this one"
        )
    _check_arrays(path, arrays, meta)
    vis = arrays.get("visibility")
    ckpt = SceneCheckpoint(arrays["features"], arrays["gate_weight"], arrays["gate_bias"], arrays["scale_quantiles"],
                           meta, vis.astype(np.float32) if vis is not None and len(vis) else None)  # fmt: skip
    if expected_hash is not None:
        check_scene(ckpt, path, expected_hash)
    return ckpt


def check_scene(ckpt: SceneCheckpoint, path: str, expected_hash: str) -> None:
    """CheckpointMismatchError when the checkpoint was trained for a scene of other content."""
    if ckpt.content_hash != expected_hash:
        raise CheckpointMismatchError(
            f"{path}: trained for another scene (content hash {ckpt.content_hash[:12]}..., this scene "
            f"{expected_hash[:12]}...); prepare this scene in its own work folder"
        )
