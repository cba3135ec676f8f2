"""Prediction on whole videos: a label per sliding window (written onto the video) or one label per video.

The tutorial's loop calls ``model.predict`` once per frame on the last 20 frames, so every frame goes
through the CNN 20 times. Here, when a model starts with per-frame layers (LRCN, the single-frame
baseline, the pretrained backbone), those layers run **once per frame** and only the sequence head runs
per window; models that mix time in from the first layer (ConvLSTM) get their windows in batches.
The video streams through in chunks, so memory stays flat however long it is.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from har.bundle import load_bundle
from har.errors import ArgumentError, ClipTooShortError, HarError
from har.video import (
    FLOW_CHANNELS,
    H264Writer,
    ModelFrames,
    VideoSource,
    chunks,
    iter_frames,
    sample_frame_indices,
    video_info,
)
from har.window import (  # noqa: F401  (Smoothing, is_window_end: importable from here, as they were)
    UNSURE_BELOW,
    SlidingWindow,
    Smoothing,
    WindowPredictions,
    is_window_end,
    window_text,
)
from har.workers import extract_frames_isolated, open_frames


class Predictor:
    """A model with its bundle metadata, split into a per-frame encoder and a sequence head where possible."""

    def __init__(self, model, metadata: dict):
        self.model = model
        self.metadata = metadata
        self.classes: list[str] = list(metadata["classes"])
        self.sequence_length = int(metadata["sequence_length"])
        self.image_size = (int(metadata["image_size"][0]), int(metadata["image_size"][1]))
        # Training spread each clip's T frames over the whole clip, one every few video frames; a window takes
        # its T frames that far apart, so it sees motion at the pace the model learned (1 in older bundles).
        self.frame_step = max(1, int(metadata.get("frame_step", 1)))
        self.encoder, self.head = split_per_frame(model, self.sequence_length, self.image_size)
        #: The model reads each frame's optical flow too (the two-stream model): computed once per frame.
        self.flow = model.input_shape[-1] == FLOW_CHANNELS

    def model_frames(self) -> ModelFrames:
        """A converter of one video's decoded BGR frames, in order, to this model's input frames (flow included)."""
        return ModelFrames(self.image_size, flow=self.flow)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Predictor:
        """Load a model bundle (``.keras`` with metadata) for prediction."""
        return cls(*load_bundle(path))

    @classmethod
    def of(cls, predictor: Predictor | str | os.PathLike) -> Predictor:
        """``predictor`` itself, or the bundle at that path loaded (what every prediction function accepts)."""
        return predictor if isinstance(predictor, cls) else cls.load(predictor)

    @property
    def window_frames(self) -> int:
        """Video frames a window spans: its ``sequence_length`` frames, ``frame_step`` apart."""
        return (self.sequence_length - 1) * self.frame_step + 1

    def frames_needed(self, cuts: bool = True) -> int:
        """Frames a video needs before its first window: ``sequence_length`` when windows stop at shot cuts
        (the video's first frame starts a shot, and a window spreads over the frames so far), else the span."""
        return self.sequence_length if cuts else self.window_frames

    def window_indices(self, ends: np.ndarray, shot_starts: np.ndarray | None = None) -> np.ndarray:
        """Frame indices ``[len(ends), T]`` of the windows ending at frames ``ends``, oldest first.

        ``frame_step`` apart; with ``shot_starts`` (each end's shot's first frame, ``har.window.ShotCuts``), a window
        that would reach back across its shot's cut spreads its ``T`` frames over the shot so far, as training spread
        them over a clip: it never mixes two scenes.
        """
        ends = np.asarray(ends, dtype=np.int64)
        back = self.frame_step * np.arange(self.sequence_length - 1, -1, -1)
        indices = ends[:, None] - back[None, :]
        if shot_starts is not None:
            shot_starts = np.asarray(shot_starts, dtype=np.int64)
            for row in np.flatnonzero(indices[:, 0] < shot_starts):
                start = shot_starts[row]
                indices[row] = start + sample_frame_indices(int(ends[row] - start) + 1, self.sequence_length)
        return indices

    @property
    def per_frame(self) -> bool:
        """True when per-frame layers run once per frame (the fast sliding-window path)."""
        return self.encoder is not None

    def encode(self, frames: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Per-frame features of uint8 frames ``[n, H, W, 3]`` (the frames themselves without an encoder)."""
        if self.encoder is None:
            return frames
        parts = [
            _run(self.encoder, frames[i : i + batch_size, None], batch_size)[:, 0]
            for i in range(0, len(frames), batch_size)
        ]
        return np.concatenate(parts)

    def classify_windows(self, windows: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Class probabilities of windows ``[n, T, ...]`` of encoded frames."""
        network = self.head if self.head is not None else self.model
        parts = [_run(network, windows[i : i + batch_size], batch_size) for i in range(0, len(windows), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.classes)), np.float32)


def _run(network, batch: np.ndarray, batch_size: int) -> np.ndarray:
    """``predict_on_batch`` with the batch padded to a fixed size, so the compiled function is reused."""
    n = len(batch)
    if n < batch_size:
        batch = np.concatenate([batch, np.zeros((batch_size - n, *batch.shape[1:]), batch.dtype)])
    return np.asarray(network.predict_on_batch(batch))[:n]


def split_per_frame(model, sequence_length: int, image_size: tuple[int, int]):
    """Split a model into (per-frame encoder, sequence head) sharing its weights, or (None, None).

    The encoder is the model's leading run of per-frame layers (``Rescaling``, ``TimeDistributed``, and layers
    that say they are, ``per_frame = True``, such as the pose model's MoveNet), fed one frame at a time; the head is
    the rest, fed windows of encoded frames. Models without such a run, or with branches, are not split.
    """
    from har.backend import keras

    def frame_wise(layer) -> bool:
        return isinstance(layer, keras.layers.TimeDistributed) or getattr(layer, "per_frame", False)

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    k = 0
    while k < len(layers) and (isinstance(layers[k], keras.layers.Rescaling) or frame_wise(layers[k])):
        k += 1
    if not any(frame_wise(layer) for layer in layers[:k]) or k == len(layers):
        return None, None
    if not isinstance(model, keras.Sequential) and any(len(layer._inbound_nodes) != 1 for layer in layers):
        return None, None
    frame = keras.Input(shape=(1, *image_size, 3), dtype="uint8")
    x = frame
    for layer in layers[:k]:
        x = layer(x)
    encoder = keras.Model(frame, x, name="per_frame_encoder")
    window = keras.Input(shape=(sequence_length, *x.shape[2:]))
    y = window
    for layer in layers[k:]:
        y = layer(y)
    return encoder, keras.Model(window, y, name="sequence_head")


def draw_label(frame: np.ndarray, text: str, colour=(255, 255, 255)) -> np.ndarray:
    """Draw ``text`` on a dark band at the top-left of a frame, in place; ``colour`` is in the frame's channel order
    (RGB or OpenCV's BGR; white and greys are both)."""
    height = frame.shape[0]
    scale = max(0.4, height / 480)
    thickness = max(1, round(scale * 2))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    cv2.rectangle(frame, (0, 0), (w + 12, h + base + 12), (0, 0, 0), -1)
    cv2.putText(frame, text, (6, h + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return frame


def draw_skeleton(frame: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Draw MoveNet's skeleton (``keypoints`` ``[17, 3]``: y, x in 0-1 of the frame, score) on a BGR frame, in place:
    the bones between keypoints it is sure of (``har.pose.CONFIDENT``), nothing where it found no one."""
    from har.movenet import BONES, CONFIDENT

    height, width = frame.shape[:2]
    points = [(int(x * width), int(y * height)) for y, x, _ in keypoints]
    for a, b in BONES:
        if keypoints[a, 2] > CONFIDENT and keypoints[b, 2] > CONFIDENT:
            cv2.line(frame, points[a], points[b], (0, 255, 0), 2, cv2.LINE_AA)
    return frame


def draw_prediction(
    frame: np.ndarray, classes: list[str], probabilities: np.ndarray | None, sequence_length: int,
    unsure_below: float = UNSURE_BELOW, true_class: str | None = None,
) -> np.ndarray:  # fmt: skip
    """Draw what a labelled frame shows, in place: the window's label and confidence, "unsure", or, before the first
    window is full (``probabilities`` None), that it is collecting frames (grey unless sure); ``true_class`` after."""
    if probabilities is None:
        text, colour = f"collecting {sequence_length} frames...", (200, 200, 200)
    else:
        text = window_text(classes, probabilities, unsure_below)
        colour = (200, 200, 200) if text.startswith("unsure") else (255, 255, 255)
    return draw_label(frame, text if true_class is None else f"{text}  (true: {true_class})", colour)


def predict_on_video(
    predictor: Predictor | str | os.PathLike,
    source: VideoSource,
    out: str | os.PathLike | None = None,
    *,
    stride: int = 1,
    smooth: int = 1,
    batch_size: int = 64,
    chunk_size: int = 256,
    max_frames: int | None = None,
    unsure_below: float = UNSURE_BELOW,
    cuts: bool = True,
    truth: list[tuple[float, float, str]] | None = None,
    progress: bool = True,
) -> WindowPredictions:
    """Label every frame of a video with the action of the window of frames that ends there (``har.window``).

    Many parameters because it is notebook 08's and the command line's one call for a video. Long because it is the
    loop over one, kept whole. ``stride``, ``smooth`` and ``cuts``: ``har.window.SlidingWindow``. With ``out``, every
    frame is written to an H.264 MP4 with its label ("unsure" below ``unsure_below``) and, with ``truth`` ((start s,
    end s, class) of known actions: ``JoinedClips.truth``), the true action. ``ClipTooShortError`` (and no file) when
    fewer frames decode than the first window needs.
    """
    if stride < 1 or smooth < 1:
        raise HarError("stride and smooth must be at least 1")
    predictor = Predictor.of(predictor)
    sliding = SlidingWindow(predictor, stride=stride, smooth=smooth, cuts=cuts, batch_size=batch_size)
    ends, probabilities, bar, writer = [], [], None, None
    with ExitStack() as stack:  # on any error the worker ends and the writer deletes its temporary file
        info, frames = open_frames(source, stack)
        total = info.frame_count if info.frame_count > 0 else None
        total = total if max_frames is None else min(total or max_frames, max_frames)
        started = time.perf_counter()
        for index, frame, shown, ended in sliding.label(chunks(frames, chunk_size, max_frames)):
            if bar is None and index + 1 >= sliding.need:  # a too-short video ends with its error line only
                bar = stack.enter_context(tqdm(total=total, initial=index, unit="frame", desc="Predicting",
                                               disable=not progress))  # fmt: skip
            if ended:
                ends.append(index)
                probabilities.append(shown)
            if out is not None:  # decoded frames are BGR, and so is what FFmpeg is told it gets
                if writer is None:
                    size = (frame.shape[1], frame.shape[0])
                    writer = stack.enter_context(H264Writer(out, size, info.fps, pixel_format="bgr24"))
                true_class = next((name for a, b, name in truth or () if a <= index / info.fps < b), None)
                writer.write(draw_prediction(frame, predictor.classes, shown, sliding.need, unsure_below, true_class))
            if bar is not None:
                bar.update()
        if sliding.seen < sliding.need:
            needs = f"the {sliding.need} a window needs" if cuts else f"a window spans ({_span_text(predictor)})"
            raise ClipTooShortError(f"{_name(source)}: only {sliding.seen} frames decode, fewer than {needs}")
        seconds = time.perf_counter() - started  # the frames' time, before the video is closed
    speed = {"seconds": seconds, "frames_per_second": sliding.seen / seconds if seconds else float("nan")}
    probabilities = np.array(probabilities, dtype=np.float32).reshape(-1, len(predictor.classes))
    return WindowPredictions(predictor.classes, info.fps, sliding.seen, np.array(ends, dtype=np.int64), probabilities,
                             Path(out) if out is not None else None, _name(source), speed,
                             list(sliding.shots.cuts) if sliding.shots is not None else [])  # fmt: skip


def _span_text(predictor: Predictor) -> str:
    if predictor.frame_step == 1:
        return f"{predictor.sequence_length} frames"
    return f"{predictor.window_frames} frames: {predictor.sequence_length}, one every {predictor.frame_step}"


def _name(source: VideoSource) -> str:
    return f"webcam {source}" if isinstance(source, int) else Path(source).name


# --- joined clips: windows against whole clips ----------------------------------------------------

#: A window "ends late in a clip" when it ends in the last 30 % of the clip's frames: it has mostly seen this clip.
LATE_IN_CLIP = 0.3


@dataclass
class JoinedClips:
    """A video made of clips one after another: clip ``i`` holds frames ``spans[i][0]`` to ``spans[i][1] - 1``."""

    path: Path
    spans: list[tuple[int, int]]
    classes: list[str]  # the true class of each clip
    fps: float

    def truth(self) -> list[tuple[float, float, str]]:
        """(start s, end s, class) of every clip, for ``har.viz.plot_label_timeline(truth=...)``."""
        return [(a / self.fps, b / self.fps, name) for (a, b), name in zip(self.spans, self.classes, strict=True)]

    def late_window_accuracy(self, windows: WindowPredictions, late: float = LATE_IN_CLIP) -> float:
        """Per clip, the share of windows ending in its last ``late`` of frames that name its class; their mean."""
        labels = windows.labels
        shares = []
        for (start, end), name in zip(self.spans, self.classes, strict=True):
            low = start + int(np.floor((1 - late) * (end - start)))
            chosen = [labels[i] == name for i, e in enumerate(windows.end_frames) if low <= e < end]
            if chosen:
                shares.append(float(np.mean(chosen)))
        return float(np.mean(shares)) if shares else float("nan")


def join_clips(
    paths: list[str | os.PathLike], classes: list[str], out: str | os.PathLike, *, fps: float = 25.0
) -> JoinedClips:
    """Write clips one after another into one H.264 video, atomically (each frame resized to the first clip's size):
    the test for a sliding window, whose true class changes at every clip boundary, which the returned
    ``JoinedClips`` records (as the frames really decoded)."""
    if not paths or len(paths) != len(classes):
        raise ArgumentError(f"join_clips needs clips and one class for each (got {len(paths)} clips, "
                            f"{len(classes)} classes)")  # fmt: skip
    first = video_info(paths[0])
    size = (first.width - first.width % 2, first.height - first.height % 2)
    spans = []
    at = 0
    with H264Writer(out, size, fps, pixel_format="bgr24") as writer:
        for path in paths:
            start = at
            for frame in iter_frames(path):
                if (frame.shape[1], frame.shape[0]) != size:
                    frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
                writer.write(np.ascontiguousarray(frame))
                at += 1
            spans.append((start, at))
    return JoinedClips(Path(out), spans, list(classes), fps)


# --- one label for the whole video ------------------------------------------------------------------


@dataclass
class ClipPrediction:
    """The action of a whole video: the top label, its confidence, the top-k, and whether it is unsure."""

    label: str
    confidence: float
    top: list[tuple[str, float]]
    unsure_below: float = UNSURE_BELOW

    @property
    def unsure(self) -> bool:
        """True when the top probability is below ``unsure_below``: the action may be none of the classes."""
        return self.confidence < self.unsure_below

    def __str__(self) -> str:
        ranked = ", ".join(f"{name} {p:.1%}" for name, p in self.top)
        if self.unsure:
            return f"Unsure: no class reaches {self.unsure_below:.0%} (top {len(self.top)}: {ranked})"
        return f"Action predicted: {self.label} (confidence {self.confidence:.1%}; top {len(self.top)}: {ranked})"


def predict_single_action(
    predictor: Predictor | str | os.PathLike,
    source: VideoSource,
    *,
    top_k: int = 3,
    webcam_frames: int = 100,
    unsure_below: float = UNSURE_BELOW,
    verbose: bool = True,
) -> ClipPrediction:
    """Sample ``sequence_length`` frames evenly from the whole video (the training sampler) and classify them; from a
    webcam, the first ``webcam_frames`` frames stand for the whole video. The top ``top_k`` are listed, "unsure"
    below ``unsure_below`` (``ClipPrediction``)."""
    predictor = Predictor.of(predictor)
    length, size = predictor.sequence_length, predictor.image_size
    if isinstance(source, int):
        frames = list(islice(iter_frames(source), webcam_frames))
        if len(frames) < length:
            raise ClipTooShortError(f"webcam {source}: only {len(frames)} frames, fewer than {length}")
        clip = predictor.model_frames()(frames)[sample_frame_indices(len(frames), length)]
    else:  # decoded in a worker process, as for training: a crashing decoder cannot take Python down
        clip = extract_frames_isolated(source, length, size, flow=predictor.flow)
    probabilities = np.asarray(predictor.model.predict_on_batch(clip[None]))[0]
    order = np.argsort(probabilities)[::-1][: max(1, top_k)]
    top = [(predictor.classes[i], float(probabilities[i])) for i in order]
    result = ClipPrediction(top[0][0], top[0][1], top, unsure_below)
    if verbose:
        print(result)
    return result


def evaluate_on_cache(path: str | os.PathLike, cache: str | os.PathLike, dataset, *indices: np.ndarray):
    """Test a bundle whose head trained on a feature or keypoint cache (``pretrained``, ``pose``) on each set of
    clips ``indices`` of ``dataset`` (test, validation): its head reads the cache, so it needs no 224 x 224 frames.

    Returns (model, metadata, one ``har.evaluate.Evaluation`` per set of ``indices``), or None when the bundle or
    the cache is missing, the cache is not the one the head trained on, or it lacks a clip (skipped when made).
    """
    from har.evaluate import Evaluation
    from har.features import load_features

    path, cache = Path(path), Path(cache)
    if not path.is_file() or not cache.is_file():
        return None
    features = load_features(cache)
    model, metadata = load_bundle(path)
    position = {clip: i for i, clip in enumerate(features.paths)}
    clips = [dataset.paths[i] for chosen in indices for i in chosen]
    if metadata.get("features") != features.settings.get("fingerprint") or not all(c in position for c in clips):
        return None
    if list(metadata["classes"]) != list(dataset.classes):
        return None
    _, head = split_per_frame(model, features.sequence_length, tuple(model.input_shape[2:4]))
    inputs, rows = features.inputs(), [position[c] for c in clips]  # every set in one pass: one head, one tracing
    parts = [_run(head, inputs[rows[i : i + 16]], 16) for i in range(0, len(rows), 16)]
    probabilities = np.concatenate(parts) if parts else np.zeros((0, len(dataset.classes)), np.float32)
    ends = np.cumsum([len(chosen) for chosen in indices])[:-1]
    evaluations = [Evaluation(list(dataset.classes), dataset.labels[np.asarray(chosen, dtype=int)], part)
                   for chosen, part in zip(indices, np.split(probabilities, ends), strict=True)]  # fmt: skip
    return model, metadata, evaluations


def __getattr__(name: str):
    """``show_video``, importable from here as it always was, lives with the display code (``har.viz``): imported
    when asked for, so prediction does not load matplotlib."""
    if name == "show_video":
        from har.viz import show_video

        return show_video
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
