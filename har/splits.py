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


def group_split(
    labels: np.ndarray, groups: np.ndarray, test_size: float = 0.25, seed: int = DEFAULT_SEED, *, classes=None
) -> Split:
    """A split in which no group is on both sides and every class is on both sides, about ``test_size`` tested.

    The first of ``round(1 / test_size)`` ``StratifiedGroupKFold`` folds (fewer when a class has fewer groups: a small
    dataset of your own gets a larger test share) that leaves every class on both sides, trying the next seeds when
    none does. ``DatasetError`` names a class (from ``classes``) whose clips are all in one group.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    labels, groups = np.asarray(labels), np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise DatasetError(f"a group split needs at least 2 groups, the data has {n_groups}")
    per_class = {int(c): len(np.unique(groups[labels == c])) for c in np.unique(labels)}
    fewest = min(per_class, key=per_class.get)
    if per_class[fewest] < 2:
        raise DatasetError(
            f"{_class_name(fewest, classes)} has clips of one group only: a group split needs clips of at least 2 "
            f"groups in every class (and training 3: one each to train on, validate on and test on)"
        )
    n_splits = min(max(2, round(1 / test_size)), n_groups, per_class[fewest])
    wanted = set(per_class)
    for attempt in range(10):
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + attempt)
        for train, test in folds.split(np.zeros(len(labels)), labels, groups):
            if set(labels[train].tolist()) == wanted == set(labels[test].tolist()):
                return Split(np.sort(train), np.sort(test), "group", seed)
    raise DatasetError("no group split leaves every class on both sides: each class needs clips in several groups")


def _class_name(label: int, classes) -> str:
    return f"class {classes[label]}" if classes is not None else f"class {label}"


def leave_one_group_out(groups: np.ndarray) -> Iterator[Split]:
    """The dataset authors' protocol: one fold per group, that group tested, all others trained on."""
    from sklearn.model_selection import LeaveOneGroupOut

    groups = np.asarray(groups)
    for train, test in LeaveOneGroupOut().split(np.zeros(len(groups)), groups=groups):
        yield Split(train, test, f"leave-out-group-{groups[test[0]]}")


def make_split(
    kind: str, labels: np.ndarray, groups: np.ndarray, test_size: float = 0.25, seed: int = DEFAULT_SEED, *,
    classes=None,
) -> Split:  # fmt: skip
    """``group_split`` or ``random_split`` by name (``"group"`` / ``"random"``); ``classes`` names them in errors."""
    if kind == "group":
        return group_split(labels, groups, test_size, seed, classes=classes)
    if kind == "random":
        return random_split(labels, test_size, seed)
    raise DatasetError(f"unknown split {kind!r} (use 'group' or 'random')")


def validation_split(split: Split, labels: np.ndarray, groups: np.ndarray, fraction: float = 0.2, *,
                     classes=None) -> Split:  # fmt: skip
    """Carve a validation set out of ``split.train`` the same way the split was made (by group or at random).

    Returned as a ``Split`` whose ``train`` is what to fit on and ``test`` what to validate on. A class left with
    clips of one group to train on raises ``DatasetError`` naming it (``classes``: the class names).
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    if split.kind == "group":
        train_labels, train_groups = labels[split.train], groups[split.train]
        for label in np.unique(train_labels):
            if len(np.unique(train_groups[train_labels == label])) < 2:
                raise DatasetError(
                    f"{_class_name(int(label), classes)} has clips of {len(np.unique(groups[labels == label]))} "
                    "group(s): training on a group split needs at least 3 groups of every class (one each to train "
                    "on, validate on and test on)"
                )
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
