"""The scene predictor: load a trained scene once, then answer many prompts fast (SPEC section 3.8).

Shaped like segment-anything's ``SamPredictor``: the expensive part (reading the splat and the features,
the per-camera projection of centres) is done once and kept; each prompt costs the contributors of its
pixels (``PixelContributorFinder``), a few query features, one pass of scores over the features, and a
comparison. Work is cached in layers, so changing only the threshold re-uses the scores, and changing only the
scale re-uses the query features.

Multi-prompt rule: a Gaussian is selected when its best positive score beats its best negative score and
reaches the threshold. Scribbles and masks become a few query features (k-means of the features under them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.render.pixel_contributors import PixelContributorFinder
from engine.render.splat_tensors import splat_to_tensors
from engine.training.checkpoint import SceneCheckpoint
from saga_blender.core.gaussians import GaussianSplat

from .feature_scores import FeatureScorer
from .postprocess import PostProcess, apply_postprocess
from .prompts import PromptError, Prompts, QueryCamera, kmeans, polyline_pixels, sample_pixels

DEFAULT_THRESHOLD = 0.75
#: a positive click whose pixel accumulates less alpha than this hits empty background
MIN_CLICK_ALPHA = 0.25
SCRIBBLE_PIXELS = 128
MASK_PIXELS = 512
REGION_QUERIES = 4  # query features per scribble or mask (k-means centres)
View = tuple[QueryCamera, Prompts]  # prompts given in one camera


@dataclass
class Selection:
    """ids [M] int64 (sorted) of the selected Gaussians and their scores [M] (best positive cosine)."""

    ids: np.ndarray
    scores: np.ndarray
    scale: float
    threshold: float
    notes: list[str] = field(default_factory=list)
    timings_ms: dict = field(default_factory=dict)


@dataclass
class _QueryFeatures:
    positive: torch.Tensor | None  # [Qp, D]
    negative: torch.Tensor | None  # [Qn, D]
    notes: list[str]


class ScenePredictor:
    """A trained scene, ready for prompts: a splat and its checkpoint (``engine.api.trained_scene.open_trained`` opens
    a work folder into one)."""

    def __init__(self, splat: GaussianSplat, checkpoint: SceneCheckpoint, device: str = "cpu"):
        if len(splat) != len(checkpoint.features):
            raise ValueError(f"the checkpoint has features for {len(checkpoint.features)} Gaussians, the scene has "
                             f"{len(splat)}: it was trained for another scene")  # fmt: skip
        self.splat = splat
        self.checkpoint = checkpoint
        self.device = torch.device(device)
        self.finder = PixelContributorFinder(splat_to_tensors(splat, self.device))
        self.scorer = FeatureScorer(checkpoint.features, checkpoint.gate_weight, checkpoint.gate_bias, self.device)
        self._query_cache: dict[tuple, _QueryFeatures] = {}
        self._score_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def __len__(self) -> int:
        return len(self.splat)

    # -- query features -------------------------------------------------------------------------------------

    def _pixel_features(self, camera: QueryCamera, pixels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(F(p) [P, D] = sum_k w_k f_k / |f_k| over each pixel's contributors, alpha [P])."""
        vm = torch.from_numpy(camera.viewmat.astype(np.float32))
        K = torch.from_numpy(camera.K.astype(np.float32))
        pix = torch.from_numpy(np.asarray(pixels, np.int64).reshape(-1, 2))
        contrib = self.finder.find(vm, K, camera.width, camera.height, pix, top_k=None, camera_model=camera.model)
        ids, w = contrib.ids, contrib.weights
        if ids.shape[1] == 0:  # no Gaussian reaches these pixels
            return torch.zeros(len(ids), self.scorer.dim, device=ids.device), contrib.alphas
        f = self.scorer.features[ids.clamp_min(0).reshape(-1)].reshape(*ids.shape, -1)  # [P, K, D]
        f = f / f.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return (f * (w * (ids >= 0))[..., None]).sum(dim=1), contrib.alphas

    def _region_queries(self, camera: QueryCamera, pixels: np.ndarray, what: str, required: bool,
                        notes: list[str]) -> torch.Tensor | None:  # fmt: skip
        feats, alpha = self._pixel_features(camera, pixels)
        keep = alpha >= MIN_CLICK_ALPHA
        if not bool(keep.any()):
            if required:
                raise PromptError(f"the {what} lies entirely on empty background: there is nothing under it to select")
            notes.append(f"the {what} lies on empty background and was ignored")
            return None
        f = feats[keep].cpu().numpy()
        f = f / np.linalg.norm(f, axis=1, keepdims=True).clip(1e-12)
        return torch.from_numpy(kmeans(f, REGION_QUERIES).astype(np.float32))

    def query_features(self, camera: QueryCamera, prompts: Prompts) -> _QueryFeatures:
        """The positive and negative query features of the prompts (cached per camera and prompts)."""
        key = (camera.key(), prompts.key())
        hit = self._query_cache.get(key)  # one read: other threads replace the dict, never change it
        if hit is not None:
            return hit
        prompts.check_inside(camera)
        notes: list[str] = []
        pos: list[torch.Tensor] = []
        neg: list[torch.Tensor] = []
        points = np.concatenate([prompts.positive, prompts.negative])
        if len(points):
            feats, alpha = self._pixel_features(camera, np.floor(points).astype(np.int64))
            for i, (x, y) in enumerate(points):
                positive = i < len(prompts.positive)
                if float(alpha[i]) < MIN_CLICK_ALPHA:
                    if positive:
                        raise PromptError(
                            f"the click at ({x:g}, {y:g}) hits empty background (accumulated opacity "
                            f"{float(alpha[i]):.2f}): there is no object there to select"
                        )
                    notes.append(f"negative click at ({x:g}, {y:g}) is on empty background and was ignored")
                    continue
                (pos if positive else neg).append(feats[i : i + 1])
        for scribbles, target, label in [(prompts.positive_scribbles, pos, "positive"),
                                         (prompts.negative_scribbles, neg, "negative")]:  # fmt: skip
            for s in scribbles:
                px = sample_pixels(polyline_pixels(s, camera.width, camera.height), SCRIBBLE_PIXELS)
                q = self._region_queries(camera, px, f"{label} scribble", label == "positive", notes)
                if q is not None:
                    target.append(q)
        if prompts.mask is not None and prompts.mask.any():
            ys, xs = np.nonzero(prompts.mask)
            px = sample_pixels(np.stack([xs, ys], axis=1), MASK_PIXELS)
            pos.append(self._region_queries(camera, px, "mask", True, notes))
        result = _QueryFeatures(torch.cat(pos) if pos else None, torch.cat(neg) if neg else None, notes)
        self._query_cache = {key: result, **dict(list(self._query_cache.items())[:7])}
        return result

    # -- scores and selection -------------------------------------------------------------------------------

    def combined_features(self, views: list[View]) -> _QueryFeatures:
        """Query features of prompts given in several views (each view's features are its own; a point's query
        feature does not depend on the view once computed): positives and negatives of all views together."""
        parts = [self.query_features(camera, prompts) for camera, prompts in views]
        pos = [q.positive for q in parts if q.positive is not None]
        neg = [q.negative for q in parts if q.negative is not None]
        if not pos:
            raise PromptError("nothing to select: no positive point, scribble or mask in any view")
        return _QueryFeatures(torch.cat(pos), torch.cat(neg) if neg else None, [n for q in parts for n in q.notes])

    def scores(self, camera: QueryCamera, prompts: Prompts, scale: float,
               more_views: Sequence[View] = ()) -> tuple[torch.Tensor, torch.Tensor | None]:  # fmt: skip
        """([N] best positive score, [N] best negative score or None) at ``scale`` (cached)."""
        check_scale(scale)
        views = [(camera, prompts), *more_views]
        key = (*((c.key(), p.key()) for c, p in views), float(scale))
        hit = self._score_cache.get(key)  # one read: other threads replace the dict, never change it
        if hit is not None:
            return hit
        q = self.combined_features(views)
        pos = self.scorer.best_scores(q.positive, scale)
        neg = self.scorer.best_scores(q.negative, scale) if q.negative is not None else None
        self._score_cache = {key: (pos, neg), **dict(list(self._score_cache.items())[:3])}
        return pos, neg

    def predict(self, camera: QueryCamera, prompts: Prompts, scale: float, threshold: float = DEFAULT_THRESHOLD,
                postprocess: PostProcess | None = None,
                more_views: Sequence[View] = ()) -> Selection:  # fmt: skip
        """Select the Gaussians the prompts point at, at a unit ``scale`` in [0, 1] (0 finest, 1 coarsest).
        ``more_views``: (camera, prompts) of points clicked in other views, combined with these."""
        if not (-1.0 <= float(threshold) <= 1.0):
            raise PromptError(f"threshold {threshold} is outside [-1, 1] (cosine similarity; SAGA uses 0.75)")
        t0 = time.perf_counter()
        q = self.combined_features([(camera, prompts), *more_views])
        t1 = time.perf_counter()
        pos, neg = self.scores(camera, prompts, scale, more_views)
        t2 = time.perf_counter()
        chosen = pos >= float(threshold)
        if neg is not None:
            chosen &= pos > neg
        ids = torch.nonzero(chosen).squeeze(1)
        notes = list(q.notes)
        if postprocess is not None and len(ids):
            ids = torch.from_numpy(apply_postprocess(self.splat.means, ids.cpu().numpy(), postprocess, notes))
        ids = ids.cpu()
        result = Selection(ids.numpy().astype(np.int64), pos.cpu()[ids].numpy().astype(np.float32), float(scale),
                           float(threshold), notes)  # fmt: skip
        t3 = time.perf_counter()
        result.timings_ms = {"prompts": 1e3 * (t1 - t0), "scores": 1e3 * (t2 - t1), "select": 1e3 * (t3 - t2)}
        return result


def check_scale(scale: float) -> None:
    if not (0.0 <= float(scale) <= 1.0):
        raise PromptError(f"scale {scale} is outside [0, 1] (0 = finest parts, 1 = whole scene groups)")
