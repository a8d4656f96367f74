"""The neighbour grid, connected components, and Grow / Shrink: exact against brute-force distances."""

from __future__ import annotations

import numpy as np
import pytest

from saga_blender.core import grow_shrink as gs
from saga_blender.core.point_grid import PointGrid, connected_components


def surface_points(n=6000, seed=0):
    """Points on two separated patches and a curved sheet, with uneven density (as a splat's surfaces)."""
    rng = np.random.default_rng(seed)
    a = np.c_[rng.uniform(0, 1, (n // 3, 2)), rng.normal(0, 0.003, n // 3)]
    b = np.c_[rng.uniform(1.2, 1.6, (n // 3, 2)) ** 2, rng.normal(0.5, 0.003, n // 3)]
    t = rng.uniform(0, np.pi, n - 2 * (n // 3))
    c = np.c_[0.5 + 0.4 * np.cos(t), rng.uniform(0, 1, len(t)), 0.4 * np.sin(t)]
    return np.concatenate([a, b, c])


def brute_within(p, seeds, candidates, hop):
    d2 = ((p[candidates][:, None, :] - p[seeds][None, :, :]) ** 2).sum(-1) if seeds.any() else np.zeros((0, 0))
    out = np.zeros(len(p), bool)
    if seeds.any() and candidates.any():
        out[np.flatnonzero(candidates)[(d2 <= hop * hop).any(axis=1)]] = True
    return out


def brute_spread(p, seeds, target, hop, steps):
    reached, frontier, remaining = np.zeros(len(p), bool), seeds.copy(), target & ~seeds
    for _ in range(steps):
        new = brute_within(p, frontier, remaining, hop)
        if not new.any():
            break
        reached |= new
        remaining &= ~new
        frontier = new
    return reached


def test_grid_cells_and_neighbours():
    p = np.array([[0.0, 0, 0], [0.02, 0, 0], [0.13, 0, 0], [0.5, 0.5, 0.5], [-0.09, 0.09, 0.01], [0.33, 0, 0]])
    g = PointGrid(p, 0.1)
    coords = np.floor((p - g.origin) / 0.1).astype(int)  # the cell of each point
    assert len(g) == len({tuple(c) for c in coords}) and g.counts.sum() == len(p)
    same = (coords[:, None] == coords[None]).all(-1)
    np.testing.assert_array_equal(g.cell_of[:, None] == g.cell_of[None], same)
    near = set(g.points_in(g.neighbour_cells(np.array([g.cell_of[0]]))).tolist())
    expected = {i for i in range(len(p)) if np.abs(coords[i] - coords[0]).max() <= 1}
    assert near == expected and 3 not in near and 5 not in near
    rows, cells, rings = g.neighbour_pairs(np.array([g.cell_of[0]]))
    assert set(cells.tolist()) == {g.cell_of[i] for i in expected} and (rows == 0).all()
    ring_of = dict(zip(cells.tolist(), rings.tolist(), strict=True))
    for i in expected:
        assert ring_of[g.cell_of[i]] == np.abs(coords[i] - coords[0]).sum()
    with pytest.raises(ValueError, match="too small"):
        PointGrid(np.array([[0.0, 0, 0], [1e6, 0, 0]]), 1e-3)


def test_connected_components_of_a_chain_and_islands():
    a, b = np.array([0, 1, 2, 5]), np.array([1, 2, 3, 6])
    label = connected_components(8, a, b)
    assert len(set(label[[0, 1, 2, 3]])) == 1 and label[5] == label[6]
    assert len(set(label.tolist())) == 4  # {0-3}, {4}, {5, 6}, {7}
    assert label[3] == 0  # labelled by the smallest node


@pytest.mark.parametrize("hop_factor", [0.6, 1.0, 2.5])
@pytest.mark.parametrize("steps", [1, 3])
def test_grow_and_shrink_are_exact(hop_factor, steps):
    p = surface_points()
    spacing = 0.02
    hop = hop_factor * spacing
    grid = PointGrid(p, gs.grid_cell_for(hop, spacing))
    assert grid.cell >= hop
    rng = np.random.default_rng(1)
    for selection in (np.linalg.norm(p - p[10], axis=1) < 0.15, rng.random(len(p)) < 0.05):
        grown = gs.grow(p, grid, selection, hop, steps)
        np.testing.assert_array_equal(grown, selection | brute_spread(p, selection, ~selection, hop, steps))
        shrunk = gs.shrink(p, grid, selection, hop, steps)
        np.testing.assert_array_equal(shrunk, selection & ~brute_spread(p, ~selection, selection, hop, steps))
        assert (grown >= selection).all() and (shrunk <= selection).all()


def test_growth_follows_surfaces_and_stops_at_gaps():
    p = surface_points()
    grid = PointGrid(p, 0.04)
    start = np.zeros(len(p), bool)
    start[0] = True  # on patch a
    everything = gs.grow(p, grid, start, 0.04, steps=200)
    patch_a = np.arange(len(p)) < 2000
    assert everything[patch_a].mean() > 0.99  # the whole patch is reached in hops
    assert not everything[2000:4000].any()  # patch b is more than a hop away: never reached


def test_an_isolated_fully_selected_island_does_not_shrink():
    p = surface_points()
    island = np.zeros(len(p), bool)
    island[2000:4000] = True  # patch b, far from everything else
    grid = PointGrid(p, 0.04)
    np.testing.assert_array_equal(gs.shrink(p, grid, island, 0.03, 5), island)


def test_spacing_and_hops():
    log_scales = np.log(np.array([[0.01, 0.04, 0.0001]] * 5))
    assert gs.neighbour_spacing(log_scales) == pytest.approx(2 * 0.02)
    assert gs.hops_for_distance(0.07, 0.04) == (1, 0.07)
    count, hop = gs.hops_for_distance(1.0, 0.04)
    assert count == 13 and hop == pytest.approx(1 / 13) and hop <= gs.MAX_HOP_IN_SPACINGS * 0.04
    assert gs.hops_for_distance(1e9, 1e-6)[0] == gs.MAX_HOPS
    with pytest.raises(ValueError):
        gs.hops_for_distance(0.0, 0.04)
    assert gs.grid_cell_for(0.03, 0.02) == pytest.approx(0.04) and gs.grid_cell_for(0.01, 0.02) == pytest.approx(0.01)
