"""The sliding window over a whole video, shared by ``har.predict`` (files) and ``har.tools.live`` (webcams).

Each frame goes through the model's per-frame layers once; a window gathers the codes of its frames, never reaching
back across a shot cut (``ShotCuts``), and what a frame shows is the mean of the last windows (``Smoothing``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

#: Below this top probability a prediction is shown as "unsure": a model names one of its own classes for any
#: video, so a low confidence is the only hint that the action may be none of them. It flags doubt, not error;
#: how it was chosen is in the README (``benchmarks/bench_unsure.py``).
UNSURE_BELOW = 0.45

#: A shot cut (an edit, or the next clip of a joined video) is a frame whose mean absolute difference from the one
#: before, in model pixels (0-255), is above ``CUT_ABOVE`` and ``CUT_RATIO`` times the median of the last
#: ``CUT_RECENT`` differences: the ratio keeps a fast camera from counting. What it finds is in the README.
CUT_ABOVE = 15.0
CUT_RATIO = 4.0
CUT_RECENT = 10


class ShotCuts:
    """Finds shot cuts (``CUT_ABOVE``, ``CUT_RATIO``) in one video's model frames, fed in order; ``cuts`` lists the
    frames where a new shot started. One per video."""

    def __init__(self):
        self.cuts: list[int] = []
        self._previous: np.ndarray | None = None
        self._recent: deque[float] = deque(maxlen=CUT_RECENT)
        self._seen = 0
        self._shot = 0

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """The first frame of the shot of each of the next ``frames`` ``[n, H, W, C]`` (0 until the first cut; flow
        channels are ignored)."""
        starts = np.empty(len(frames), np.int64)
        for i, frame in enumerate(frames):
            rgb = np.ascontiguousarray(frame[..., :3])
            if self._previous is not None:
                change = float(cv2.absdiff(rgb, self._previous).mean())
                if self._recent and change > CUT_ABOVE and change > CUT_RATIO * float(np.median(self._recent)):
                    self._shot = self._seen
                    self.cuts.append(self._seen)
                self._recent.append(change)
            self._previous = rgb
            starts[i] = self._shot
            self._seen += 1
        return starts


class Smoothing:
    """What a labelled frame shows: the mean probabilities of the last ``smooth`` windows of the same shot."""

    def __init__(self, smooth: int):
        self._recent: deque[np.ndarray] = deque(maxlen=smooth)
        self._shot = 0

    def add(self, probabilities: np.ndarray, shot: int | None = None) -> np.ndarray:
        """Add a window's probabilities (``shot``: its shot's first frame; a new shot starts afresh); the mean."""
        if shot is not None and shot != self._shot:
            self._recent.clear()
            self._shot = shot
        self._recent.append(probabilities)
        return np.mean(self._recent, axis=0)


def is_window_end(index: int, need: int, stride: int) -> bool:
    """Whether a window ends at frame ``index``: once ``need`` frames are in, every ``stride``-th frame."""
    return index >= need - 1 and (index - need + 1) % stride == 0


def window_text(classes: list[str], probabilities: np.ndarray, unsure_below: float = UNSURE_BELOW) -> str:
    """What the labelled video shows for one window: the top class and its confidence, or "unsure"."""
    top = int(probabilities.argmax())
    text = f"{classes[top]} {probabilities[top]:.0%}"
    return f"unsure ({text})" if probabilities[top] < unsure_below else text


class SlidingWindow:
    """Labels a video's frames as they stream in, in chunks, as the module docstring says: a window is classified at
    every ``stride``-th frame once ``predictor.frames_needed(cuts)`` frames are in (``predictor``: a
    ``har.predict.Predictor``). With ``cuts``, windows stay inside their shot (``Predictor.window_indices``)."""

    def __init__(self, predictor, *, stride: int = 1, smooth: int = 1, cuts: bool = True, batch_size: int = 64):
        self.predictor, self.stride, self.batch_size = predictor, stride, batch_size
        self.need = predictor.frames_needed(cuts)
        self.shots = ShotCuts() if cuts else None
        self._span = predictor.window_frames
        self._convert = predictor.model_frames()  # resized RGB (and flow, from the frame before) of each frame
        self._smoothing = Smoothing(smooth)
        self._tail = None  # the codes of the previous chunk's last frames, for windows reaching back into it
        self._shown = None
        self.seen = 0

    def add(self, chunk: list[np.ndarray]) -> list[tuple[np.ndarray | None, bool]]:
        """For each decoded BGR frame of ``chunk``: the probabilities it shows (None before the first window) and
        whether a window ended there."""
        model_frames = self._convert(chunk)
        starts = self.shots(model_frames) if self.shots is not None else None  # each frame's shot's first frame
        codes = self.predictor.encode(model_frames, self.batch_size)
        buffer = codes if self._tail is None else np.concatenate([self._tail, codes])
        first = self.seen - (len(buffer) - len(codes))  # the frame index of buffer[0]
        ended = [is_window_end(self.seen + i, self.need, self.stride) for i in range(len(chunk))]
        ends = self.seen + np.flatnonzero(ended)
        if len(ends):
            shot_starts = None if starts is None else starts[ends - self.seen]
            windows = buffer[self.predictor.window_indices(ends, shot_starts) - first]
            probabilities = iter(self.predictor.classify_windows(windows, self.batch_size))
        shown = []
        for i, end in enumerate(ended):
            if end:
                self._shown = self._smoothing.add(next(probabilities), None if starts is None else int(starts[i]))
            shown.append((self._shown, end))
        self._tail = buffer[-(self._span - 1) :] if self._span > 1 else buffer[:0]
        self.seen += len(chunk)
        return shown

    def label(self, chunks: Iterable[list[np.ndarray]]) -> Iterator[tuple[int, np.ndarray, np.ndarray | None, bool]]:
        """(index, frame, probabilities shown, whether a window ended there) of every frame of ``chunks``, in order;
        a chunk's frames come once the whole chunk has gone through ``add``."""
        for chunk in chunks:
            first = self.seen
            for i, (frame, (shown, ended)) in enumerate(zip(chunk, self.add(chunk), strict=True)):
                yield first + i, frame, shown, ended


@dataclass
class WindowPredictions:
    """Per-window predictions over a video: window ``i`` ends at frame ``end_frames[i]``."""

    classes: list[str]
    fps: float
    frame_count: int
    end_frames: np.ndarray
    probabilities: np.ndarray
    output: Path | None = None
    title: str = ""
    timings: dict = field(default_factory=dict)
    cuts: list[int] = field(default_factory=list)  # frames where a new shot started (``cuts=True``)

    @property
    def labels(self) -> list[str]:
        """The top class of every window."""
        return [self.classes[i] for i in self.probabilities.argmax(axis=1)]

    @property
    def seconds(self) -> np.ndarray:
        """Time (s) at the end of every window."""
        return self.end_frames / self.fps
