"""Train/test splits: the tutorial's random split, the group-aware split UCF50's authors ask for, and folds.

UCF50's clips come in groups (same actor, place and camera). A random split puts clips of one group on
both sides, so the test set is full of near-copies of training clips and accuracy is inflated (users of
the tutorial report ~94 % falling to ~60 % once groups are kept apart). ``group_split`` keeps every group
on one side and every class on both; ``group_overlap`` measures the leak of any split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from har.errors import DatasetError

#: The tutorial's seed (``seed_constant = 27``).
DEFAULT_SEED = 27


@dataclass(frozen=True)
class Split:
    """Indices of the two sides of a split, and how it was made."""

    train: np.ndarray
    test: np.ndarray
    kind: str
    seed: int | None = None

    def describe(self) -> dict:
        """JSON-friendly description, stored in model bundles."""
        return {"kind": self.kind, "seed": self.seed, "train": len(self.train), "test": len(self.test)}


def random_split(labels: np.ndarray, test_size: float = 0.25, seed: int = DEFAULT_SEED) -> Split:
    """The tutorial's split: shuffle all clips and cut 75/25, ignoring groups (leaks; see module docstring)."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    train, test = train_test_split(indices, test_size=test_size, shuffle=True, random_state=seed)
    return Split(np.sort(train), np.sort(test), "random", seed)


def group_split(labels: np.ndarray, groups: np.ndarray, test_size: float = 0.25, seed: int = DEFAULT_SEED) -> Split:
    """A split in which no group is on both sides and every class is on both sides, about ``test_size`` tested.

    Uses scikit-learn's ``StratifiedGroupKFold`` with ``round(1 / test_size)`` folds (fewer when there are
    fewer groups) and takes the first fold that leaves every class on both sides. Raises ``DatasetError``
    when the groups make that impossible (e.g. a class whose clips all share one group).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    labels, groups = np.asarray(labels), np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise DatasetError(f"a group split needs at least 2 groups, the data has {n_groups}")
    n_splits = min(max(2, round(1 / test_size)), n_groups)  # few groups: a larger test share
    classes = set(np.unique(labels).tolist())
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for train, test in folds.split(np.zeros(len(labels)), labels, groups):
        if set(labels[train].tolist()) == classes == set(labels[test].tolist()):
            return Split(np.sort(train), np.sort(test), "group", seed)
    raise DatasetError("no group split leaves every class on both sides: each class needs clips in several groups")


def leave_one_group_out(groups: np.ndarray) -> Iterator[Split]:
    """The dataset authors' protocol: one fold per group, that group tested, all others trained on."""
    from sklearn.model_selection import LeaveOneGroupOut

    groups = np.asarray(groups)
    for train, test in LeaveOneGroupOut().split(np.zeros(len(groups)), groups=groups):
        yield Split(train, test, f"leave-out-group-{groups[test[0]]}")


def make_split(
    kind: str, labels: np.ndarray, groups: np.ndarray, test_size: float = 0.25, seed: int = DEFAULT_SEED
) -> Split:
    """``group_split`` or ``random_split`` by name (``"group"`` / ``"random"``)."""
    if kind == "group":
        return group_split(labels, groups, test_size, seed)
    if kind == "random":
        return random_split(labels, test_size, seed)
    raise DatasetError(f"unknown split {kind!r} (use 'group' or 'random')")


def validation_split(split: Split, labels: np.ndarray, groups: np.ndarray, fraction: float = 0.2) -> Split:
    """Carve a validation set out of ``split.train`` the same way the split was made (by group or at random).

    Returned as a ``Split`` whose ``train`` is what to fit on and ``test`` what to validate on.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    inner = make_split(split.kind, labels[split.train], groups[split.train], fraction, split.seed or DEFAULT_SEED)
    return Split(split.train[inner.train], split.train[inner.test], split.kind, split.seed)


def group_overlap(groups: np.ndarray, split: Split, labels: np.ndarray | None = None) -> dict:
    """How much a split leaks: the groups on both sides and the share of test clips whose group was trained on.

    With ``labels``, a group is counted per class (group 3 of Swing and group 3 of TaiChi are different
    footage in UCF50); without, group ids are compared as they are.
    """
    groups = np.asarray(groups)
    keys = (
        groups
        if labels is None
        else np.array([f"{label}/{group}" for label, group in zip(labels, groups, strict=True)])
    )
    shared = set(keys[split.train].tolist()) & set(keys[split.test].tolist())
    leaked = np.isin(keys[split.test], list(shared))
    return {
        "shared_groups": len(shared),
        "test_groups": len(set(keys[split.test].tolist())),
        "leaked_test_clips": int(leaked.sum()),
        "leaked_fraction": float(leaked.mean()) if len(leaked) else 0.0,
    }
