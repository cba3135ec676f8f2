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


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save a figure as PNG (creating folders) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


__all__ = ["plot_clip_frames", "plot_first_frames", "save_figure"]
