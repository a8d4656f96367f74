"""NaN / inf detection per property, and the explicit sanitise step that drops affected Gaussians."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .gaussians import GaussianSplat


@dataclass
class FiniteReport:
    """Counts of non-finite values per property, and how many Gaussians have at least one."""

    total: int
    bad_by_property: dict[str, int] = field(default_factory=dict)
    bad_gaussians: int = 0

    @property
    def ok(self) -> bool:
        return self.bad_gaussians == 0

    def summary(self) -> str:
        if self.ok:
            return f"all values finite in {self.total} Gaussians"
        parts = ", ".join(f"{name}: {count}" for name, count in self.bad_by_property.items())
        return (
            f"{self.bad_gaussians} of {self.total} Gaussians hold NaN or infinite values "
            f"(non-finite values per property: {parts})"
        )


def check_finite(splat: GaussianSplat) -> tuple[FiniteReport, np.ndarray]:
    """Report non-finite values; also return the [N] bool mask of Gaussians that are all finite."""
    arrays = [splat.means, splat.quats, splat.log_scales, splat.opacity_logits, splat.sh_dc, splat.sh_rest,
              splat.normals] + [a for a in splat.extras.values() if np.issubdtype(a.dtype, np.floating)]  # fmt: skip
    if all(np.isfinite(a).all() for a in arrays):  # the common case: one fast pass per array
        return FiniteReport(len(splat)), np.ones(len(splat), bool)
    good = np.ones(len(splat), bool)
    bad_by_property: dict[str, int] = {}
    for name, col in splat.columns().items():
        if not np.issubdtype(col.dtype, np.floating):
            continue
        finite = np.isfinite(col)
        n_bad = int(finite.size - np.count_nonzero(finite))
        if n_bad:
            bad_by_property[name] = n_bad
            good &= finite
    report = FiniteReport(len(splat), bad_by_property, int(len(splat) - np.count_nonzero(good)))
    return report, good


def sanitize(splat: GaussianSplat) -> tuple[GaussianSplat, FiniteReport, str]:
    """Drop every Gaussian with a non-finite value. Returns the clean splat, the report, and a sentence
    saying what was changed (empty when nothing was)."""
    report, good = check_finite(splat)
    if report.ok:
        return splat, report, ""
    message = f"sanitised: dropped {report.bad_gaussians} Gaussians with NaN/inf values ({report.summary()})"
    return splat.subset(good), report, message
