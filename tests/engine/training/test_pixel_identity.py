"""Both identity rules (SAGA's eq. 6 and the nested one) on hand-made masks with known answers, and the packed fast
path against the literal identity vectors."""

from __future__ import annotations

import pytest
import torch

from engine.training.pixel_identity import (
    identity_vectors,
    mask_correspondence,
    pack_membership,
    smallest_shared_mask,
    unpack_membership,
)

# Seven pixels in a row. Masks, ascending scale: C (0.2) = pixels 0-1, B (0.5) = 0-2, A (0.9) = 0-5.
# Pixel 6 is in no mask. (Think: C = a mug's handle, B = the mug, A = the table with the mug on it.)
MEMBER = torch.tensor(
    [
        # C      B      A
        [True, True, True],
        [True, True, True],
        [False, True, True],
        [False, False, True],
        [False, False, True],
        [False, False, True],
        [False, False, False],
    ]
)
SCALES = torch.tensor([0.2, 0.5, 0.9])


@pytest.mark.parametrize(
    "s, expected",
    [
        # s below every mask: each pixel keeps only its smallest mask
        (0.1, [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]]),
        # C is below s: kept where present; among B, A the smallest containing the pixel
        (0.3, [[1, 1, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]]),
        # C and B below s, A the only mask at or above s
        (0.7, [[1, 1, 1], [1, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]]),
        # every mask below s: the identity is the plain membership
        (1.0, [[1, 1, 1], [1, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]]),
    ],
)
def test_saga_identity_vectors_hand_made(s, expected):
    V = identity_vectors(MEMBER, SCALES, torch.tensor([s]), rule="saga")[0]
    assert V.int().tolist() == expected


@pytest.mark.parametrize(
    "s, expected",
    [
        (0.1, [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]]),
        # the handle is below s: the handle pixels are the handle only; the others keep their smallest mask
        (0.3, [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]]),
        # handle and mug below s: the mug's pixels are the mug (not yet the table), the table's the table
        (0.7, [[1, 1, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]]),
        (1.0, [[1, 1, 1], [1, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]]),
    ],
)
def test_nested_identity_vectors_hand_made(s, expected):
    V = identity_vectors(MEMBER, SCALES, torch.tensor([s]), rule="nested")[0]
    assert V.int().tolist() == expected


def test_small_objects_on_one_table_stay_apart_up_to_the_tables_scale_only_under_the_nested_rule():
    # pixel 0 a die (mask 0.05), pixel 1 an apple (mask 0.1), both in the table group (0.8)
    member = torch.tensor([[True, False, True], [False, True, True]])
    scales = torch.tensor([0.05, 0.1, 0.8])
    s = torch.tensor([0.0, 0.3, 0.6, 0.9])
    assert mask_correspondence(member, scales, s, "nested")[:, 0, 1].tolist() == [False, False, False, True]
    # SAGA: from just above the apple's scale on, both are "the smallest mask of scale >= s", the group
    assert mask_correspondence(member, scales, s, "saga")[:, 0, 1].tolist() == [False, True, True, True]


def test_the_band_keeps_an_anchor_just_above_the_scale():
    # a fragment (0.2) of a figure (0.3) inside the whole view (0.9); pixel 1 is the figure outside the fragment
    member = torch.tensor([[True, True, True], [False, True, True]])
    scales = torch.tensor([0.2, 0.3, 0.9])
    s = torch.tensor([0.25])
    assert not mask_correspondence(member, scales, s, "nested", band=0.0)[0, 0, 1]
    assert mask_correspondence(member, scales, s, "nested", band=0.1)[0, 0, 1]  # the figure is 0.05 above s
    # a band never reaches the whole view from there
    assert not mask_correspondence(member[:, [0, 2]], scales[[0, 2]], s, "nested", band=0.35)[0, 0, 1]


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="identity rule"):
        mask_correspondence(MEMBER, SCALES, torch.tensor([0.3]), "sam")


def test_saga_correspondence_known_pairs():
    s = torch.tensor([0.1, 0.3, 0.7, 1.0])
    corr = mask_correspondence(MEMBER, SCALES, s, "saga")
    # handle pixels (0, 1) always together
    assert corr[:, 0, 1].tolist() == [True, True, True, True]
    # handle (0) and mug body (2): only once the handle mask is below the scale
    assert corr[:, 0, 2].tolist() == [False, True, True, True]
    # mug (2) and table (3): only when the mug is below the scale (the table mask A then holds both)
    assert corr[:, 2, 3].tolist() == [False, False, True, True]
    # pixel 6 is in no mask: never corresponds, not even with itself
    assert not corr[:, 6, :].any() and not corr[:, :, 6].any()


def test_nested_correspondence_known_pairs():
    corr = mask_correspondence(MEMBER, SCALES, torch.tensor([0.1, 0.3, 0.7, 1.0]), "nested")
    assert corr[:, 0, 1].tolist() == [True, True, True, True]
    # handle and body: once the mug (B) is below the scale, not already when only the handle is
    assert corr[:, 0, 2].tolist() == [False, False, True, True]
    # mug and table: only once the table (A) is below the scale
    assert corr[:, 2, 3].tolist() == [False, False, False, True]
    assert not corr[:, 6, :].any() and not corr[:, :, 6].any()


@pytest.mark.parametrize("rule, band", [("nested", 0.0), ("nested", 0.3), ("saga", 0.0)])
def test_packed_path_equals_literal_identity_vectors_on_random_masks(rule, band):
    gen = torch.Generator().manual_seed(0)
    for M in (1, 5, 63, 64, 130):
        member = torch.rand(40, M, generator=gen) < 0.3
        scales = torch.sort(torch.rand(M, generator=gen)).values
        s = torch.cat([torch.rand(6, generator=gen), torch.tensor([0.0, 1.0])])
        V = identity_vectors(member, scales, s, rule, band).float()
        literal = (V @ V.transpose(1, 2)) > 0
        assert torch.equal(mask_correspondence(member, scales, s, rule, band), literal), M


def test_pack_unpack_and_smallest_shared():
    gen = torch.Generator().manual_seed(1)
    member = torch.rand(30, 150, generator=gen) < 0.1
    packed = pack_membership(member)
    assert packed.shape == (30, 3) and torch.equal(unpack_membership(packed, 150), member)
    shared = smallest_shared_mask(packed)
    both = member[:, None, :] & member[None, :, :]
    expect = torch.where(both.any(-1), both.int().argmax(-1), torch.tensor(-1))
    assert torch.equal(shared, expect)


def test_unsorted_masks_are_refused():
    with pytest.raises(AssertionError, match="sorted"):
        mask_correspondence(MEMBER, torch.tensor([0.5, 0.2, 0.9]), torch.tensor([0.3]))
