"""Reading the scene a command or a request names: the splat, how it was read, its content hash. No printing:
what a sanitising read changed is in ``SceneFile.sanitized`` for the shell to show."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from saga_blender.core.errors import SplatFileError
from saga_blender.core.gaussians import GaussianSplat

#: log scales beyond these are not a surface of any capture (e^20 ~ 5e8 times the unit, e^-40 ~ 4e-18)
HUGE_LOG_SCALE = 20.0
TINY_LOG_SCALE = -40.0


@dataclass
class SceneFile:
    path: str  # absolute
    splat: GaussianSplat
    format: str
    sanitize: bool
    sanitized: str = ""  # what sanitising dropped ("" when nothing)
    _hash: str | None = field(default=None, repr=False)

    @property
    def content_hash(self) -> str:
        """SHA-256 of every property (computed once: about half a second at 1M Gaussians)."""
        if self._hash is None:
            self._hash = self.splat.content_hash()
        return self._hash

    def __len__(self) -> int:
        return len(self.splat)


def read_scene(path: str | os.PathLike, sanitize: bool = False) -> SceneFile:
    """Read a splat file (any supported format). Raises SplatFileError naming the file and the problem."""
    from saga_blender.core.splat_io import read_splat

    path = os.path.abspath(os.fspath(path))
    result = read_splat(path, sanitize=sanitize)
    return SceneFile(path, result.splat, result.format, sanitize, result.sanitized)


def degenerate_gaussians(splat: GaussianSplat) -> str:
    """A sentence about Gaussians no capture would hold (absurdly large or vanishing scales), or ""."""
    if len(splat) == 0:
        return ""
    largest, smallest = splat.log_scales.max(axis=1), splat.log_scales.min(axis=1)
    huge, tiny = int((largest > HUGE_LOG_SCALE).sum()), int((smallest < TINY_LOG_SCALE).sum())
    parts = []
    if huge:
        parts.append(f"{huge} have a scale above e^{HUGE_LOG_SCALE:g} (log scale up to {float(largest.max()):.3g})")
    if tiny:
        parts.append(f"{tiny} have a scale below e^{TINY_LOG_SCALE:g} (log scale down to {float(smallest.min()):.3g})")
    return f"of {len(splat)} Gaussians, " + " and ".join(parts) if parts else ""


def check_trainable(scene: SceneFile) -> None:
    """Refuse a scene that cannot be prepared, saying why (empty, or nearly all Gaussians degenerate)."""
    splat = scene.splat
    if len(splat) == 0:
        raise SplatFileError(scene.path, "the file holds no Gaussians: nothing to prepare")
    largest, smallest = splat.log_scales.max(axis=1), splat.log_scales.min(axis=1)
    usable = (largest <= HUGE_LOG_SCALE) & (smallest >= TINY_LOG_SCALE)
    if np.count_nonzero(usable) < max(1, 0.01 * len(splat)):
        problem = f"cannot prepare this scene: {degenerate_gaussians(splat)}"
        raise SplatFileError(scene.path, problem + "; log scales of a capture lie around -10..2 (was the file "
                                                   "written with linear scales?)")  # fmt: skip


def describe_scene_file(path: str | os.PathLike) -> dict:
    """What ``saga-engine info`` prints: count, format, SH degree, bounds of the finite Gaussians, extras, the NaN/inf
    report and notes on degenerate Gaussians. Never refuses a readable file (NaN/inf, empty, all non-finite)."""
    from saga_blender.core.errors import NonFiniteValuesError
    from saga_blender.core.finite_check import check_finite
    from saga_blender.core.splat_io import read_splat

    path = os.fspath(path)
    try:
        result = read_splat(path, sanitize=False)
        report = result.finite_report
    except NonFiniteValuesError as exc:
        result = read_splat(path, sanitize=True)
        report = exc.report
    splat = result.splat
    finite = check_finite(splat)[1]
    means = splat.means[finite]
    notes = [n for n in [degenerate_gaussians(splat)] if n]
    if report.total == 0:
        notes.append("the file holds no Gaussians")
    elif len(means) == 0:
        notes.append("no Gaussian is free of NaN/inf values")
    return {
        "file": os.path.abspath(path),
        "format": result.format,
        "encoding": result.encoding,
        "count": report.total,
        "sh_degree": splat.sh_degree,
        "bounds_min": [round(float(v), 6) for v in means.min(0)] if len(means) else None,
        "bounds_max": [round(float(v), 6) for v in means.max(0)] if len(means) else None,
        "extra_properties": list(splat.extras),
        "non_finite": {"gaussians": report.bad_gaussians, "by_property": report.bad_by_property},
        "non_finite_summary": report.summary(),
        "notes": notes,
    }
