"""Resampling sets, re-weighting and the loss on toy cases with known answers."""

from __future__ import annotations

import torch

from engine.training.contrastive_loss import normalise_weights, pair_weights, saga_loss, split_pairs


def toy_corr() -> torch.Tensor:
    """4 pixels, 3 scales. (0,1) always positive; (0,2) positive only at the largest scale; the rest negative."""
    corr = torch.zeros(3, 4, 4, dtype=torch.bool)
    corr[:, 0, 1] = corr[:, 1, 0] = True
    corr[2, 0, 2] = corr[2, 2, 0] = True
    return corr


def test_split_pairs_sets_on_toy_case():
    corr = toy_corr()
    corr_f = torch.zeros(3, 4, 4)
    corr_f[:, 2, 3] = 0.9  # a hard negative (always negative, features say similar)
    corr_f[:, 0, 1] = 0.2  # a hard positive (always positive, features say dissimilar)
    sets = split_pairs(corr, corr_f, torch.Generator().manual_seed(0), min_each=100)
    assert torch.nonzero(sets.inconsistent).tolist() == [[0, 2]]
    assert torch.nonzero(sets.always).tolist() == [[0, 1]]
    assert sorted(map(tuple, torch.nonzero(sets.never).tolist())) == [(0, 3), (1, 2), (1, 3), (2, 3)]
    assert sets.hard_negative[:, 2, 3].all() and sets.hard_positive[:, 0, 1].all()
    assert not sets.hard_negative[:, 1, 3].any()
    # only p1 < p2 pairs: no self pairs, no lower triangle
    for m in (sets.inconsistent, sets.always, sets.never):
        assert not torch.tril(m).any()


def test_balanced_draw_sizes():
    """|Q_in| / 2 drawn from each consistent set (in expectation), at least min_each."""
    P = 300
    gen = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 6, (P,), generator=gen)
    fine = labels[:, None] == labels[None, :]
    coarse = (labels // 2)[:, None] == (labels // 2)[None, :]
    corr = torch.stack([fine, coarse])
    sets = split_pairs(corr, torch.zeros(2, P, P), gen, min_each=10)
    n_in = int(sets.inconsistent.sum())
    for drawn in (sets.positive_draw, sets.negative_draw):
        assert abs(int(drawn.sum()) - n_in / 2) < 0.15 * n_in / 2


def test_weights_are_inverse_area_products_normalised_to_1_10():
    areas = torch.tensor([10.0, 100.0, 1000.0])
    raw = pair_weights(areas)
    assert torch.allclose(raw[0, 1], torch.tensor(1 / 1000.0))
    used = torch.ones(3, 3, dtype=torch.bool)
    w = normalise_weights(raw, used)
    assert torch.isclose(w.min(), torch.tensor(1.0)) and torch.isclose(w.max(), torch.tensor(10.0))
    assert w[0, 0] == w.max() and w[2, 2] == w.min()  # small masks weigh most
    assert torch.equal(normalise_weights(torch.full((2, 2), 3.0), torch.ones(2, 2, dtype=torch.bool)),
                       torch.ones(2, 2))  # fmt: skip


def test_loss_rewards_the_right_similarities():
    corr = toy_corr()
    gates = torch.ones(3, 2)
    areas = torch.full((4,), 50.0)
    good = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])  # 0 ~ 1, others apart
    bad = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])  # 0 ~ 2 ~ 3, 1 apart
    loss_good, _ = saga_loss(good, gates, corr, areas, torch.Generator().manual_seed(0))
    loss_bad, _ = saga_loss(bad, gates, corr, areas, torch.Generator().manual_seed(0))
    assert loss_good < loss_bad
    # unit-norm rendered features: the norm term is zero
    _, stats = saga_loss(good, gates, corr, areas)
    assert abs(stats["norm"]) < 1e-6


def test_loss_is_differentiable_in_features_and_gate():
    corr = toy_corr()
    feats = torch.randn(4, 8, requires_grad=True)
    gate_w = torch.randn(8, requires_grad=True)
    gates = torch.sigmoid(gate_w[None, :] * torch.tensor([[0.0], [0.5], [1.0]]))
    loss, _ = saga_loss(feats, gates, corr, torch.full((4,), 20.0))
    loss.backward()
    assert feats.grad is not None and feats.grad.abs().sum() > 0 and gate_w.grad.abs().sum() > 0


def test_fast_loss_equals_the_literal_one_in_value_gradient_and_stats():
    """saga_loss (one coefficient per pair and scale) against saga_loss_reference (the sets written out), on
    correspondences of real nested masks with hard pairs of both kinds."""
    from engine.training.contrastive_loss import saga_loss_reference
    from engine.training.pixel_identity import mask_correspondence

    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        P, D, M, S = 120, 8, 12, 6
        member = torch.rand(P, M, generator=g) < 0.2
        scales = torch.sort(torch.rand(M, generator=g)).values
        corr = mask_correspondence(member, scales, torch.rand(S, generator=g), "nested", 0.35)
        rendered = torch.randn(P, D, generator=g)
        gate_logits = torch.randn(S, D, generator=g)
        areas = torch.rand(P, generator=g) * 500 + 1
        # known: a close-up's pairs and scales beyond its whole masks are in no set (None: every pair is known)
        for known in (None, torch.rand(S, P, P, generator=g) < 0.6):
            results = []
            for fn in (saga_loss, saga_loss_reference):
                r, gl = rendered.clone().requires_grad_(True), gate_logits.clone().requires_grad_(True)
                loss, stats = fn(r, torch.sigmoid(gl), corr, areas, torch.Generator().manual_seed(5), known)
                loss.backward()
                results.append((loss.detach(), r.grad, gl.grad, stats))
            (l1, gr1, gg1, s1), (l2, gr2, gg2, s2) = results
            assert torch.allclose(l1, l2, atol=1e-6)
            assert torch.allclose(gr1, gr2, atol=1e-7) and torch.allclose(gg1, gg2, atol=1e-7)
            assert gr1.abs().max() > 1e-4  # the pairs do pull on the features
            assert s1["inconsistent_pairs"] == s2["inconsistent_pairs"] > 0
            assert abs(s1["corr"] - s2["corr"]) < 1e-6
