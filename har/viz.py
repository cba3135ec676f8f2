"""Plots the notebooks show: first frames with labels, sampled frames of a clip, a batch of clips as a 5-D
tensor, a model's architecture, splits, curves, timelines.

Every plot returns the matplotlib ``Figure`` (shown inline by Jupyter) so scripts can save it; ``show_video``
embeds a video in the notebook.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from itertools import groupby
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import hsv_to_rgb
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Polygon
from matplotlib.transforms import Affine2D

from har.dataset import discover_clips
from har.errors import ArgumentError, VideoError
from har.files import atomic_write
from har.movenet import BONES, CONFIDENT
from har.splits import group_overlap
from har.video import FLOW_UNITS, ffmpeg_reason, read_first_frame, video_info


def _image_grid(rows: int, columns: int, cell: tuple[float, float], *, frame: bool = True):
    """A grid of axes for pictures, ``cell`` inches each: no ticks, and with ``frame=False`` no axes at all."""
    fig, axes = plt.subplots(rows, columns, figsize=(cell[0] * columns, cell[1] * rows), squeeze=False)
    for ax in axes.flat:
        if frame:
            ax.set(xticks=[], yticks=[])
        else:
            ax.axis("off")
    return fig, axes


def _finish(fig, title: str | None = None):
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _evenly(length: int, count: int) -> np.ndarray:
    return np.linspace(0, length - 1, min(count, length)).round().astype(int)


def plot_first_frames(root: str | os.PathLike, n_classes: int = 20, *, columns: int = 5, seed: int | None = None):
    """The first frame of one random clip of ``n_classes`` random classes (the folders of ``root``), titled by class."""
    by_class: dict[str, list] = {}
    for clip in discover_clips(root)[0]:
        by_class.setdefault(clip.class_name, []).append(clip)
    rng = random.Random(seed)
    names = rng.sample(sorted(by_class), min(n_classes, len(by_class)))
    fig, axes = _image_grid(-(-len(names) // columns), columns, (3, 2.6), frame=False)
    for ax, name in zip(axes.flat, names, strict=False):
        ax.imshow(read_first_frame(rng.choice(by_class[name]).path))
        ax.set_title(name, fontsize=11)
    return _finish(fig)


def plot_clip_frames(frames: np.ndarray, *, title: str | None = None, columns: int = 10):
    """Show the frames of one sampled clip (uint8 ``[T, H, W, 3]`` RGB) in a grid, numbered."""
    fig, axes = _image_grid(-(-len(frames) // columns), columns, (1.6, 1.7), frame=False)
    for i, (ax, frame) in enumerate(zip(axes.flat, frames, strict=False)):
        ax.imshow(frame)
        ax.set_title(str(i), fontsize=8)
    return _finish(fig, title)


def plot_clip_examples(clips: np.ndarray, captions: list[str], *, title: str | None = None, frames_shown: int = 5):
    """One row per clip (uint8 ``[N, T, H, W, 3]``): ``frames_shown`` of its frames, evenly spaced, and a caption;
    for looking at what models got right or wrong, a row shows how a clip moves from its first frame to its last."""
    clips = np.asarray(clips)
    if len(clips) == 0:
        raise ArgumentError("no clips to show")
    shown = _evenly(clips.shape[1], frames_shown)
    fig, axes = _image_grid(len(clips), len(shown), (1.7, 1.9))
    for row, (clip, caption) in enumerate(zip(clips, captions, strict=True)):
        for ax, t in zip(axes[row], shown, strict=True):
            ax.imshow(clip[t])
        axes[row, 0].set_ylabel(caption, fontsize=8, rotation=0, ha="right", va="center", labelpad=6)
    for ax, t in zip(axes[0], shown, strict=True):
        ax.set_title(f"frame {t + 1}", fontsize=8)
    return _finish(fig, title)


def plot_skeletons(frames: np.ndarray, keypoints: np.ndarray, captions: list[str], *, title: str | None = None):
    """One row per clip: its frames (uint8 ``[N, F, H, W, 3]``) with MoveNet's skeleton drawn over them (``keypoints``
    ``[N, F, 17, 3]``: y, x in 0-1 of the frame, score); keypoints MoveNet is unsure of (``har.pose.CONFIDENT``)
    are left out, so a frame where it lost the person shows no skeleton."""
    frames, keypoints = np.asarray(frames), np.asarray(keypoints)
    rows, columns, height, width = frames.shape[:4]
    fig, axes = _image_grid(rows, columns, (1.9, 2.0))
    for row, col in np.ndindex(rows, columns):
        ax = axes[row, col]
        ax.imshow(frames[row, col])
        y, x, score = keypoints[row, col].T * np.array([[height], [width], [1]])
        for a, b in BONES:
            if score[a] > CONFIDENT and score[b] > CONFIDENT:
                ax.plot([x[a], x[b]], [y[a], y[b]], color="lime", linewidth=1.5)
        sure = score > CONFIDENT
        ax.scatter(x[sure], y[sure], s=6, color="red", zorder=3)
        ax.set_title(f"mean score {score.mean():.2f}", fontsize=7)
        if col == 0:
            ax.set_ylabel(captions[row], fontsize=8, rotation=0, ha="right", va="center", labelpad=6)
    return _finish(fig, title)


def flow_to_rgb(flow: np.ndarray, full_speed: float | None = None) -> np.ndarray:
    """Colour pictures of stored optical flow (uint8 ``[..., H, W, 2]``, ``har.video.FlowMaker``), float RGB in [0, 1]:
    hue the direction of motion, brightness its speed, full at ``full_speed`` model pixels a frame (default: the
    99th percentile of the speeds shown, so faint motion still shows)."""
    motion = (np.asarray(flow, np.float32) - 128) / FLOW_UNITS
    speed = np.hypot(motion[..., 0], motion[..., 1])
    full_speed = full_speed or max(float(np.percentile(speed, 99)), 1 / FLOW_UNITS)
    hue = (np.arctan2(motion[..., 1], motion[..., 0]) + np.pi) / (2 * np.pi)
    return hsv_to_rgb(np.stack([hue, np.ones_like(hue), np.clip(speed / full_speed, 0, 1)], axis=-1))


def plot_flow(frames: np.ndarray, flow: np.ndarray, *, title: str | None = None, frames_shown: int = 6):
    """A clip's frames (uint8 ``[T, H, W, 3]``) above their optical flow (``[T, H, W, 2]``) coloured by ``flow_to_rgb``,
    one scale for the whole clip, and a colour wheel showing which hue is which direction."""
    shown = _evenly(len(frames), frames_shown)
    colours = flow_to_rgb(np.asarray(flow)[shown])
    fig, axes = _image_grid(2, len(shown) + 1, (1.8, 2.0))
    for col, t in enumerate(shown):
        axes[0, col].imshow(frames[t])
        axes[0, col].set_title(f"frame {t + 1}", fontsize=8)
        axes[1, col].imshow(colours[col])
    y, x = np.mgrid[-1:1:65j, -1:1:65j]  # the wheel: the colour of a motion towards each point
    wheel = (128 + 64 * np.stack([x, y], axis=-1)).clip(1, 255)
    axes[1, -1].imshow(flow_to_rgb(wheel, full_speed=64 / FLOW_UNITS) * (np.hypot(x, y) <= 1)[..., None])
    axes[1, -1].set_title("direction", fontsize=8)
    axes[0, -1].axis("off")
    axes[0, 0].set_ylabel("frames", fontsize=8)
    axes[1, 0].set_ylabel("optical flow", fontsize=8)
    return _finish(fig, title)


def plot_split_groups(groups: np.ndarray, splits: dict, labels: np.ndarray | None = None):
    """For each named split, show which groups sit on the train side, the test side, or both (the leak); with
    ``labels``, a group counts per class (as ``har.splits.group_overlap`` counts them), class after class."""
    groups = np.asarray(groups)
    keys = groups if labels is None else np.asarray(labels).astype(np.int64) * (int(groups.max()) + 1) + groups
    unique = np.unique(keys)
    colours = np.array([[0.3, 0.5, 0.9], [0.95, 0.6, 0.1], [0.85, 0.1, 0.1]])  # train only, test only, both
    fig, axes = plt.subplots(len(splits), 1, figsize=(10, 1.4 * len(splits) + 0.6), squeeze=False)
    for ax, (name, split) in zip(axes[:, 0], splits.items(), strict=True):
        in_train, in_test = np.isin(unique, keys[split.train]), np.isin(unique, keys[split.test])
        ax.imshow(colours[np.where(in_train & in_test, 2, np.where(in_test, 1, 0))][None], aspect="auto")
        ax.set_yticks([])
        if labels is None:
            ax.set_xticks(range(len(unique)), [str(g) for g in unique], fontsize=8)
        else:
            ax.set_xticks([])
        leak = group_overlap(groups, split, labels)
        ax.set_title(
            f"{name}: {leak['shared_groups']} groups on both sides, "
            f"{leak['leaked_fraction']:.0%} of test clips from groups seen in training",
            fontsize=10,
        )
    what = "group" if labels is None else "group of each class, class after class"
    axes[-1, 0].set_xlabel(f"{what}  (blue: train only, orange: test only, red: both sides)")
    return _finish(fig)


def plot_history(history: dict, *, title: str | None = None):
    """Loss and accuracy curves of a Keras ``History.history`` (training and validation)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        epochs = range(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], label=f"training {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], label=f"validation {metric}")
        ax.set(xlabel="epoch", ylabel=metric)
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, title)


def plot_confusion_matrix(matrix: np.ndarray, classes: list[str], *, title: str | None = None):
    """A confusion matrix with class names (rows: true class, columns: predicted), counts in the cells."""
    size = max(4.0, 0.5 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="true")
    limit = matrix.max() / 2 if matrix.size else 0
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, str(count), ha="center", va="center", color="white" if count > limit else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title)
    return _finish(fig)


def plot_label_timeline(result, *, truth=None, title: str | None = None):
    """Probabilities of every class over a video (from ``har.predict.predict_on_video``), top label shaded.

    ``truth``, a list of (start s, end s, class) such as ``JoinedClips.truth()``, adds a band of the true
    classes under the predicted one, in the same colours, so a reader sees where the label is late or wrong.
    The shot cuts prediction found (``result.cuts``) are dotted lines: no window reaches back across one.
    """
    ratios = [1, 1, 4] if truth else [1, 4]
    fig, axes = plt.subplots(len(ratios), 1, figsize=(11, 4.6 if truth else 4), sharex=True, height_ratios=ratios)
    band, lines = axes[0], axes[-1]
    seconds, colours = result.seconds, plt.get_cmap("tab10")
    top = result.probabilities.argmax(axis=1)
    for i, name in enumerate(result.classes):
        lines.plot(seconds, result.probabilities[:, i], color=colours(i % 10), label=name)
        band.bar(seconds[top == i], 1, width=1 / result.fps, color=colours(i % 10), align="edge", linewidth=0)
    band.set_yticks([0.5], ["predicted"])
    if truth:
        known = {name: i for i, name in enumerate(result.classes)}
        for start, end, name in truth:
            colour = colours(known[name] % 10) if name in known else "lightgrey"
            axes[1].bar(start, 1, width=end - start, color=colour, align="edge", linewidth=0.5, edgecolor="white")
        axes[1].set_yticks([0.5], ["true"])
    for cut in result.cuts:
        lines.axvline(cut / result.fps, color="black", linestyle=":", linewidth=0.8, alpha=0.6)
    if result.cuts:
        lines.plot([], [], color="black", linestyle=":", linewidth=0.8, label="shot cut")
    band.set_title(title or f"Predicted action over time: {result.title}", fontsize=11)
    lines.set(ylim=(0, 1), xlabel="time (s) at the end of each window", ylabel="probability")
    lines.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    lines.grid(alpha=0.3)
    return _finish(fig)


def plot_learning_curve(curves: dict[str, list[tuple[float, float]]], *, title: str, chance: float | None = None):
    """Test accuracy (0-1) against training clips per class, one line per model: ``{model: [(clips, acc), ...]}``.
    ``title`` should say what data it was measured on; ``chance`` draws the accuracy of guessing."""
    fig, axis = plt.subplots(figsize=(7, 4))
    for name, points in curves.items():
        clips, accuracy = zip(*sorted(points), strict=True)
        axis.plot(clips, [100 * a for a in accuracy], marker="o", label=name)
    if chance is not None:
        axis.axhline(100 * chance, color="grey", linestyle=":", label="chance")
    axis.set(xlabel="training clips per class", ylabel="test accuracy (%)", ylim=(0, 100))
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title(title, fontsize=11)
    return _finish(fig)


def plot_per_class_f1(results: dict, *, title: str):
    """Per-class F1 of every model (``{name: har.evaluate.Evaluation}``, same classes) as grouped bars;
    ``title`` should say what data it was measured on."""
    names = list(results)
    if not names:
        raise ArgumentError("no results to plot")
    classes = results[names[0]].classes
    fig, axis = plt.subplots(figsize=(max(6.0, 1.1 * len(classes) + 2), 3.6))
    width = 0.8 / len(names)
    positions = np.arange(len(classes))
    for i, name in enumerate(names):
        axis.bar(positions + (i - (len(names) - 1) / 2) * width, results[name].per_class_f1(), width, label=name)
    axis.set_xticks(positions, classes, rotation=30, ha="right")
    axis.set(ylabel="F1", ylim=(0, 1.05))
    axis.grid(axis="y", alpha=0.3)
    axis.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize=8)
    axis.set_title(title, fontsize=10)
    return _finish(fig)


def plot_approaches(figures: dict, *, title: str, pairs=(), chance: float | None = None):
    """The approaches side by side (``{name: har.evaluate.ModelFigures}``): accuracy, and prediction speed.

    ``pairs`` adds motion-pair accuracy; a model with a ``note`` (its accuracy would mislead) gets no bar, only its
    note. ``title`` should say what data it was measured on; ``chance`` draws the accuracy of guessing.
    """
    if not figures:
        raise ArgumentError("no models to plot")
    models = list(figures.values())
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 0.55 * len(models) + 1.6), width_ratios=(3, 2), sharey=True)
    rows = np.arange(len(models))[::-1]
    height = 0.38 if pairs else 0.7
    accuracy = [np.nan if m.note else 100 * m.evaluation.accuracy for m in models]
    left.barh(rows + (height / 2 if pairs else 0), accuracy, height, label="test accuracy", color="tab:blue")
    if pairs:
        pair = [m.evaluation.pair_accuracy(pairs) for m in models]
        pair = [np.nan if m.note or p is None else 100 * p for m, p in zip(models, pair, strict=True)]
        left.barh(rows - height / 2, pair, height, label="motion-pair accuracy", color="tab:orange")
    for row, model in zip(rows, models, strict=True):
        if model.note:
            left.text(1, row, model.note, va="center", fontsize=8, color="grey", backgroundcolor="white")
    if chance is not None:
        left.axvline(100 * chance, color="grey", linestyle=":", label="chance")
    labels = [f"{m.approach}\n{name}, {m.parameters:,} weights" for name, m in figures.items()]
    left.set_yticks(rows, labels, fontsize=8)
    left.set(xlim=(0, 100), xlabel="% of test clips")
    left.grid(axis="x", alpha=0.3)
    left.legend(loc="lower right", fontsize=8)
    speeds = [np.nan if m.clips_per_second is None else m.clips_per_second for m in models]
    right.barh(rows, speeds, 0.7, color="tab:green")
    right.set(xscale="log", xlabel="clips classified per second (log scale)")
    for row, speed in zip(rows, speeds, strict=True):
        if np.isnan(speed):  # tested on its feature cache: its clips/s would leave out the backbone
            right.text(0.02, row, "not timed: tested on its cache", va="center", fontsize=8, color="grey",
                       transform=right.get_yaxis_transform())  # fmt: skip
    right.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    return _finish(fig)


def _xy(x: float, y: float) -> np.ndarray:
    return np.array([x, y], dtype=float)


def _arrow(ax, start, end, **style) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", **style))


def _draw_frame(ax, image: np.ndarray, origin: np.ndarray, across: np.ndarray, up: np.ndarray, z: int) -> None:
    """Draw ``image`` on the parallelogram with corners ``origin``, ``+ across``, ``+ up``, and outline it."""
    corners = np.array([origin, origin + across, origin + across + up, origin + up])
    place = Affine2D.from_values(*across, *up, *origin) + ax.transData
    ax.imshow(image, extent=(0, 1, 0, 1), transform=place, interpolation="nearest", zorder=z)
    ax.add_patch(Polygon(corners, closed=True, fill=False, lw=0.6, ec="0.25", zorder=z))


def plot_video_tensor(clips: np.ndarray, labels=None, *, title: str | None = None):
    """Draw a batch of clips (uint8 ``[N, T, H, W, C]``) as what a model sees: a 5-D tensor.

    Each clip (named by ``labels``) is a row of its ``T`` frames in perspective, one after the other in time; the
    axes are labelled with their sizes, and the last frame of the first clip is split into its colour channels.
    """
    clips = np.asarray(clips)
    if clips.ndim != 5:
        raise ArgumentError(f"clips must be [N, T, H, W, C], got shape {clips.shape}")
    n, t, h, w, c = clips.shape
    across = _xy(0.5, 0.22) * w / max(h, w)  # a frame's width, seen at an angle
    up = _xy(0, 1) * h / max(h, w)  # its height
    step = _xy(0.36, 0)  # from one frame to the next in time
    row_gap = up[1] + across[1] + 0.55
    strip = (t - 1) * step[0] + across[0]  # width of one clip's row of frames
    fig, ax = plt.subplots(figsize=(12, 1.75 * n + 1.3))

    def arrow(start, end, text, shift, **text_kwargs):
        _arrow(ax, start, end, mutation_scale=12, lw=1.2, color="black")
        ax.text(*((start + end) / 2 + shift), text, ha="center", va="center", **{"fontsize": 10, **text_kwargs})

    for row in range(n):
        base = _xy(0, (n - 1 - row) * row_gap)
        for i in reversed(range(t)):  # the first frame in front
            _draw_frame(ax, clips[row, i], base + i * step, across, up, z=2 * (t - i))
        name = f"clip {row}" + (f": {labels[row]}" if labels is not None else "")
        ax.text(base[0], base[1] + up[1] + across[1] + 0.1, name, fontsize=10, va="bottom")
    top = _xy(0, (n - 1) * row_gap)
    arrow(_xy(0, -0.2), _xy(strip - across[0], -0.2), f"T = {t}: time, frame 0 to frame {t - 1}", _xy(0, -0.17))
    arrow(top + _xy(-0.1, 0), top + up + _xy(-0.1, 0), f"H = {h}", _xy(-0.17, 0), rotation=90)
    arrow(top + _xy(0, -0.1), top + across + _xy(0, -0.1), f"W = {w}", _xy(0.12, -0.12), fontsize=9)
    arrow(top + up + _xy(-0.75, 0), _xy(-0.75, 0), f"N = {n}: clips in a batch", _xy(-0.17, 0), rotation=90)
    origin = top + _xy(strip + 0.9, 0)  # the channels: the last frame of the first clip, split into its planes
    colours = ("tab:red", "tab:green", "tab:blue")
    for k in reversed(range(c)):
        plane = np.zeros_like(clips[0, -1])
        plane[..., k] = clips[0, -1][..., k]
        corner = origin + _xy(0.3 * k, 0)
        _draw_frame(ax, plane if c == 3 else clips[0, -1][..., k], corner, across, up, z=10 - k)
        if c == 3:
            ax.text(*(corner + across + up + _xy(0, 0.06)), "RGB"[k], color=colours[k], ha="center")
    text = f"C = {c}: frame {t - 1} is\n{h} × {w} × {c} numbers"
    ax.text(*(origin + _xy(0.55, -0.15)), text, ha="center", va="top", fontsize=10)
    ax.set(aspect="equal", xlim=(-1.1, strip + 2.4), ylim=(-0.6, (n - 1) * row_gap + up[1] + across[1] + 0.45))
    ax.axis("off")
    shape = ", ".join(str(s) for s in clips.shape)
    ax.set_title(title or f"A batch of clips is a 5-D tensor (N, T, H, W, C) = ({shape}), {clips.dtype}")
    return _finish(fig)


#: The layer kinds of ``plot_model_diagram``: the colour of their boxes, and what the legend says of them.
_KINDS = {
    "input": ("#eeeeee", ""),
    "recurrent": ("#f5b971", "recurrent: reads the frames in order and keeps a memory"),
    "convolution": ("#8fbce6", "convolution: small filters slid over the image"),
    "pooling": ("#a8d5a2", "pooling: keeps the strongest (or mean) response of each patch"),
    "dropout": ("#f7f7f7", "dropout: zeroes a random share of values, while training only"),
    "reshape": ("#dddddd", ""),
    "dense": ("#c9b3e6", "dense: every input connected to every output"),
}
_LEFT, _WIDTH, _GAP = 2.3, 6.3, 0.45  # where the diagram's boxes start, their width, the space between them


def _sizes(value) -> str:
    return "×".join(str(v) for v in (value if isinstance(value, list | tuple) else (value,)))


def _describe_layer(layer, frames: int | None) -> tuple[str, str, str, bool]:
    """(kind, title, detail, per frame) of a Keras layer as ``plot_model_diagram`` draws it."""
    if type(layer).__name__ != "TimeDistributed":
        return (*_describe(layer, frames), False)
    if type(layer.layer).__name__ == "Flatten":
        return "reshape", "Flatten: each frame into one vector", "", True
    return (*_describe(layer.layer, frames), True)


def _describe(layer, frames: int | None) -> tuple[str, str, str]:
    """(kind, title, detail) of a Keras layer that is not ``TimeDistributed``."""
    name = type(layer).__name__
    if hasattr(layer, "layers"):  # a model used as a layer (a pretrained backbone)
        return "convolution", f"{layer.name}: a CNN of {len(layer.layers)} layers", ""
    config = layer.get_config()
    if any(part in name for part in ("LSTM", "GRU", "RNN")):
        size = f"{config['filters']} filters {_sizes(config['kernel_size'])}" if "filters" in config else ""
        size = size or f"{config['units']} units"
        steps = f"returns all {frames or 'its'} steps" if config.get("return_sequences") else "returns its last step"
        dropout = f", recurrent dropout {config['recurrent_dropout']:g}" if config.get("recurrent_dropout") else ""
        return "recurrent", f"{name}: {size}", f"{config.get('activation', 'tanh')}{dropout}; {steps}"
    if name.startswith("Conv"):
        padding = ", padding same" if config.get("padding") == "same" else ""
        title = f"{name}: {config['filters']} filters {_sizes(config['kernel_size'])}"
        return "convolution", f"{title}, {config['activation']}{padding}", ""
    if "Pooling" in name:
        if name.startswith("Global"):
            over = {"1D": "time", "2D": "space", "3D": "time and space"}[name[-2:]]
            return "pooling", f"{name}: the mean over {over}", ""
        pool = tuple(config["pool_size"])
        detail = "over space only: every frame kept" if len(pool) == 3 and pool[0] == 1 else ""
        return "pooling", f"{name}: {_sizes(pool)}", detail
    if "Dropout" in name:
        return "dropout", f"{name}: {config['rate']:g}", ""
    if name == "Dense":
        return "dense", f"Dense: {config['units']} units, {config['activation']}", ""
    return "reshape", _reshape_title(name, config, frames), ""


def _reshape_title(name: str, config: dict, frames: int | None) -> str:
    """The title of a layer that rescales, picks, joins or moves values, and learns nothing (drawn grey)."""
    joined = {"Average": "their mean", "Add": "their sum", "Concatenate": "side by side", "Maximum": "the largest"}
    if name in joined:
        return f"{name}: the branches' outputs, {joined[name]}"
    if name == "Rescaling":
        scale, offset = float(config["scale"]), float(config.get("offset", 0.0))
        if np.isclose(scale, 1 / 255):
            return "Rescaling: pixels ÷ 255, to [0, 1]"
        return f"Rescaling: × {scale:.4g}" + (f", then {offset:+.4g}" if offset else "")
    if name == "Channels":  # har.models.Channels
        start, stop = config["start"], config["stop"]
        known = {(0, 3): ": the RGB", (3, 5): ": the optical flow (x, y)"}.get((start, stop), "")
        return f"Channels {start} to {stop - 1}{known}"
    if name == "Cropping3D":
        (before, after), _, _ = config["cropping"]
        kept = (frames or before + after + 1) - before - after
        return f"Cropping3D: keeps {kept} frame(s), from frame {before + 1}"
    if name == "Flatten":
        return "Flatten: everything into one vector"
    if name == "Permute":
        return f"Permute: axes in the order {_sizes(config['dims'])}"
    if name == "Reshape":
        return f"Reshape: to {_sizes(config['target_shape'])}"
    return name


def _output_shape(layer) -> tuple | None:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def _drawing_order(model) -> tuple[list, list[list[int]], dict[str, tuple[int, int]]]:
    """The layers of ``model`` (no input layer) in the order the diagram draws them, the rows each reads from
    (0: the input), and the branches: {name: (row of its first layer, row of its last)}.

    Layers come after the layers they read, in the order they read them: where several layers read one output,
    each starts a branch, and each branch is drawn whole before the next (the two streams of ``two_stream`` one
    below the other), the layer that joins them after them all.
    """
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if type(model).__name__ == "Sequential":
        return layers, [[i] for i in range(len(layers))], {}
    parents = {
        id(layer): [t._keras_history.operation for t in layer._inbound_nodes[0].input_tensors] for layer in layers
    }
    ordered, placed = [], set()

    def visit(layer):  # the layers it reads first, in the order it reads them, then the layer
        if id(layer) in parents and id(layer) not in placed:
            placed.add(id(layer))
            for parent in parents[id(layer)]:
                visit(parent)
            ordered.append(layer)

    for layer in [output._keras_history.operation for output in model.outputs] + layers:
        visit(layer)
    row_of = {id(layer): row for row, layer in enumerate(ordered, start=1)}
    reads = [[row_of.get(id(parent), 0) for parent in parents[id(layer)]] or [0] for layer in ordered]
    consumers = Counter(id(parent) for ups in parents.values() for parent in ups)
    lane, members = {}, {}  # lane: the first layer of the branch a layer is on (0: not on a branch)
    for row, layer in enumerate(ordered, start=1):
        ups = parents[id(layer)]
        if len(ups) != 1:
            lane[id(layer)] = 0  # a layer joining branches: back on the trunk
        elif consumers[id(ups[0])] > 1:
            lane[id(layer)] = id(layer)  # a new branch
        else:
            lane[id(layer)] = lane.get(id(ups[0]), 0)
        if lane[id(layer)]:
            members.setdefault(lane[id(layer)], []).append(row)
    branches = {ordered[rows[-1] - 1].name.replace("_", " "): (rows[0], rows[-1]) for rows in members.values()}
    return ordered, reads, branches


def _draw_rows(ax, rows: list[tuple], heights: list[float], top: float) -> list[tuple[float, float]]:
    """Draw the diagram's rows from ``top`` down; return the (bottom, top) of each box."""
    boxes, y, labelled_loop = [], top, False
    for (kind, text, detail, per_frame, shape, params), height in zip(rows, heights, strict=True):
        bottom = y - height
        middle = bottom + height / 2
        for copy in (2, 1, 0) if per_frame else (0,):  # copies behind: the same layer for the other frames
            corner = (_LEFT + 0.1 * copy, bottom + 0.08 * copy)
            style = {
                "boxstyle": "round,pad=0,rounding_size=0.08",
                "fc": _KINDS[kind][0],
                "ec": "0.5" if copy else "0.2",
            }
            ax.add_patch(FancyBboxPatch(corner, _WIDTH, height, **style))
        ax.text(_LEFT + 0.15, middle + (0.16 if detail else 0), text, va="center", fontsize=9.5)
        if detail:
            ax.text(_LEFT + 0.15, middle - 0.2, detail, va="center", fontsize=8.5, color="0.25")
        if kind == "recurrent":  # a loop: its memory, passed from one frame to the next
            loop = {"connectionstyle": "arc3,rad=-2.2", "mutation_scale": 12, "lw": 1.5, "color": "#b35900"}
            _arrow(ax, (_LEFT, bottom + 0.2), (_LEFT, bottom + height - 0.2), **loop)
            if not labelled_loop:
                label = "memory,\nframe to\nframe"
                ax.text(_LEFT - 0.75, middle, label, ha="right", va="center", fontsize=8, color="#b35900")
                labelled_loop = True
        if shape is not None:
            dims = " × ".join("?" if d is None else str(d) for d in shape[1:])
            ax.text(_LEFT + _WIDTH + 0.4, middle, dims, va="center", fontsize=10, family="monospace")
        if params:
            ax.text(_LEFT + _WIDTH + 3.4, middle, f"{params:,} weights", va="center", fontsize=8.5, color="0.35")
        boxes.append((bottom, y))
        y = bottom - _GAP
    return boxes


def _draw_links(ax, reads: list[list[int]], boxes: list[tuple[float, float]]) -> None:
    """An arrow into every row from each row it reads (0: the input)."""
    for row, sources in enumerate(reads, start=1):
        for source in sources:
            if source == row - 1:  # the row above: straight down
                start, end, bend = (_LEFT + _WIDTH / 2, boxes[source][0]), (_LEFT + _WIDTH / 2, boxes[row][1]), "arc3"
            else:  # from further up (a branch starting, or joining): round the left of the rows between
                start, end, bend = (_LEFT, boxes[source][0] + 0.15), (_LEFT, boxes[row][1] - 0.15), "arc3,rad=0.25"
            _arrow(ax, start, end, color="0.3", connectionstyle=bend, mutation_scale=10)


def _draw_brackets(ax, rows: list[tuple], boxes: list, branches: dict, frames: int | None) -> None:
    """Bracket and name every branch (right), and every run of three or more per-frame layers (left)."""
    for name, (first, last) in branches.items():
        top, bottom, x = boxes[first][1], boxes[last][0], _LEFT + _WIDTH + 0.15
        ax.plot([x - 0.08, x, x, x - 0.08], [top, top, bottom, bottom], color="#7a3e9d", lw=1.5)
        ax.text(x + 0.1, bottom - 0.12, name, ha="left", va="top", fontsize=8.5, color="#7a3e9d", style="italic")
    first = 0
    for per_frame, run in groupby(row[3] for row in rows):
        last = first + len(list(run)) - 1
        if per_frame and last - first >= 2:  # a shorter run: the stacked boxes and the legend say it
            top, bottom, x = boxes[first][1], boxes[last][0], _LEFT - 0.25
            ax.plot([x + 0.12, x, x, x + 0.12], [top, top, bottom, bottom], color="#1f5f99", lw=1.5)
            label = f"on each of\nthe {frames} frames\nalone, the\nsame weights" if frames else "per frame"
            ax.text(x - 0.12, (top + bottom) / 2, label, ha="right", va="center", fontsize=8, color="#1f5f99")
        first = last + 1


def _draw_legend(ax, kinds: list[str], frames: int | None) -> None:
    """A legend below the diagram: a box of each kind drawn (``"per frame"``: a stack) and what it does."""
    stacked = f"stacked: the same layer on each of the {frames} frames alone (TimeDistributed)"
    for i, kind in enumerate(kinds):
        y = -0.9 - 0.45 * i
        colour, text = _KINDS.get(kind, ("white", stacked))
        for copy in (2, 1, 0) if kind == "per frame" else (0,):
            corner = (_LEFT + 0.06 * copy, y + 0.05 * copy)
            ax.add_patch(FancyBboxPatch(corner, 0.5, 0.25, boxstyle="round,pad=0", fc=colour, ec="0.3"))
        ax.text(_LEFT + 0.75, y + 0.15, text, va="center", fontsize=8.5)


def plot_model_diagram(model, *, title: str | None = None):
    """Draw a Keras model as a flow of layers, top to bottom, with the shape of one clip (no batch axis) after each.

    Made from the model itself (its layers, their settings and output shapes), so it shows the model as it is,
    edits included. It labels its loops (recurrent memory), stacks (per-frame layers) and brackets (branches).
    """
    input_shape = tuple(model.inputs[0].shape)
    frames = input_shape[1] if len(input_shape) == 5 else None
    dtype = getattr(model.inputs[0], "dtype", "")
    what = f"clips of {frames} frames" if frames else "inputs"
    rows = [("input", f"input: {what}, {dtype}", "", False, input_shape, 0)]
    ordered, reads, branches = _drawing_order(model)
    rows += [(*_describe_layer(layer, frames), _output_shape(layer), layer.count_params()) for layer in ordered]
    heights = [0.9 if row[2] or row[0] in ("recurrent", "convolution", "dense") else 0.55 for row in rows]
    total = sum(heights) + _GAP * (len(rows) - 1)
    fig, ax = plt.subplots(figsize=(11, 0.34 * total + 1.6))
    boxes = _draw_rows(ax, rows, heights, total)
    _draw_links(ax, reads, boxes)
    _draw_brackets(ax, rows, boxes, branches, frames)
    header = "shape of one clip (frames × height × width × channels)" if frames else "output shape"
    ax.text(_LEFT + _WIDTH + 0.4, total + 0.3, header, fontsize=8.5, color="0.35")
    kinds = [kind for kind, (_, text) in _KINDS.items() if text and any(row[0] == kind for row in rows)]
    kinds += ["per frame"] if any(row[3] for row in rows) else []
    _draw_legend(ax, kinds, frames)
    ax.set(xlim=(0, _LEFT + _WIDTH + 5), ylim=(-1.1 - 0.45 * len(kinds), total + 0.7))
    ax.axis("off")
    ax.set_title(title or f"{model.name}: what flows where", fontsize=12)
    return _finish(fig)


def show_video(path: str | os.PathLike, width: int = 480, *, max_seconds: float = 30.0, max_mb: float = 2.0):
    """Show an MP4 inline in Jupyter or Colab, embedded so it survives in the saved notebook, and small.

    A video over ``max_mb`` MB or ``max_seconds`` seconds is shown as a preview: its first ``max_seconds`` seconds,
    at most ``width`` pixels wide, written beside it as ``<name>.preview.mp4``, with a line saying where the whole
    video is. So a notebook that labels a 10-minute video stays a few MB on disk.
    """
    import html
    import subprocess

    import imageio_ffmpeg
    from IPython.display import HTML, Video

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such video to show")
    info = video_info(path)
    seconds = info.frame_count / info.fps if info.fps > 0 and info.frame_count > 0 else float("inf")
    if path.stat().st_size <= max_mb * 1e6 and seconds <= max_seconds:
        return Video(str(path), embed=True, width=width, html_attributes="controls loop muted")
    preview = path.with_name(f"{path.stem}.preview.mp4")
    with atomic_write(preview, suffix=".mp4") as tmp:
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(path), "-t", f"{max_seconds:g}",
            "-an", "-vf", f"scale='min({width},iw)':-2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "30",
            "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", str(tmp),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise VideoError(f"cannot make a preview of {path}: {ffmpeg_reason(done.stderr, done.returncode)}")
    whole = f"{seconds / 60:.1f} min" if seconds != float("inf") else "long"
    where = html.escape(str(path))
    note = f"<p>Preview: the first {max_seconds:g} s of a {whole} video; the whole video is <code>{where}</code>.</p>"
    return HTML(
        note + Video(str(preview), embed=True, width=width, html_attributes="controls loop muted")._repr_html_()
    )


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save a figure as PNG (creating folders), atomically: a full disk leaves no cut-off image; return the path."""
    path = Path(path)
    with atomic_write(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    return path
