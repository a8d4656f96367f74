"""Hidden Gaussians take the features of the seen ones around them (SPEC 3: features are trained only where a view
sees a Gaussian; the underside of a base, the lower books of a stack and inner faces are never seen).

Untrained features keep their random start and match nothing (or anything), so a selection of the lamp left its
never-seen base Gaussians on the table. After training, every Gaussian whose largest blending weight in the
training views is under ``seen_weight`` takes the mean feature of its known neighbours (seen, or filled in an
earlier round), round after round, outwards from the seen surface. With a 3D segmentation of the splat, only
neighbours of the same segment count, so a hidden face takes its own object's features and not those of the table
it stands on. Gaussians no round reaches (isolated, or a segment with nothing seen) keep their features.

With the Gaussians' colours, the rounds first go only through neighbours of like colour (RGB distance under each of
``COLOUR_STEPS`` in turn, then any): where a hidden face touches another hidden face (the bottom of a lamp's base
lying on the hidden table top under it) the fill reaches each from its own side instead of mixing the two.
"""

from __future__ import annotations

import numpy as np

#: the largest blending weight from which a Gaussian counts as seen (as the accuracy benchmark)
SEEN_WEIGHT = 0.05
MAX_ROUNDS = 64
#: RGB distances (colours in [0, 1]) the fill goes through first, tightest first; then any colour
COLOUR_STEPS = (0.2,)


def fill_hidden_features(features: np.ndarray, visibility: np.ndarray, neighbours: np.ndarray,
                         segments: np.ndarray | None = None, seen_weight: float = SEEN_WEIGHT,
                         max_rounds: int = MAX_ROUNDS, colours: np.ndarray | None = None
                         ) -> tuple[np.ndarray, int]:  # fmt: skip
    """(features [N, D] with the hidden ones filled, how many were filled). ``visibility`` [N] the largest
    training-view blending weight of each Gaussian; ``neighbours`` [N, k] indices (``knn_neighbours``);
    ``segments`` [N] int labels (-1 none) that a neighbour must share, or None; ``colours`` [N, 3] RGB in [0, 1]
    (like colours first), or None."""
    n = features.shape[0]
    assert visibility.shape == (n,) and neighbours.shape[0] == n, (visibility.shape, neighbours.shape, n)
    known = np.asarray(visibility) >= seen_weight
    out, now_known = fill_from_known(features, known, neighbours, segments, max_rounds, colours)
    return out, int(now_known.sum() - known.sum())


def fill_from_known(features: np.ndarray, known: np.ndarray, neighbours: np.ndarray,
                    segments: np.ndarray | None = None, max_rounds: int = MAX_ROUNDS,
                    colours: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(features, known after) as :func:`fill_hidden_features`, the Gaussians whose features are right given as
    ``known`` [N] bool."""
    known = np.asarray(known, bool).copy()
    hidden = np.flatnonzero(~known)
    if len(hidden) == 0 or not known.any():
        return features, known
    nb = neighbours[hidden]
    allowed = np.ones(nb.shape, bool)
    if segments is not None:
        segments = np.asarray(segments)
        allowed = (segments[nb] == segments[hidden][:, None]) & (segments[hidden][:, None] >= 0)
    steps: list[np.ndarray] = [allowed]
    if colours is not None:
        colours = np.asarray(colours, np.float32)
        assert colours.shape == (len(known), 3), colours.shape
        distance = np.linalg.norm(colours[nb] - colours[hidden][:, None, :], axis=2)  # [H, k]
        steps = [allowed & (distance <= tol) for tol in COLOUR_STEPS] + [allowed]
    out = np.array(features, np.float32, copy=True)
    norms = np.linalg.norm(out, axis=1)
    unit = out / np.maximum(norms, 1e-12)[:, None]
    todo = np.ones(len(hidden), bool)
    for step_allowed in steps:
        for _ in range(max_rounds):
            ok = step_allowed & known[nb] & todo[:, None]
            rows = np.flatnonzero(ok.any(axis=1))
            if len(rows) == 0:
                break
            w = ok[rows].astype(np.float32)
            idx = nb[rows]
            mean = np.einsum("rk,rkd->rd", w, unit[idx])
            direction = mean / np.maximum(np.linalg.norm(mean, axis=1), 1e-12)[:, None]
            scale = (w * norms[idx]).sum(1) / w.sum(1)
            target = hidden[rows]
            out[target] = direction * scale[:, None]
            unit[target] = direction
            norms[target] = scale
            known[target] = True
            todo[rows] = False
    return out, known


def fill_hidden_by_levels(features: np.ndarray, visibility: np.ndarray, neighbours: np.ndarray,
                          levels: list[np.ndarray | None], seen_weight: float = SEEN_WEIGHT,
                          colours: np.ndarray | None = None) -> tuple[np.ndarray, int]:  # fmt: skip
    """Fill within each segmentation level in turn, finest first (a hidden face takes its part's features; a
    part nobody sees, its object's), then across segments (``None`` in ``levels``). (features, filled)."""
    known = np.asarray(visibility) >= seen_weight
    start = int(known.sum())
    for segments in levels:
        features, known = fill_from_known(features, known, neighbours, segments, colours=colours)
    return features, int(known.sum()) - start
