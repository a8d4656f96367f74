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


def test_like_colours_first_keeps_a_hidden_base_bottom_apart_from_the_hidden_table_under_it():
    """A dark disc (a lamp's base) lies on a light slab (the table top). Seen: the slab's top outside the disc, the
    disc's top and side; hidden: the disc's bottom and the slab's top under it, 2 mm apart. Without segments, the
    colours keep each hidden face with its own side."""
    rng = np.random.default_rng(3)
    slab = np.c_[rng.uniform(-0.5, 0.5, (8000, 2)), np.zeros(8000)]
    angle, radius = rng.uniform(0, 2 * np.pi, 3000), 0.1 * np.sqrt(rng.uniform(0, 1, 3000))
    disc = np.c_[radius * np.cos(angle), radius * np.sin(angle), np.zeros(3000)]
    disc_top, disc_bottom = disc[:1500] + np.array([0, 0, 0.02]), disc[1500:] + np.array([0, 0, 0.002])
    around = rng.uniform(0, 2 * np.pi, 600)
    side = np.c_[0.1 * np.cos(around), 0.1 * np.sin(around), rng.uniform(0.002, 0.02, 600)]
    pts = np.concatenate([slab, disc_top, disc_bottom, side])
    label = np.r_[np.zeros(8000, int), np.ones(3600, int)]
    colours = np.where(label[:, None] == 1, [0.12, 0.12, 0.13], [0.6, 0.42, 0.25]) + rng.normal(0, 0.03, (len(pts), 3))
    seen = np.r_[np.linalg.norm(slab[:, :2], axis=1) > 0.1, np.ones(1500, bool), np.zeros(1500, bool),
                 np.ones(600, bool)]  # fmt: skip
    truth = np.eye(8, dtype=np.float32)[:2] * 3.0
    features = rng.normal(size=(len(pts), 8)).astype(np.float32)
    features[seen] = truth[label[seen]]
    visibility = np.where(seen, 0.5, 0.0)
    nb = knn_neighbours(pts, 16)
    hidden_bottom = np.arange(9500, 11000)

    def wrong(out):
        return int(((out @ truth.T).argmax(axis=1) != label)[hidden_bottom].sum())

    plain, _ = fill_hidden_features(features, visibility, nb)
    coloured, filled = fill_hidden_features(features, visibility, nb, colours=np.clip(colours, 0, 1))
    assert filled == int((~seen).sum())
    assert wrong(coloured) <= 0.01 * len(hidden_bottom) < wrong(plain), (wrong(coloured), wrong(plain))
