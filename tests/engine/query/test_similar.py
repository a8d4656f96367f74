"""Select Similar: repeated things whose features match are found from one of them; the selection is kept; bad
input is refused with one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.query.feature_scores import FeatureScorer
from engine.query.prompts import PromptError
from engine.query.similar import SAMPLE, select_similar, selection_queries


def scorer_with_groups(sizes, centres_of, dim=16, noise=0.15, seed=0):
    """Features: group g's Gaussians at centre centres_of[g] plus noise; an open gate (all dimensions on)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(centres_of) + 1, dim))
    label = np.repeat(np.arange(len(sizes)), sizes)
    features = centres[np.asarray(centres_of)[label]] + noise * rng.normal(size=(len(label), dim))
    return FeatureScorer(features.astype(np.float32), np.zeros(dim), np.full(dim, 6.0)), label


def test_repeated_objects_are_found_from_one_of_them():
    # groups 0 and 2 are "the same kind of chair" (same centre); 1 and 3 are other things
    scorer, label = scorer_with_groups([300, 500, 280, 400], [0, 1, 0, 2])
    chair = np.flatnonzero(label == 0)
    result = select_similar(scorer, chair, scale=0.5, threshold=0.75)
    got = np.zeros(len(label), bool)
    got[result.ids] = True
    assert got[label == 0].all()  # the selection is kept
    assert got[label == 2].mean() > 0.95  # the other chair
    assert not got[(label == 1) | (label == 3)].any()
    assert result.added == int(got.sum()) - len(chair)


def test_a_mixed_selection_keeps_each_kind_and_the_threshold_tightens():
    scorer, label = scorer_with_groups([200, 200, 200, 200, 200], [0, 1, 0, 1, 2])
    mixed = np.r_[np.flatnonzero(label == 0)[:50], np.flatnonzero(label == 1)[:50]]
    result = select_similar(scorer, mixed, 0.5)
    got = np.isin(np.arange(len(label)), result.ids)
    assert got[label <= 3].mean() > 0.95 and not got[label == 4].any()
    assert result.queries >= 2
    strict = select_similar(scorer, mixed, 0.5, threshold=0.999)
    assert len(strict.ids) < len(result.ids)
    assert set(mixed.tolist()) <= set(strict.ids.tolist())


def test_queries_are_sampled_for_a_big_selection_and_deterministic():
    scorer, label = scorer_with_groups([SAMPLE + 3000, 1000], [0, 1])
    ids = np.flatnonzero(label == 0)
    a, b = select_similar(scorer, ids, 0.3), select_similar(scorer, ids, 0.3)
    np.testing.assert_array_equal(a.ids, b.ids)
    assert a.notes and str(SAMPLE) in a.notes[0]
    q = selection_queries(scorer, ids, 0.3)
    assert q.shape[1] == 16 and q.dtype == torch.float32


def test_bad_requests_say_what_is_wrong():
    scorer, _ = scorer_with_groups([10, 10], [0, 1])
    with pytest.raises(PromptError, match="empty"):
        select_similar(scorer, [], 0.5)
    with pytest.raises(PromptError, match="outside the scene's 20"):
        select_similar(scorer, [3, 20], 0.5)
    with pytest.raises(PromptError, match="scale"):
        select_similar(scorer, [1], 1.5)
    with pytest.raises(PromptError, match="threshold"):
        select_similar(scorer, [1], 0.5, threshold=2.0)


def test_unseen_gaussians_stay_out_of_the_queries():
    scorer, label = scorer_with_groups([300, 300, 300], [0, 1, 2])
    # the selection: group 0, plus some never-seen Gaussians whose (untrained) features look like group 1
    features = scorer.features.clone()
    strays = np.flatnonzero(label == 1)[:60]
    selection = np.r_[np.flatnonzero(label == 0), strays]
    visibility = np.ones(len(label))
    visibility[strays] = 0.0
    scorer = FeatureScorer(features, np.zeros(16), np.full(16, 6.0))
    blind = np.isin(np.arange(len(label)), select_similar(scorer, selection, 0.5).ids)
    seeing = select_similar(scorer, selection, 0.5, visibility=visibility)
    got = np.isin(np.arange(len(label)), seeing.ids)
    assert blind[label == 1].mean() > 0.9  # the strays' features pull group 1 in
    assert got[label == 0].all() and got[label == 1].mean() < 0.25 and not got[label == 2].any()
    none_seen = select_similar(scorer, strays, 0.5, visibility=visibility)
    assert "never" in none_seen.notes[0] or "untrained" in none_seen.notes[0]


def test_on_trained_features_an_object_is_similar_to_itself_not_to_the_rest(trained):
    from engine.api.trained_scene import open_trained

    scene = trained["scene"]
    predictor = open_trained(trained["workdir"], trained["scene_path"]).predictor
    names = scene.object_names
    for name in ("bowl", "lamp"):
        ids = np.flatnonzero(scene.object_id == names.index(name))
        part = ids[:: max(1, len(ids) // 200)]  # a part of it
        result = select_similar(predictor.scorer, part, 0.5, visibility=predictor.checkpoint.visibility)
        got = np.isin(np.arange(len(scene.splat)), result.ids)
        assert got[ids].mean() > 0.8, name
        others = [got[scene.object_id == i].mean() for i in range(len(names)) if i != names.index(name)]
        assert max(others) < 0.05, (name, others)
