"""The mask source a prepare asks for, built and checked before training starts."""

from __future__ import annotations

import os

from engine.masks.source import MaskSource, MaskSourceError

from .prepare_spec import ResolvedPrepare
from .view_plans import ViewPlan


def make_mask_source(run: ResolvedPrepare, views: ViewPlan, splat) -> MaskSource:
    """SAM (a checkpoint you bring), your masks (checked against every view now), or weights-free masks: from each
    picture alone (the default) or from the splat's 3D segmentation (``geometric``)."""
    spec = run.spec
    if spec.masks == "sam":
        from engine.masks.sam_source import SamMaskSource

        if not os.path.isfile(spec.sam_checkpoint):
            raise MaskSourceError(f"{spec.sam_checkpoint}: SAM checkpoint not found (download it from the "
                                  "segment-anything repository, or use the weights-free masks)")  # fmt: skip
        return SamMaskSource(spec.sam_checkpoint, spec.sam_model, run.device)
    if spec.masks == "dir":
        from engine.masks.user_masks import UserMaskSource

        source = UserMaskSource(spec.masks_dir)
        source.check_folder(_view_sizes(views), allow_extra=True)
        return source
    if spec.masks == "geometric":
        from engine.masks.geometric import GeometricMaskSource

        return GeometricMaskSource(splat, views.cameras, device=run.device)
    from engine.masks.weights_free import WeightsFreeMaskSource

    return WeightsFreeMaskSource()


class _ViewSize:
    def __init__(self, name: str, width: int, height: int, source_size: tuple[int, int]):
        self.name, self.width, self.height, self.source_size = name, width, height, source_size


def _view_sizes(views: ViewPlan) -> list[_ViewSize]:
    w, h = views.training_size
    own = (views.cameras.width, views.cameras.height)
    return [_ViewSize(name, w, h, own) for name in views.cameras.names]
