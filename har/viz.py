"""Plots the notebooks show: first frames with labels, sampled frames of a clip, splits, curves, timelines.

Every function returns the matplotlib ``Figure`` (shown inline by Jupyter) so scripts can save it.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np


def _figure(*args, **kwargs):
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def plot_first_frames(root: str | os.PathLike, n_classes: int = 20, *, columns: int = 5, seed: int | None = None):
    """Show the first frame of one random clip from ``n_classes`` random classes, titled with its class.

    The tutorial's first look at UCF50; classes are the folders under ``root``.
    """
    from har.dataset import discover_clips
    from har.video import read_first_frame

    clips, _ = discover_clips(root)
    by_class: dict[str, list] = {}
    for clip in clips:
        by_class.setdefault(clip.class_name, []).append(clip)
    rng = random.Random(seed)
    names = rng.sample(sorted(by_class), min(n_classes, len(by_class)))
    rows = -(-len(names) // columns)
    fig, axes = _figure(rows, columns, figsize=(3 * columns, 2.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):
        clip = rng.choice(by_class[name])
        ax.imshow(read_first_frame(clip.path))
        ax.set_title(name, fontsize=11)
    fig.tight_layout()
    return fig


def plot_clip_frames(frames: np.ndarray, *, title: str | None = None, columns: int = 10):
    """Show the frames of one sampled clip (uint8 ``[T, H, W, 3]`` RGB) in a grid, numbered."""
    rows = -(-len(frames) // columns)
    fig, axes = _figure(rows, columns, figsize=(1.6 * columns, 1.7 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, frame) in enumerate(zip(axes.flat, frames, strict=False)):
        ax.imshow(frame)
        ax.set_title(str(i), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_split_groups(groups: np.ndarray, splits: dict, labels: np.ndarray | None = None):
    """For each named split, show which groups sit on the train side, the test side, or both (the leak)."""
    from har.splits import group_overlap

    names = list(splits)
    fig, axes = _figure(len(names), 1, figsize=(10, 1.4 * len(names) + 0.6), squeeze=False)
    unique = np.unique(groups)
    for ax, name in zip(axes[:, 0], names, strict=True):
        split = splits[name]
        in_train = np.isin(unique, groups[split.train])
        in_test = np.isin(unique, groups[split.test])
        state = np.where(in_train & in_test, 2, np.where(in_test, 1, 0))
        colours = np.array([[0.3, 0.5, 0.9], [0.95, 0.6, 0.1], [0.85, 0.1, 0.1]])
        ax.imshow(colours[state][None], aspect="auto")
        ax.set_yticks([])
        ax.set_xticks(range(len(unique)), [str(g) for g in unique], fontsize=8)
        leak = group_overlap(groups, split, labels)
        ax.set_title(
            f"{name}: {leak['shared_groups']} groups on both sides, "
            f"{leak['leaked_fraction']:.0%} of test clips from groups seen in training",
            fontsize=10,
        )
    axes[-1, 0].set_xlabel("group  (blue: train only, orange: test only, red: both sides)")
    fig.tight_layout()
    return fig


def plot_history(history: dict, *, title: str | None = None):
    """Loss and accuracy curves of a Keras ``History.history`` (training and validation)."""
    fig, (left, right) = _figure(1, 2, figsize=(11, 3.8))
    for ax, metric in ((left, "loss"), (right, "accuracy")):
        epochs = range(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], label=f"training {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix: np.ndarray, classes: list[str], *, title: str | None = None):
    """A confusion matrix with class names (rows: true class, columns: predicted), counts in the cells."""
    size = max(4.0, 0.5 * len(classes) + 2)
    fig, ax = _figure(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    limit = matrix.max() / 2 if matrix.size else 0
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, str(count), ha="center", va="center", color="white" if count > limit else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_label_timeline(result, *, title: str | None = None):
    """Probabilities of every class over a video (from ``har.predict.predict_on_video``), top label shaded."""
    import matplotlib.pyplot as plt

    fig, (band, lines) = _figure(2, 1, figsize=(11, 4), sharex=True, gridspec_kw={"height_ratios": [1, 4]})
    seconds = result.seconds
    colours = plt.get_cmap("tab10")
    top = result.probabilities.argmax(axis=1)
    step = 1 / result.fps
    for i, name in enumerate(result.classes):
        lines.plot(seconds, result.probabilities[:, i], color=colours(i % 10), label=name)
        band.bar(seconds[top == i], 1, width=step, color=colours(i % 10), align="edge", linewidth=0)
    band.set_yticks([])
    band.set_title(title or f"Predicted action over time: {result.title}", fontsize=11)
    lines.set_ylim(0, 1)
    lines.set_xlabel("time (s) at the end of each window")
    lines.set_ylabel("probability")
    lines.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    lines.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save a figure as PNG (creating folders) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


__all__ = ["plot_clip_frames", "plot_first_frames", "save_figure"]
