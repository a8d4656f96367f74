"""Hidden Gaussians take the features of the seen ones of their own segment, outwards from the seen surface."""

from __future__ import annotations

import numpy as np

from engine.training.hidden_gaussians import fill_hidden_by_levels, fill_hidden_features
from engine.training.trainer import knn_neighbours


def two_touching_boxes(seed: int = 0):
    """Two boxes side by side (x < 0: object 0, x >= 0: object 1); only their top faces are seen, each with its own
    feature; their insides and the faces where they touch are hidden."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform([-1, -0.5, 0], [1, 0.5, 1], (6000, 3))
    label = (pts[:, 0] >= 0).astype(np.int64)
    seen = pts[:, 2] > 0.9
    features = rng.normal(size=(len(pts), 8)).astype(np.float32)  # untrained: random
    truth = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0]], np.float32) * 3.0
    features[seen] = truth[label[seen]]
    visibility = np.where(seen, 0.5, 0.0)
    return pts, label, features, visibility, truth


def test_every_hidden_gaussian_takes_its_own_segments_feature():
    pts, label, features, visibility, truth = two_touching_boxes()
    out, filled = fill_hidden_features(features, visibility, knn_neighbours(pts, 12), segments=label)
    assert filled == int((visibility < 0.05).sum())
    unit = out / np.linalg.norm(out, axis=1, keepdims=True)
    assert (unit @ (truth / 3.0).T).argmax(axis=1).tolist() == label.tolist()  # each box its own, even where they touch
    assert np.allclose(np.linalg.norm(out, axis=1), 3.0, atol=1e-4)  # the seen ones' length, not the random start
    seen = visibility >= 0.05
    assert np.array_equal(out[seen], features[seen])  # seen Gaussians are never changed


def test_without_segments_the_boundary_is_shared_and_with_them_it_is_not():
    pts, label, features, visibility, truth = two_touching_boxes(1)
    nb = knn_neighbours(pts, 12)
    plain, _ = fill_hidden_features(features, visibility, nb)
    by_segment, _ = fill_hidden_features(features, visibility, nb, segments=label)
    near = np.abs(pts[:, 0]) < 0.03
    wrong = lambda f: ((f / np.linalg.norm(f, axis=1, keepdims=True)) @ truth.T).argmax(1) != label  # noqa: E731
    assert wrong(plain)[near].sum() > 0 and wrong(by_segment)[near].sum() == 0


def test_a_segment_nobody_sees_is_filled_by_the_next_level_and_isolated_points_keep_theirs():
    pts, label, features, visibility, _ = two_touching_boxes(2)
    parts = label * 2 + (pts[:, 2] < 0.3)  # the lower third of each box: a part nobody sees
    far = np.array([[50.0, 50.0, 50.0]] * 3)  # isolated Gaussians: no neighbour near (their k-NN are each other)
    pts = np.vstack([pts, far])
    features = np.vstack([features, np.ones((3, 8), np.float32)])
    visibility = np.r_[visibility, np.zeros(3)]
    parts, label = np.r_[parts, [9, 9, 9]], np.r_[label, [9, 9, 9]]
    nb = knn_neighbours(pts, 12)
    only_parts, n1 = fill_hidden_by_levels(features, visibility, nb, [parts])
    lower = np.flatnonzero(pts[:, 2] < 0.3)
    assert np.array_equal(only_parts[lower], features[lower])
    both, n2 = fill_hidden_by_levels(features, visibility, nb, [parts, label])
    assert n2 > n1 and not np.array_equal(both[lower], features[lower])
    assert np.array_equal(both[-3:], features[-3:])  # nothing seen near them: left as they are


def test_nothing_seen_changes_nothing():
    pts, _, features, _, _ = two_touching_boxes()
    out, filled = fill_hidden_features(features, np.zeros(len(pts)), knn_neighbours(pts, 8))
    assert filled == 0 and np.array_equal(out, features)
