"""Plots the notebooks show: first frames with labels, sampled frames of a clip, a batch of clips as a 5-D
tensor, a model's architecture, splits, curves, timelines.

Every function returns the matplotlib ``Figure`` (shown inline by Jupyter) so scripts can save it.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

from har.errors import ArgumentError


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


def plot_clip_examples(clips: np.ndarray, captions: list[str], *, title: str | None = None, frames_shown: int = 5):
    """One row per clip (uint8 ``[N, T, H, W, 3]``): ``frames_shown`` of its frames, evenly spaced, and a caption.

    For looking at what models got right or wrong: a row shows how a clip moves from its first frame to its last.
    """
    clips = np.asarray(clips)
    if len(clips) == 0:
        raise ArgumentError("no clips to show")
    shown = np.linspace(0, clips.shape[1] - 1, min(frames_shown, clips.shape[1])).round().astype(int)
    fig, axes = _figure(len(clips), len(shown), figsize=(1.7 * len(shown), 1.9 * len(clips)), squeeze=False)
    for row, (clip, caption) in enumerate(zip(clips, captions, strict=True)):
        for col, t in enumerate(shown):
            ax = axes[row, col]
            ax.imshow(clip[t])
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"frame {t + 1}", fontsize=8)
        axes[row, 0].set_ylabel(caption, fontsize=8, rotation=0, ha="right", va="center", labelpad=6)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_skeletons(frames: np.ndarray, keypoints: np.ndarray, captions: list[str], *, title: str | None = None):
    """One row per clip: its frames (uint8 ``[N, F, H, W, 3]``) with MoveNet's skeleton drawn over them (``keypoints``
    ``[N, F, 17, 3]``: y, x in 0-1 of the frame, score); keypoints MoveNet is unsure of (``har.pose.CONFIDENT``)
    are left out, so a frame where it lost the person shows no skeleton."""
    from har.pose import BONES, CONFIDENT

    frames, keypoints = np.asarray(frames), np.asarray(keypoints)
    rows, columns = frames.shape[:2]
    fig, axes = _figure(rows, columns, figsize=(1.9 * columns, 2.0 * rows), squeeze=False)
    for row in range(rows):
        for col in range(columns):
            ax, (height, width) = axes[row, col], frames.shape[2:4]
            ax.imshow(frames[row, col])
            y, x, score = keypoints[row, col].T * np.array([[height], [width], [1]])
            for a, b in BONES:
                if score[a] > CONFIDENT and score[b] > CONFIDENT:
                    ax.plot([x[a], x[b]], [y[a], y[b]], color="lime", linewidth=1.5)
            sure = score > CONFIDENT
            ax.scatter(x[sure], y[sure], s=6, color="red", zorder=3)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"mean score {score.mean():.2f}", fontsize=7)
        axes[row, 0].set_ylabel(captions[row], fontsize=8, rotation=0, ha="right", va="center", labelpad=6)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def flow_to_rgb(flow: np.ndarray, full_speed: float | None = None) -> np.ndarray:
    """Colour pictures of stored optical flow (uint8 ``[..., H, W, 2]``, ``har.video.FlowMaker``), float RGB in [0, 1].

    The usual flow colouring: the hue is the direction of motion, the brightness its speed, full at ``full_speed``
    model pixels a frame (default: the 99th percentile of the speeds shown, so faint motion still shows).
    """
    from matplotlib.colors import hsv_to_rgb

    from har.video import FLOW_UNITS

    motion = (np.asarray(flow, np.float32) - 128) / FLOW_UNITS
    speed = np.hypot(motion[..., 0], motion[..., 1])
    full_speed = full_speed or max(float(np.percentile(speed, 99)), 1 / FLOW_UNITS)
    hue = (np.arctan2(motion[..., 1], motion[..., 0]) + np.pi) / (2 * np.pi)
    return hsv_to_rgb(np.stack([hue, np.ones_like(hue), np.clip(speed / full_speed, 0, 1)], axis=-1))


def plot_flow(frames: np.ndarray, flow: np.ndarray, *, title: str | None = None, frames_shown: int = 6):
    """A clip's frames (uint8 ``[T, H, W, 3]``) above their optical flow (``[T, H, W, 2]``), in colour.

    Hue is the direction of motion, brightness its speed (``flow_to_rgb``), one scale for the whole clip; a colour
    wheel in the corner shows which hue is which direction.
    """
    from har.video import FLOW_UNITS

    shown = np.linspace(0, len(frames) - 1, min(frames_shown, len(frames))).round().astype(int)
    colours = flow_to_rgb(np.asarray(flow)[shown])
    fig, axes = _figure(2, len(shown) + 1, figsize=(1.8 * (len(shown) + 1), 4.0), squeeze=False)
    for col, t in enumerate(shown):
        axes[0, col].imshow(frames[t])
        axes[0, col].set_title(f"frame {t + 1}", fontsize=8)
        axes[1, col].imshow(colours[col])
    y, x = np.mgrid[-1:1:65j, -1:1:65j]  # the wheel: the colour of a motion towards each point
    wheel = (128 + 64 * np.stack([x, y], axis=-1)).clip(1, 255)
    axes[1, -1].imshow(flow_to_rgb(wheel, full_speed=64 / FLOW_UNITS) * (np.hypot(x, y) <= 1)[..., None])
    axes[1, -1].set_title("direction", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, -1].axis("off")
    axes[0, 0].set_ylabel("frames", fontsize=8)
    axes[1, 0].set_ylabel("optical flow", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_split_groups(groups: np.ndarray, splits: dict, labels: np.ndarray | None = None):
    """For each named split, show which groups sit on the train side, the test side, or both (the leak).

    With ``labels``, a group counts per class (UCF50: group 3 of Swing and of TaiChi are different footage),
    and each cell of the strip is one class's group, class after class.
    """
    from har.splits import group_overlap

    groups = np.asarray(groups)
    keys = groups if labels is None else np.asarray(labels).astype(np.int64) * (int(groups.max()) + 1) + groups
    names = list(splits)
    fig, axes = _figure(len(names), 1, figsize=(10, 1.4 * len(names) + 0.6), squeeze=False)
    unique = np.unique(keys)
    for ax, name in zip(axes[:, 0], names, strict=True):
        split = splits[name]
        in_train = np.isin(unique, keys[split.train])
        in_test = np.isin(unique, keys[split.test])
        state = np.where(in_train & in_test, 2, np.where(in_test, 1, 0))
        colours = np.array([[0.3, 0.5, 0.9], [0.95, 0.6, 0.1], [0.85, 0.1, 0.1]])
        ax.imshow(colours[state][None], aspect="auto")
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


def plot_label_timeline(result, *, truth=None, title: str | None = None):
    """Probabilities of every class over a video (from ``har.predict.predict_on_video``), top label shaded.

    ``truth``, a list of (start s, end s, class) such as ``JoinedClips.truth()``, adds a band of the true
    classes under the predicted one, in the same colours, so a reader sees where the label is late or wrong.
    The shot cuts prediction found (``result.cuts``) are dotted lines: no window reaches back across one.
    """
    import matplotlib.pyplot as plt

    rows = 3 if truth else 2
    ratios = [1, 1, 4] if truth else [1, 4]
    fig, axes = _figure(rows, 1, figsize=(11, 4.6 if truth else 4), sharex=True, gridspec_kw={"height_ratios": ratios})
    band, lines = axes[0], axes[-1]
    seconds = result.seconds
    colours = plt.get_cmap("tab10")
    top = result.probabilities.argmax(axis=1)
    step = 1 / result.fps
    for i, name in enumerate(result.classes):
        lines.plot(seconds, result.probabilities[:, i], color=colours(i % 10), label=name)
        band.bar(seconds[top == i], 1, width=step, color=colours(i % 10), align="edge", linewidth=0)
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
    lines.set_ylim(0, 1)
    lines.set_xlabel("time (s) at the end of each window")
    lines.set_ylabel("probability")
    lines.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    lines.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_learning_curve(curves: dict[str, list[tuple[float, float]]], *, title: str, chance: float | None = None):
    """Test accuracy (0-1) against training clips per class, one line per model: ``{model: [(clips, acc), ...]}``.

    ``title`` should say what data it was measured on; ``chance`` draws the accuracy of guessing.
    """
    fig, axis = _figure(figsize=(7, 4))
    for name, points in curves.items():
        clips, accuracy = zip(*sorted(points), strict=True)
        axis.plot(clips, [100 * a for a in accuracy], marker="o", label=name)
    if chance is not None:
        axis.axhline(100 * chance, color="grey", linestyle=":", label="chance")
    axis.set_xlabel("training clips per class")
    axis.set_ylabel("test accuracy (%)")
    axis.set_ylim(0, 100)
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_per_class_f1(results: dict, *, title: str):
    """Per-class F1 of every model (``{name: har.evaluate.Evaluation}``, same classes) as grouped bars.

    ``title`` should say what data it was measured on.
    """
    names = list(results)
    if not names:
        raise ArgumentError("no results to plot")
    classes = results[names[0]].classes
    fig, axis = _figure(figsize=(max(6.0, 1.1 * len(classes) + 2), 3.6))
    width = 0.8 / len(names)
    positions = np.arange(len(classes))
    for i, name in enumerate(names):
        axis.bar(positions + (i - (len(names) - 1) / 2) * width, results[name].per_class_f1(), width, label=name)
    axis.set_xticks(positions, classes, rotation=30, ha="right")
    axis.set_ylabel("F1")
    axis.set_ylim(0, 1.05)
    axis.grid(axis="y", alpha=0.3)
    axis.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize=8)
    axis.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_approaches(figures: dict, *, title: str, pairs=(), chance: float | None = None):
    """The approaches side by side (``{name: har.evaluate.ModelFigures}``): accuracy, and prediction speed.

    Left, test accuracy per model (and motion-pair accuracy beside it when ``pairs`` are given); a model with a
    ``note`` (its accuracy would mislead) gets no bar, only its note. Right, clips classified per second, on a
    log scale. ``title`` should say what data it was measured on; ``chance`` draws the accuracy of guessing.
    """
    names = list(figures)
    if not names:
        raise ArgumentError("no models to plot")
    fig, (left, right) = _figure(1, 2, figsize=(10, 0.55 * len(names) + 1.6), width_ratios=(3, 2), sharey=True)
    rows = np.arange(len(names))[::-1]
    labels = [f"{figures[n].approach}\n{n}, {figures[n].parameters:,} weights" for n in names]
    height = 0.38 if pairs else 0.7
    accuracy = [np.nan if figures[n].note else 100 * figures[n].evaluation.accuracy for n in names]
    left.barh(rows + (height / 2 if pairs else 0), accuracy, height, label="test accuracy", color="tab:blue")
    if pairs:
        pair = [figures[n].evaluation.pair_accuracy(pairs) for n in names]
        pair = [np.nan if figures[n].note or p is None else 100 * p for n, p in zip(names, pair, strict=True)]
        left.barh(rows - height / 2, pair, height, label="motion-pair accuracy", color="tab:orange")
    for row, name in zip(rows, names, strict=True):
        if figures[name].note:
            left.text(1, row, figures[name].note, va="center", fontsize=8, color="grey", backgroundcolor="white")
    if chance is not None:
        left.axvline(100 * chance, color="grey", linestyle=":", label="chance")
    left.set_yticks(rows, labels, fontsize=8)
    left.set_xlim(0, 100)
    left.set_xlabel("% of test clips")
    left.grid(axis="x", alpha=0.3)
    left.legend(loc="lower right", fontsize=8)
    speeds = [np.nan if figures[n].clips_per_second is None else figures[n].clips_per_second for n in names]
    right.barh(rows, speeds, 0.7, color="tab:green")
    right.set_xscale("log")
    for row, speed in zip(rows, speeds, strict=True):
        if np.isnan(speed):  # tested on its feature cache: its clips/s would leave out the backbone
            right.text(0.02, row, "not timed: tested on its cache", va="center", fontsize=8, color="grey",
                       transform=right.get_yaxis_transform())  # fmt: skip
    right.set_xlabel("clips classified per second (log scale)")
    right.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _xy(x: float, y: float) -> np.ndarray:
    return np.array([x, y], dtype=float)


def plot_video_tensor(clips: np.ndarray, labels=None, *, title: str | None = None):
    """Draw a batch of clips (uint8 ``[N, T, H, W, C]``) as what a model sees: a 5-D tensor.

    Each clip is a row of its ``T`` frames drawn in perspective, one after the other in time; the axes
    are labelled with their sizes, and the last frame of the first clip is split into its colour
    channels. ``labels`` names the clips (one per row).
    """
    from matplotlib.patches import FancyArrowPatch, Polygon
    from matplotlib.transforms import Affine2D

    clips = np.asarray(clips)
    if clips.ndim != 5:
        raise ArgumentError(f"clips must be [N, T, H, W, C], got shape {clips.shape}")
    n, t, h, w, c = clips.shape
    across = _xy(0.5, 0.22) * w / max(h, w)  # a frame's width, seen at an angle
    up = _xy(0, 1) * h / max(h, w)  # its height
    step = _xy(0.36, 0)  # from one frame to the next in time
    row_gap = up[1] + across[1] + 0.55
    strip = (t - 1) * step[0] + across[0]  # width of one clip's row of frames
    fig, ax = _figure(figsize=(12, 1.75 * n + 1.3))

    def draw_frame(image, origin, z):
        corners = np.array([origin, origin + across, origin + across + up, origin + up])
        place = Affine2D.from_values(*across, *up, *origin) + ax.transData
        ax.imshow(image, extent=(0, 1, 0, 1), transform=place, interpolation="nearest", zorder=z)
        ax.add_patch(Polygon(corners, closed=True, fill=False, lw=0.6, ec="0.25", zorder=z))

    def arrow(start, end, text, shift, **text_kwargs):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, lw=1.2, color="black"))
        ax.text(*((start + end) / 2 + shift), text, ha="center", va="center", **{"fontsize": 10, **text_kwargs})

    for row in range(n):
        base = _xy(0, (n - 1 - row) * row_gap)
        for i in reversed(range(t)):  # the first frame in front
            draw_frame(clips[row, i], base + i * step, z=2 * (t - i))
        name = f"clip {row}" + (f": {labels[row]}" if labels is not None else "")
        ax.text(base[0], base[1] + up[1] + across[1] + 0.1, name, fontsize=10, va="bottom")
    top = _xy(0, (n - 1) * row_gap)
    arrow(_xy(0, -0.2), _xy(strip - across[0], -0.2), f"T = {t}: time, frame 0 to frame {t - 1}", _xy(0, -0.17))
    arrow(top + _xy(-0.1, 0), top + up + _xy(-0.1, 0), f"H = {h}", _xy(-0.17, 0), rotation=90)
    arrow(top + _xy(0, -0.1), top + across + _xy(0, -0.1), f"W = {w}", _xy(0.12, -0.12), fontsize=9)
    arrow(top + up + _xy(-0.75, 0), _xy(-0.75, 0), f"N = {n}: clips in a batch", _xy(-0.17, 0), rotation=90)
    # The channels: the last frame of the first clip, split into its colour planes.
    origin = top + _xy(strip + 0.9, 0)
    colours = ("tab:red", "tab:green", "tab:blue")
    for k in reversed(range(c)):
        plane = np.zeros_like(clips[0, -1])
        plane[..., k] = clips[0, -1][..., k]
        corner = origin + _xy(0.3 * k, 0)
        draw_frame(plane if c == 3 else clips[0, -1][..., k], corner, z=10 - k)
        if c == 3:
            ax.text(*(corner + across + up + _xy(0, 0.06)), "RGB"[k], color=colours[k], ha="center")
    text = f"C = {c}: frame {t - 1} is\n{h} × {w} × {c} numbers"
    ax.text(*(origin + _xy(0.55, -0.15)), text, ha="center", va="top", fontsize=10)
    ax.set_aspect("equal")
    ax.set_xlim(-1.1, strip + 2.4)
    ax.set_ylim(-0.6, (n - 1) * row_gap + up[1] + across[1] + 0.45)
    ax.axis("off")
    shape = ", ".join(str(s) for s in clips.shape)
    ax.set_title(title or f"A batch of clips is a 5-D tensor (N, T, H, W, C) = ({shape}), {clips.dtype}")
    fig.tight_layout()
    return fig


#: Colours of the layer kinds in ``plot_model_diagram``.
_LAYER_COLOURS = {
    "input": "#eeeeee",
    "recurrent": "#f5b971",
    "convolution": "#8fbce6",
    "pooling": "#a8d5a2",
    "dropout": "#f7f7f7",
    "reshape": "#dddddd",
    "dense": "#c9b3e6",
}
_KIND_LEGEND = {
    "recurrent": "recurrent: reads the frames in order and keeps a memory",
    "convolution": "convolution: small filters slid over the image",
    "pooling": "pooling: keeps the strongest (or mean) response of each patch",
    "dropout": "dropout: zeroes a random share of values, while training only",
    "dense": "dense: every input connected to every output",
}


def _sizes(value) -> str:
    return "×".join(str(v) for v in (value if isinstance(value, list | tuple) else (value,)))


def _describe_layer(layer, frames: int | None) -> tuple[str, str, str, bool]:
    """(kind, title, detail, per frame) of a Keras layer as ``plot_model_diagram`` draws it."""
    name = type(layer).__name__
    if name == "TimeDistributed":
        if type(layer.layer).__name__ == "Flatten":
            return "reshape", "Flatten: each frame into one vector", "", True
        kind, title, detail, _ = _describe_layer(layer.layer, frames)
        return kind, title, detail, True
    if hasattr(layer, "layers"):  # a model used as a layer (a pretrained backbone)
        return "convolution", f"{layer.name}: a CNN of {len(layer.layers)} layers", "", False
    config = layer.get_config()
    if any(part in name for part in ("LSTM", "GRU", "RNN")):
        size = f"{config['filters']} filters {_sizes(config['kernel_size'])}" if "filters" in config else ""
        size = size or f"{config['units']} units"
        steps = f"returns all {frames or 'its'} steps" if config.get("return_sequences") else "returns its last step"
        dropout = f", recurrent dropout {config['recurrent_dropout']:g}" if config.get("recurrent_dropout") else ""
        return "recurrent", f"{name}: {size}", f"{config.get('activation', 'tanh')}{dropout}; {steps}", False
    if name.startswith("Conv"):
        padding = ", padding same" if config.get("padding") == "same" else ""
        title = f"{name}: {config['filters']} filters {_sizes(config['kernel_size'])}"
        return "convolution", f"{title}, {config['activation']}{padding}", "", False
    if "Pooling" in name:
        if name.startswith("Global"):
            over = {"1D": "time", "2D": "space", "3D": "time and space"}[name[-2:]]
            return "pooling", f"{name}: the mean over {over}", "", False
        pool = tuple(config["pool_size"])
        detail = "over space only: every frame kept" if len(pool) == 3 and pool[0] == 1 else ""
        return "pooling", f"{name}: {_sizes(pool)}", detail, False
    if "Dropout" in name:
        return "dropout", f"{name}: {config['rate']:g}", "", False
    if name == "Dense":
        return "dense", f"Dense: {config['units']} units, {config['activation']}", "", False
    if name == "Rescaling":
        scale = float(config["scale"])
        if np.isclose(scale, 1 / 255):
            return "reshape", "Rescaling: pixels ÷ 255, to [0, 1]", "", False
        offset = float(config.get("offset", 0.0))
        return "reshape", f"Rescaling: × {scale:.4g}" + (f", then {offset:+.4g}" if offset else ""), "", False
    if name == "Channels":  # har.models.Channels
        start, stop = config["start"], config["stop"]
        known = {(0, 3): ": the RGB", (3, 5): ": the optical flow (x, y)"}.get((start, stop), "")
        return "reshape", f"Channels {start} to {stop - 1}{known}", "", False
    if name in ("Average", "Add", "Concatenate", "Maximum"):
        joined = {"Average": "their mean", "Add": "their sum", "Concatenate": "side by side", "Maximum": "the largest"}
        return "reshape", f"{name}: the branches' outputs, {joined[name]}", "", False
    if name == "Flatten":
        return "reshape", "Flatten: everything into one vector", "", False
    if name == "Cropping3D":
        (before, after), _, _ = config["cropping"]
        kept = (frames or before + after + 1) - before - after
        return "reshape", f"Cropping3D: keeps {kept} frame(s), from frame {before + 1}", "", False
    if name == "Permute":
        return "reshape", f"Permute: axes in the order {_sizes(config['dims'])}", "", False
    if name == "Reshape":
        return "reshape", f"Reshape: to {_sizes(config['target_shape'])}", "", False
    return "reshape", name, "", False


def _output_shape(layer) -> tuple | None:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def _drawing_order(model) -> tuple[list, list[list[int]], dict[int, str]]:
    """The layers of ``model`` (no input layer) in the order the diagram draws them, the rows each reads from
    (0: the input), and the branches: {name: (row of its first layer, row of its last)}.

    A chain of layers (every ``Sequential`` model) is drawn as it is. Where a layer's output feeds several layers,
    each of those starts a branch; a branch is drawn whole before the next (in the order the layer that joins
    them reads them), and the joining layer after them all: the two streams of ``two_stream`` one below the other.
    """
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if type(model).__name__ == "Sequential":
        return layers, [[i] for i in range(len(layers))], {}
    parents = {}
    for layer in layers:
        node = layer._inbound_nodes[0]
        parents[id(layer)] = [t._keras_history.operation for t in node.input_tensors]
    consumers: dict[int, int] = {}
    for layer in layers:
        for parent in parents[id(layer)]:
            consumers[id(parent)] = consumers.get(id(parent), 0) + 1
    lane, lanes_first, order_of = {}, {}, {id(layer): t for t, layer in enumerate(layers)}
    for t, layer in enumerate(layers):
        ups = parents[id(layer)]
        if len(ups) != 1:
            lane[id(layer)] = 0  # the input's reader, or a layer joining branches: back on the trunk
        elif consumers.get(id(ups[0]), 0) > 1:
            lane[id(layer)] = len(lanes_first) + 1  # a new branch
            lanes_first[lane[id(layer)]] = t
        else:
            lane[id(layer)] = lane.get(id(ups[0]), 0)
    rank = {}  # branches in the order the joining layer reads them
    for layer in layers:
        for parent in parents[id(layer)] if len(parents[id(layer)]) > 1 else ():
            rank.setdefault(lane.get(id(parent), 0), len(rank))

    def key(layer):
        t, k = order_of[id(layer)], lane[id(layer)]
        return (t, 0, 0, t) if k == 0 else (min(lanes_first.values()), 1, rank.get(k, len(rank) + k), t)

    ordered = sorted(layers, key=key)
    row_of = {id(layer): i + 1 for i, layer in enumerate(ordered)}
    inputs = [[row_of.get(id(parent), 0) for parent in parents[id(layer)]] or [0] for layer in ordered]
    branches = {}
    for k in lanes_first:
        members = [row_of[id(layer)] for layer in ordered if lane[id(layer)] == k]
        branches[ordered[max(members) - 1].name.replace("_", " ")] = (min(members), max(members))
    return ordered, inputs, branches


def plot_model_diagram(model, *, title: str | None = None):
    """Draw a Keras model as a flow of layers, top to bottom, with the shape of one clip after each.

    Made from the model itself (its layers, their settings and output shapes), so it shows the model as
    it is, edits included. Recurrent layers carry a loop (their memory, passed from one frame to the
    next); runs of per-frame (``TimeDistributed``) layers are drawn as stacks, one copy per frame with the
    same weights, and bracketed. A model with branches (two streams) has each branch drawn whole, bracketed and
    named, with arrows from where it starts to where the branches join. Shapes leave out the batch dimension.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    input_shape = tuple(model.inputs[0].shape)
    frames = input_shape[1] if len(input_shape) == 5 else None
    dtype = getattr(model.inputs[0], "dtype", "")
    what = f"clips of {frames} frames" if frames else "inputs"
    rows = [("input", f"input: {what}, {dtype}", "", False, input_shape, 0)]
    ordered, reads, branches = _drawing_order(model)
    for layer in ordered:
        kind, text, detail, per_frame = _describe_layer(layer, frames)
        rows.append((kind, text, detail, per_frame, _output_shape(layer), layer.count_params()))
    heights = [0.9 if row[2] or row[0] in ("recurrent", "convolution", "dense") else 0.55 for row in rows]
    gap = 0.45
    total = sum(heights) + gap * (len(rows) - 1)
    fig, ax = _figure(figsize=(11, 0.34 * total + 1.6))
    left, width = 2.3, 6.3
    boxes = []  # (bottom, top) of each row
    labelled_loop = False
    y = total
    for (kind, text, detail, per_frame, shape, params), height in zip(rows, heights, strict=True):
        bottom = y - height
        style = "round,pad=0,rounding_size=0.08"
        for copy in (2, 1) if per_frame else ():  # the same layer again, for the other frames
            corner = (left + 0.1 * copy, bottom + 0.08 * copy)
            ax.add_patch(FancyBboxPatch(corner, width, height, boxstyle=style, fc=_LAYER_COLOURS[kind], ec="0.5"))
        ax.add_patch(FancyBboxPatch((left, bottom), width, height, boxstyle=style, fc=_LAYER_COLOURS[kind], ec="0.2"))
        middle = bottom + height / 2
        if detail:
            ax.text(left + 0.15, middle + 0.16, text, va="center", fontsize=9.5)
            ax.text(left + 0.15, middle - 0.2, detail, va="center", fontsize=8.5, color="0.25")
        else:
            ax.text(left + 0.15, middle, text, va="center", fontsize=9.5)
        if kind == "recurrent":
            loop = FancyArrowPatch(
                (left, bottom + 0.2),
                (left, bottom + height - 0.2),
                connectionstyle="arc3,rad=-2.2",
                arrowstyle="-|>",
                mutation_scale=12,
                lw=1.5,
                color="#b35900",
            )
            ax.add_patch(loop)
            if not labelled_loop:
                label = "memory,\nframe to\nframe"
                ax.text(left - 0.75, middle, label, ha="right", va="center", fontsize=8, color="#b35900")
                labelled_loop = True
        if shape is not None:
            dims = " × ".join("?" if d is None else str(d) for d in shape[1:])
            ax.text(left + width + 0.4, middle, dims, va="center", fontsize=10, family="monospace")
        if params:
            ax.text(left + width + 3.4, middle, f"{params:,} weights", va="center", fontsize=8.5, color="0.35")
        boxes.append((bottom, y))
        y = bottom - gap
    for row, sources in enumerate(reads, start=1):
        for source in sources:
            if source == row - 1:  # the row above: straight down
                start, end, bend = (left + width / 2, boxes[source][0]), (left + width / 2, boxes[row][1]), "arc3"
            else:  # from further up (a branch starting, or joining): round the left of the rows between
                start, end, bend = (left, boxes[source][0] + 0.15), (left, boxes[row][1] - 0.15), "arc3,rad=0.25"
            arrow = FancyArrowPatch(start, end, arrowstyle="-|>", color="0.3", connectionstyle=bend)
            arrow.set_mutation_scale(10)
            ax.add_patch(arrow)
    for name, (first, last) in branches.items():  # bracket and name every branch
        top, bottom = boxes[first][1], boxes[last][0]
        x = left + width + 0.15
        ax.plot([x - 0.08, x, x, x - 0.08], [top, top, bottom, bottom], color="#7a3e9d", lw=1.5)
        ax.text(x + 0.1, bottom - 0.12, name, ha="left", va="top", fontsize=8.5, color="#7a3e9d", style="italic")
    # Bracket every run of per-frame layers.
    i = 0
    while i < len(rows):
        if not rows[i][3]:
            i += 1
            continue
        j = i
        while j + 1 < len(rows) and rows[j + 1][3]:
            j += 1
        top, bottom = boxes[i][1], boxes[j][0]
        x = left - 0.25
        if j - i < 2:  # too short to carry a label: the stacked boxes and the legend say it
            i = j + 1
            continue
        ax.plot([x + 0.12, x, x, x + 0.12], [top, top, bottom, bottom], color="#1f5f99", lw=1.5)
        label = f"on each of\nthe {frames} frames\nalone, the\nsame weights" if frames else "per frame"
        ax.text(x - 0.12, (top + bottom) / 2, label, ha="right", va="center", fontsize=8, color="#1f5f99")
        i = j + 1
    header = "shape of one clip (frames × height × width × channels)" if frames else "output shape"
    ax.text(left + width + 0.4, total + 0.3, header, fontsize=8.5, color="0.35")
    kinds = [kind for kind in _KIND_LEGEND if any(row[0] == kind for row in rows)]
    if any(row[3] for row in rows):
        kinds.append("per frame")
    for i, kind in enumerate(kinds):
        y = -0.9 - 0.45 * i
        colour = _LAYER_COLOURS.get(kind, "white")
        for copy in (2, 1, 0) if kind == "per frame" else (0,):
            corner = (left + 0.06 * copy, y + 0.05 * copy)
            ax.add_patch(FancyBboxPatch(corner, 0.5, 0.25, boxstyle="round,pad=0", fc=colour, ec="0.3"))
        text = _KIND_LEGEND.get(kind, f"stacked: the same layer on each of the {frames} frames alone (TimeDistributed)")
        ax.text(left + 0.75, y + 0.15, text, va="center", fontsize=8.5)
    ax.set_xlim(0, left + width + 5)
    ax.set_ylim(-1.1 - 0.45 * len(kinds), total + 0.7)
    ax.axis("off")
    ax.set_title(title or f"{model.name}: what flows where", fontsize=12)
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save a figure as PNG (creating folders), atomically: a full disk leaves no cut-off image; return the path."""
    from har.files import atomic_write

    path = Path(path)
    with atomic_write(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    return path


__all__ = [
    "plot_clip_frames",
    "plot_confusion_matrix",
    "plot_first_frames",
    "plot_history",
    "plot_label_timeline",
    "plot_model_diagram",
    "plot_skeletons",
    "plot_split_groups",
    "plot_video_tensor",
    "save_figure",
]
