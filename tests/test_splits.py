import numpy as np
import pytest

from har.errors import DatasetError
from har.splits import group_overlap, group_split, leave_one_group_out, make_split, random_split, validation_split


@pytest.fixture
def ucf_like():
    """4 classes x 8 groups x 4 clips, group numbers shared across classes as in UCF50."""
    labels = np.repeat(np.arange(4), 32)
    groups = np.tile(np.repeat(np.arange(1, 9), 4), 4)
    return labels, groups


def test_random_split_is_75_25_reproducible_and_leaks(ucf_like):
    labels, groups = ucf_like
    a, b = random_split(labels, seed=27), random_split(labels, seed=27)
    assert len(a.test) == 32 and len(a.train) == 96
    np.testing.assert_array_equal(a.test, b.test)
    assert set(a.train) | set(a.test) == set(range(128)) and not set(a.train) & set(a.test)
    leak = group_overlap(groups, a)
    assert leak["shared_groups"] > 0 and leak["leaked_fraction"] > 0.5


@pytest.mark.parametrize("seed", [0, 1, 27, 99])
def test_group_split_keeps_groups_apart_and_classes_on_both_sides(ucf_like, seed):
    labels, groups = ucf_like
    split = group_split(labels, groups, seed=seed)
    assert not set(groups[split.train]) & set(groups[split.test])
    assert set(labels[split.train]) == set(labels[split.test]) == {0, 1, 2, 3}
    assert 0.15 < len(split.test) / len(labels) < 0.35
    assert group_overlap(groups, split) == {
        "shared_groups": 0,
        "test_groups": len(set(groups[split.test])),
        "leaked_test_clips": 0,
        "leaked_fraction": 0.0,
    }


def test_group_split_refuses_impossible_data():
    with pytest.raises(DatasetError, match="needs at least 2 groups"):
        group_split(np.array([0, 0, 1, 1]), np.array([1, 1, 1, 1]))
    labels = np.repeat([0, 1], 8)
    groups = np.concatenate([np.full(8, 1), np.arange(2, 10)])  # class 0 lives in one group only
    with pytest.raises(DatasetError, match="class 0 has clips of one group only"):
        group_split(labels, groups)


def test_few_groups_give_a_larger_test_share():
    labels = np.repeat([0, 1], 6)
    groups = np.tile([1, 1, 2, 2, 3, 3], 2)
    split = group_split(labels, groups)
    assert len(set(groups[split.test])) == 1 and len(split.test) == 4


def test_leave_one_group_out_folds(ucf_like):
    _, groups = ucf_like
    folds = list(leave_one_group_out(groups))
    assert len(folds) == 8
    for fold in folds:
        assert len(set(groups[fold.test])) == 1 and not set(groups[fold.train]) & set(groups[fold.test])
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(128))


def test_validation_split_follows_the_kind_of_split(ucf_like):
    labels, groups = ucf_like
    outer = group_split(labels, groups)
    inner = validation_split(outer, labels, groups)
    assert set(inner.train) | set(inner.test) == set(outer.train)
    assert not set(groups[inner.train]) & set(groups[inner.test])
    assert not set(inner.test) & set(outer.test)


def test_overlap_can_count_groups_per_class():
    labels = np.array([0, 0, 1, 1])
    groups = np.array([1, 2, 1, 2])
    from har.splits import Split

    split = Split(np.array([0, 1]), np.array([2, 3]), "custom")
    assert group_overlap(groups, split)["shared_groups"] == 2
    assert group_overlap(groups, split, labels)["shared_groups"] == 0


def test_unknown_split_kind(ucf_like):
    with pytest.raises(DatasetError, match="unknown split"):
        make_split("stratified", *ucf_like)
