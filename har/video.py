"""Reading videos: open a file or webcam, sample evenly spaced frames, iterate over all frames.

Frames come out as RGB ``uint8`` arrays. Decoding is the slow part of the whole pipeline, so the sampler
decodes the clip once, in order, and converts only the frames it keeps (``grab`` without ``retrieve`` skips
the colour conversion and copy). It does not seek: seeking in inter-frame codecs such as UCF50's XviD
lands on the nearest key frame, and is slower than reading on.

Container frame counts lie (a truncated UCF50 clip reports 693 frames and decodes 610). The sampler
trusts what decodes: when the decoded count turns out to differ from the reported one, it samples again
from the true count, so the frames are evenly spaced across the frames that really decode.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from har.errors import ClipTooShortError, VideoError

#: File endings treated as videos when scanning a dataset folder.
VIDEO_EXTENSIONS = frozenset(
    {".avi", ".mp4", ".m4v", ".mov", ".mkv", ".mpg", ".mpeg", ".webm", ".wmv", ".flv", ".3gp", ".mts"}
)

VideoSource = str | os.PathLike | int


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (``frame_count`` may be wrong, or 0 when unknown; ``fps`` is 25
    when the container gives none that makes sense)."""

    frame_count: int
    fps: float
    width: int
    height: int


def sample_frame_indices(n_frames: int, sequence_length: int) -> np.ndarray:
    """Return ``sequence_length`` evenly spaced frame indices in ``[0, n_frames)``, first and last included.

    When ``n_frames < sequence_length`` indices repeat (each frame is held for about
    ``sequence_length / n_frames`` steps, like slow motion).
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}")
    if sequence_length < 1:
        raise ValueError(f"sequence_length must be at least 1, got {sequence_length}")
    return np.linspace(0, n_frames - 1, sequence_length).round().astype(np.int64)


def _source_name(source: VideoSource) -> str:
    return f"webcam {source}" if isinstance(source, int) else str(source)


def open_video(source: VideoSource) -> cv2.VideoCapture:
    """Open a video file (any container FFmpeg reads) or a webcam index; raise ``VideoError`` if that fails."""
    if not isinstance(source, int):
        path = Path(source)
        if not path.is_file():
            raise VideoError(f"{path}: no such video file")
        if path.stat().st_size == 0:
            raise VideoError(f"{path}: the file is empty")
        # One decoder thread: for clips this small FFmpeg's threads cost more than they give, and the
        # dataset build already runs one process per core.
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    else:
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"{_source_name(source)}: cannot be opened as a video (corrupt or not a video?)")
    return capture


def video_info(source: VideoSource) -> VideoInfo:
    """Read the container's frame count, frame rate and size without decoding."""
    capture = open_video(source)
    try:
        return _info(capture)
    finally:
        capture.release()


def _info(capture: cv2.VideoCapture) -> VideoInfo:
    fps = float(capture.get(cv2.CAP_PROP_FPS))
    return VideoInfo(
        frame_count=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
        fps=fps if 1 <= fps <= 240 else 25.0,  # 0, NaN or 1000 fps: the container does not know
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )


def to_model_frame(frame_bgr: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Resize one decoded BGR frame to ``image_size`` (height, width) and return it as RGB uint8."""
    height, width = image_size
    small = cv2.resize(frame_bgr, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


def _decode_pass(
    source: VideoSource,
    image_size: tuple[int, int],
    *,
    wanted: np.ndarray | None = None,
    sequence_length: int | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None, int]:
    """Decode the whole clip once, in order, converting only the frames at ``wanted`` (sorted, may repeat).

    Without ``wanted``, ``sequence_length`` picks the frames from the container's reported count (when it
    reports one). Returns the kept frames (None when nothing was wanted), the indices asked for, and how
    many frames really decoded.
    """
    capture = open_video(source)
    try:
        if wanted is None and sequence_length is not None:
            reported = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            if reported >= 1:
                wanted = sample_frame_indices(reported, sequence_length)
        out = None if wanted is None else np.empty((len(wanted), *image_size, 3), dtype=np.uint8)
        slot = 0
        decoded = 0
        while capture.grab():
            if wanted is not None and slot < len(wanted) and wanted[slot] == decoded:
                ok, frame = capture.retrieve()
                if not ok:
                    break
                small = to_model_frame(frame, image_size)
                while slot < len(wanted) and wanted[slot] == decoded:
                    out[slot] = small
                    slot += 1
            decoded += 1
        return out, wanted, decoded
    finally:
        capture.release()


def extract_frames(
    path: str | os.PathLike,
    sequence_length: int = 20,
    image_size: tuple[int, int] = (64, 64),
    *,
    allow_short: bool = False,
) -> np.ndarray:
    """Return ``sequence_length`` evenly spaced RGB frames of a clip, resized, as uint8 ``[T, H, W, 3]``.

    The frames are spaced evenly across the frames that really decode, whatever the container claims.
    A clip that decodes fewer than ``sequence_length`` frames raises ``ClipTooShortError``, unless
    ``allow_short`` is true: then frames repeat evenly (see ``sample_frame_indices``).
    A missing, empty, corrupt or non-video file raises ``VideoError``.
    """
    image_size = (int(image_size[0]), int(image_size[1]))
    frames, wanted, decoded = _decode_pass(path, image_size, sequence_length=sequence_length)
    if decoded == 0:
        raise VideoError(f"{path}: no frame could be decoded (corrupt or not a video?)")
    if decoded < sequence_length and not allow_short:
        raise ClipTooShortError(
            f"{path}: only {decoded} frames decode, fewer than the sequence length {sequence_length}"
        )
    true_wanted = sample_frame_indices(decoded, sequence_length)
    if wanted is None or not np.array_equal(true_wanted, wanted):
        # The container's frame count was wrong: sample again from the count that really decodes.
        frames, _, decoded_again = _decode_pass(path, image_size, wanted=true_wanted)
        if decoded_again != decoded:
            raise VideoError(f"{path}: decodes a different number of frames on each read")
    return frames


def count_decodable_frames(path: str | os.PathLike) -> int:
    """Decode a clip and count its frames (the truth that ``VideoInfo.frame_count`` only estimates)."""
    return _decode_pass(path, (1, 1))[2]


def iter_frames(source: VideoSource, *, rgb: bool = False) -> Iterator[np.ndarray]:
    """Yield every decodable frame of a video file or webcam, in order (BGR unless ``rgb``)."""
    capture = open_video(source)
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if rgb else frame
    finally:
        capture.release()


def read_first_frame(path: str | os.PathLike) -> np.ndarray:
    """Return the first decodable frame of a clip as RGB uint8 at its own size."""
    for frame in iter_frames(path, rgb=True):
        return frame
    raise VideoError(f"{path}: no frame could be decoded (corrupt or not a video?)")
