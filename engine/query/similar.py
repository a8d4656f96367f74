"""Select Similar: from a selection, every Gaussian whose SAGA feature matches it at a scale, without clicking
(repeated objects: select one chair, get every chair the features tell apart from the rest).

The selection's features become a few query features, as a scribble's do (SPEC 3.8): the unit features of up to
``SAMPLE`` of its Gaussians, grouped by k-means on their gated directions (so a selection holding two kinds of
thing, a seat and legs, keeps both), each group's mean a query. Only Gaussians the training views saw take part
(``visibility`` >= ``SEEN``, when the checkpoint has it): the features of the others were never trained and match
anything (on the query test scene, a mug's unseen Gaussians made half the table "similar"). A Gaussian is selected
when its best gated cosine to a query reaches the threshold (SAGA's 0.75 by default); the selection itself is
always kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .feature_scores import FeatureScorer
from .predictor import DEFAULT_THRESHOLD, check_scale
from .prompts import PromptError, kmeans

SAMPLE = 4096
QUERIES = 4
SEEN = 0.05  # the blending weight from which a Gaussian counts as seen (as the accuracy benchmark)


@dataclass
class Similar:
    ids: np.ndarray  # [M] int64, sorted: the selection and every Gaussian similar to it
    added: int  # of which not in the selection
    queries: int
    notes: list[str] = field(default_factory=list)


def selection_queries(scorer: FeatureScorer, ids: np.ndarray, scale: float, queries: int = QUERIES,
                      seed: int = 0) -> torch.Tensor:  # fmt: skip
    """[Q, D] raw query features of the selection ``ids`` at ``scale`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    sample = ids if len(ids) <= SAMPLE else np.sort(rng.choice(ids, SAMPLE, replace=False))
    f = scorer.features[torch.from_numpy(sample)].to(torch.float64)
    unit = f / f.norm(dim=1, keepdim=True).clamp_min(1e-12)
    gated = unit * scorer.gate(scale).to(torch.float64)
    gated = (gated / gated.norm(dim=1, keepdim=True).clamp_min(1e-12)).cpu().numpy()
    centres = kmeans(gated, queries, seed=seed)
    assign = ((gated[:, None] - centres[None]) ** 2).sum(-1).argmin(axis=1)
    unit = unit.cpu().numpy()
    groups = [unit[assign == j].mean(axis=0) for j in range(len(centres)) if (assign == j).any()]
    return torch.from_numpy(np.stack(groups).astype(np.float32))


def select_similar(scorer: FeatureScorer, ids, scale: float, threshold: float = DEFAULT_THRESHOLD,
                   visibility: np.ndarray | None = None, seed: int = 0) -> Similar:  # fmt: skip
    """The Gaussians similar to the selection ``ids`` (Gaussian indices) at a unit ``scale`` in [0, 1];
    ``visibility`` [N] (the checkpoint's) keeps the never-seen Gaussians out of the queries."""
    check_scale(scale)
    if not (-1.0 <= float(threshold) <= 1.0):
        raise PromptError(f"threshold {threshold} is outside [-1, 1] (cosine similarity; SAGA uses 0.75)")
    ids = np.asarray(ids)
    if ids.size == 0:
        raise PromptError("the selection is empty: select some Gaussians first")
    if ids.dtype.kind not in "iub":
        raise PromptError(f"the selection must be integer Gaussian ids, not {ids.dtype}")
    ids = np.unique(ids.astype(np.int64).ravel())
    if len(ids) == 0:
        raise PromptError("the selection is empty: select some Gaussians first")
    if ids[0] < 0 or ids[-1] >= len(scorer):
        raise PromptError(f"the selection names Gaussians outside the scene's {len(scorer)} (ids {ids[0]}..{ids[-1]})")
    notes = []
    sources = ids
    if visibility is not None:
        seen = ids[np.asarray(visibility)[ids] >= SEEN]
        if len(seen):
            sources = seen
        else:
            notes.append("no Gaussian of the selection was seen in training: its features are untrained guesses")
    queries = selection_queries(scorer, sources, scale, seed=seed)
    scores = scorer.best_scores(queries, scale)
    chosen = torch.nonzero(scores >= float(threshold)).squeeze(1).cpu().numpy().astype(np.int64)
    result = np.union1d(chosen, ids)
    if len(sources) > SAMPLE:
        notes.append(f"the selection's features were sampled ({SAMPLE} of {len(sources)})")
    return Similar(result, int(len(result) - len(ids)), len(queries), notes)
