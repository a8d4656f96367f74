"""Loading a SAM model from a checkpoint file, with clear errors.

A registry of model specs (the image encoder's shape, as in segment-anything's ``sam_model_registry``)
maps a model type (``vit_h``, ``vit_l``, ``vit_b``) to its architecture. :func:`load_sam` reads the
checkpoint first (``torch.load(weights_only=True)``, never a pickle of arbitrary objects), infers the
encoder's shape from the state dict, and refuses a checkpoint that does not match the chosen model,
saying which model it looks like and what to do, before building anything. Extra specs (e.g. a tiny
randomly initialised SAM for tests) are added with :func:`register_sam_model` and go through exactly
the same code.

``segment_anything`` is imported lazily: the engine works without it (other mask sources).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from engine.masks.source import MaskSourceError

SAM_INSTALL_HINT = "pip install segment-anything==1.0 torchvision==0.29.2  (the project's [sam] extra)"

_IMAGE_SIZE = 1024  # segment_anything.build_sam._build_sam: image_size
_PATCH_SIZE = 16  # vit_patch_size
_WINDOW_SIZE = 14  # window_size of the non-global attention blocks


class SamUnavailableError(MaskSourceError):
    """segment-anything (or its torchvision dependency) is not installed."""


class SamCheckpointError(MaskSourceError):
    """The checkpoint file is missing, unreadable, or does not match the chosen model."""


@dataclass(frozen=True)
class SamSpec:
    """The shape of SAM's ViT image encoder (the prompt encoder and mask decoder are the same for all)."""

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    checkpoint_name: str = ""  # the official file name, for messages

    def describe(self) -> str:
        return (
            f"embed dim {self.embed_dim}, {self.depth} blocks, {self.num_heads} heads, "
            f"global attention in blocks {list(self.global_attn_indexes)}"
        )


SAM_MODELS: dict[str, SamSpec] = {
    "vit_h": SamSpec("vit_h", 1280, 32, 16, (7, 15, 23, 31), "sam_vit_h_4b8939.pth"),
    "vit_l": SamSpec("vit_l", 1024, 24, 16, (5, 11, 17, 23), "sam_vit_l_0b3195.pth"),
    "vit_b": SamSpec("vit_b", 768, 12, 12, (2, 5, 8, 11), "sam_vit_b_01ec64.pth"),
}


def register_sam_model(spec: SamSpec, replace: bool = False) -> None:
    """Add a model spec to the registry (tests register a tiny one). Refuses to overwrite unless asked."""
    if spec.name in SAM_MODELS and not replace and SAM_MODELS[spec.name] != spec:
        raise ValueError(f"a SAM model named {spec.name!r} is already registered")
    SAM_MODELS[spec.name] = spec


def unregister_sam_model(name: str) -> None:
    SAM_MODELS.pop(name, None)


def get_spec(model_type: str) -> SamSpec:
    if model_type not in SAM_MODELS:
        raise MaskSourceError(f"unknown SAM model {model_type!r}; choose one of {', '.join(SAM_MODELS)}")
    return SAM_MODELS[model_type]


def import_segment_anything():
    """The ``segment_anything`` module, or SamUnavailableError saying how to install it."""
    try:
        import segment_anything
        import segment_anything.build_sam
    except ImportError as exc:
        raise SamUnavailableError(
            f"SAM masks need segment-anything, which could not be imported ({exc}). Install it with: {SAM_INSTALL_HINT}"
        ) from exc
    return segment_anything


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' where available, else 'cpu'; 'cuda' without CUDA is a clear error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MaskSourceError(f"device {device!r} was asked for SAM but CUDA is not available; use 'cpu' or 'auto'")
    if device != "cpu" and not device.startswith("cuda"):
        raise MaskSourceError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")
    return device


def infer_spec(state_dict: dict) -> SamSpec | None:
    """The encoder shape a SAM state dict was trained with (name 'unknown'), or None if it is not SAM's.

    embed dim = rows of ``image_encoder.patch_embed.proj.weight``; depth = number of
    ``image_encoder.blocks.N``; head dim = columns of a block's ``attn.rel_pos_h``, whose row count is
    2*64-1 for a global-attention block (64 = 1024/16 tokens a side) and 2*14-1 for a windowed one.
    """
    proj = state_dict.get("image_encoder.patch_embed.proj.weight")
    if proj is None or getattr(proj, "ndim", 0) != 4:
        return None
    embed_dim = int(proj.shape[0])
    blocks = {int(m.group(1)) for k in state_dict if (m := re.match(r"image_encoder\.blocks\.(\d+)\.", k))}
    depth = len(blocks)
    global_attn, head_dim = [], None
    for i in sorted(blocks):
        rel = state_dict.get(f"image_encoder.blocks.{i}.attn.rel_pos_h")
        if rel is None or getattr(rel, "ndim", 0) != 2:
            continue
        head_dim = int(rel.shape[1])
        if int(rel.shape[0]) == 2 * (_IMAGE_SIZE // _PATCH_SIZE) - 1:
            global_attn.append(i)
    num_heads = embed_dim // head_dim if head_dim else 0
    return SamSpec("unknown", embed_dim, depth, num_heads, tuple(global_attn))


def _same_shape(a: SamSpec, b: SamSpec) -> bool:
    return (a.embed_dim, a.depth, a.num_heads, tuple(a.global_attn_indexes)) == (
        b.embed_dim,
        b.depth,
        b.num_heads,
        tuple(b.global_attn_indexes),
    )


def _read_state_dict(path: str) -> dict:
    import torch

    if not os.path.exists(path):
        raise SamCheckpointError(
            f"SAM checkpoint not found: {path} (download e.g. sam_vit_h_4b8939.pth from "
            "https://github.com/facebookresearch/segment-anything#model-checkpoints)"
        )
    if os.path.isdir(path):
        raise SamCheckpointError(f"SAM checkpoint {path} is a folder; give the .pth file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, text file, pickle with non-tensor objects...
        raise SamCheckpointError(
            f"{path} is not a readable torch checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc
    if isinstance(obj, dict):
        for key in ("model", "state_dict"):  # common wrappers around a state dict
            if key in obj and isinstance(obj[key], dict) and "image_encoder.patch_embed.proj.weight" not in obj:
                obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise SamCheckpointError(f"{path} is a torch file but not a state dict of tensors (found {type(obj).__name__})")
    return obj


def check_checkpoint(state_dict: dict, spec: SamSpec, path: str) -> None:
    """Raise SamCheckpointError if the state dict is not SAM's or was trained for another encoder."""
    found = infer_spec(state_dict)
    if found is None:
        raise SamCheckpointError(
            f"{path} is not a SAM (segment-anything v1) checkpoint: it has no "
            "image_encoder.patch_embed.proj.weight (SAM 2, HQ-SAM and MobileSAM "
            "checkpoints are not supported)"
        )
    if _same_shape(found, spec):
        return
    match = next((s for s in SAM_MODELS.values() if _same_shape(found, s)), None)
    wanted = (
        f"the {spec.name} checkpoint {spec.checkpoint_name}" if spec.checkpoint_name else f"a {spec.name} checkpoint"
    )
    if match is not None:
        raise SamCheckpointError(
            f"{path} looks like a {match.name} checkpoint ({match.describe()}), but the "
            f"chosen model is {spec.name}: choose --sam-model {match.name}, or {wanted}"
        )
    raise SamCheckpointError(
        f"{path} does not match the chosen model {spec.name} ({spec.describe()}) nor any "
        f"known SAM model: it has {found.describe()}. Use {wanted}"
    )


def build_sam_model(spec: SamSpec):
    """A randomly initialised SAM of the given spec (segment_anything.build_sam._build_sam), in eval mode."""
    import_segment_anything()
    from segment_anything.build_sam import _build_sam

    return _build_sam(
        encoder_embed_dim=spec.embed_dim,
        encoder_depth=spec.depth,
        encoder_num_heads=spec.num_heads,
        encoder_global_attn_indexes=list(spec.global_attn_indexes),
        checkpoint=None,
    )


def load_sam(checkpoint_path: str | os.PathLike, model_type: str = "vit_h", device: str = "auto"):
    """Build the SAM model ``model_type`` and load ``checkpoint_path`` into it, on ``device`` (eval mode).

    Raises SamUnavailableError (segment-anything not installed), SamCheckpointError (missing, not a torch
    checkpoint, not SAM's, or trained for another model: the message names the model it looks like) or
    MaskSourceError (unknown model type or device).
    """
    spec = get_spec(model_type)
    import_segment_anything()
    device = resolve_device(device)
    path = os.fspath(checkpoint_path)
    state_dict = _read_state_dict(path)
    check_checkpoint(state_dict, spec, path)
    model = build_sam_model(spec)
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        detail = str(exc).splitlines()
        short = "; ".join(line.strip() for line in detail[:4])
        raise SamCheckpointError(
            f"{path} has the {spec.name} encoder's shape but does not load into SAM: {short}"
        ) from exc
    del state_dict
    return model.to(device).eval()
