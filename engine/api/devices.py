"""Which device a job runs on."""

from __future__ import annotations

from .prepare_spec import SpecError


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' where a CUDA GPU is present, else 'cpu'; 'cuda' without one is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SpecError("{device} cuda: no CUDA GPU is available here (use cpu)")
    if device not in ("cpu", "cuda"):
        raise SpecError(f"{{device}}: expected auto, cpu or cuda, got {device!r}")
    return device
