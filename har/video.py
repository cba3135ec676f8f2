"""Reading videos: open a file or webcam, sample evenly spaced frames, iterate over all frames.

Frames come out as RGB ``uint8`` arrays. Decoding is the slow part of the whole pipeline, so the sampler
decodes the clip once, in order, and converts only the frames it keeps (``grab`` without ``retrieve`` skips
the colour conversion and copy). It does not seek: seeking in inter-frame codecs such as UCF50's XviD
lands on the nearest key frame, and is slower than reading on.

Container frame counts lie (a truncated UCF50 clip reports 693 frames and decodes 610). The sampler
trusts what decodes: when the decoded count turns out to differ from the reported one, it samples again
from the true count, so the frames are evenly spaced across the frames that really decode.

Two decoders read files: OpenCV (fast, the default) and FFmpeg's own program (``imageio-ffmpeg`` ships
it), which reads from a pipe in a process of its own. OpenCV 4.13 to 5.0 abort the whole Python process
(``malloc_consolidate(): invalid chunk size``) on uncompressed AVI stored bottom-up, as older capture
tools wrote it (the Weizmann action dataset, for one); ``backend="auto"`` sends exactly those files to
FFmpeg. Against crashes nobody knows of yet, ``har.workers`` decodes in worker processes.
"""

from __future__ import annotations

import os
import struct
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


BACKENDS = ("auto", "opencv", "ffmpeg")


def is_bottom_up_raw_avi(path: str | os.PathLike) -> bool:
    """True for an uncompressed AVI whose frames are stored bottom-up (a positive height in its header).

    Such files abort OpenCV 4.13-5.0 inside its decoder; FFmpeg reads them. Reads only the file's header.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return False
    if head[:4] != b"RIFF" or head[8:12] != b"AVI ":
        return False
    strh = head.find(b"strh")
    while strh >= 0 and head[strh + 8 : strh + 12] != b"vids":  # "strh", size, then the stream type
        strh = head.find(b"strh", strh + 4)
    strf = head.find(b"strf", strh) if strh >= 0 else -1
    if strf < 0 or len(head) < strf + 28:
        return False
    height, _planes, _bits, compression = struct.unpack_from("<ihh4s", head, strf + 16)
    uncompressed = compression in (b"\0\0\0\0", b"\3\0\0\0", b"DIB ", b"RGB ", b"RAW ")
    return uncompressed and height > 0


def _pick_backend(source: VideoSource, backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if isinstance(source, int):
        return "opencv"  # webcams: only OpenCV opens them
    if backend == "auto":
        return "ffmpeg" if is_bottom_up_raw_avi(source) else "opencv"
    return backend


def _check_file(source: VideoSource) -> None:
    if isinstance(source, int):
        return
    path = Path(source)
    if not path.is_file():
        raise VideoError(f"{path}: no such video file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty")


def open_video(source: VideoSource) -> cv2.VideoCapture:
    """Open a video file (any container FFmpeg reads) or a webcam index; raise ``VideoError`` if that fails."""
    _check_file(source)
    if not isinstance(source, int):
        # One decoder thread: for clips this small FFmpeg's threads cost more than they give, and the
        # dataset build already runs one process per core.
        capture = cv2.VideoCapture(str(source), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    else:
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"{_source_name(source)}: cannot be opened as a video (corrupt or not a video?)")
    return capture


def video_info(source: VideoSource, *, backend: str = "auto") -> VideoInfo:
    """Read the container's frame count, frame rate and size without decoding."""
    reader = open_reader(source, backend)
    try:
        return reader.info
    finally:
        reader.release()


def _sane_fps(fps: float) -> float:
    return fps if 1 <= fps <= 240 else 25.0  # 0, NaN or 1000 fps: the container does not know


class _OpenCVReader:
    """Frames of a file or webcam through OpenCV: ``grab`` decodes, ``retrieve`` converts to BGR."""

    def __init__(self, source: VideoSource):
        self._capture = open_video(source)
        capture = self._capture
        self.info = VideoInfo(
            frame_count=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
            fps=_sane_fps(float(capture.get(cv2.CAP_PROP_FPS))),
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )

    def grab(self) -> bool:
        return self._capture.grab()

    def retrieve(self) -> np.ndarray | None:
        ok, frame = self._capture.retrieve()
        return frame if ok else None

    def release(self) -> None:
        self._capture.release()


class _FFmpegReader:
    """Frames of a file through FFmpeg's own program, in a process of its own, as BGR over a pipe."""

    def __init__(self, source: VideoSource):
        import imageio_ffmpeg

        _check_file(source)
        self._source = source
        self._frames = imageio_ffmpeg.read_frames(
            str(source), pix_fmt="bgr24", bits_per_pixel=24, input_params=["-threads", "1"]
        )
        meta = self._next()
        if meta is None:
            raise VideoError(f"{source}: cannot be opened as a video (corrupt or not a video?)")
        width, height = meta["size"]
        duration, fps = float(meta.get("duration") or 0), float(meta.get("fps") or 0)
        self.info = VideoInfo(round(duration * fps), _sane_fps(fps), int(width), int(height))
        self._buffer = b""

    def _next(self):
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except (OSError, RuntimeError) as error:  # FFmpeg's own many-line report: keep its gist
            self.release()
            reason = next((line for line in str(error).splitlines()[::-1] if line.strip()), "unknown error")
            raise VideoError(f"{self._source}: cannot be decoded by FFmpeg ({reason.strip()[:200]})") from None

    def grab(self) -> bool:
        frame = self._next()
        self._buffer = frame or b""
        return frame is not None

    def retrieve(self) -> np.ndarray | None:
        if len(self._buffer) != self.info.width * self.info.height * 3:
            return None
        return np.frombuffer(self._buffer, np.uint8).reshape(self.info.height, self.info.width, 3)

    def release(self) -> None:
        self._frames.close()


def open_reader(source: VideoSource, backend: str = "auto"):
    """A frame reader (``grab``/``retrieve``/``release``, ``info``) for a file or webcam with the chosen decoder."""
    if _pick_backend(source, backend) == "ffmpeg":
        return _FFmpegReader(source)
    return _OpenCVReader(source)


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
    backend: str = "auto",
) -> tuple[np.ndarray | None, np.ndarray | None, int]:
    """Decode the whole clip once, in order, converting only the frames at ``wanted`` (sorted, may repeat).

    Without ``wanted``, ``sequence_length`` picks the frames from the container's reported count (when it
    reports one). Returns the kept frames (None when nothing was wanted), the indices asked for, and how
    many frames really decoded.
    """
    reader = open_reader(source, backend)
    try:
        if wanted is None and sequence_length is not None:
            reported = reader.info.frame_count
            if reported >= 1:
                wanted = sample_frame_indices(reported, sequence_length)
        out = None if wanted is None else np.empty((len(wanted), *image_size, 3), dtype=np.uint8)
        # Plain ints: comparing NumPy scalars for each of a clip's ~200 frames costs more than it should.
        targets = [] if wanted is None else wanted.tolist()
        slot = 0
        decoded = 0
        while reader.grab():
            if slot < len(targets) and targets[slot] == decoded:
                frame = reader.retrieve()
                if frame is None:
                    break
                small = to_model_frame(frame, image_size)
                while slot < len(targets) and targets[slot] == decoded:
                    out[slot] = small
                    slot += 1
            decoded += 1
        return out, wanted, decoded
    finally:
        reader.release()


def extract_frames(
    path: str | os.PathLike,
    sequence_length: int = 20,
    image_size: tuple[int, int] = (64, 64),
    *,
    allow_short: bool = False,
    backend: str = "auto",
    with_count: bool = False,
) -> np.ndarray | tuple[np.ndarray, int]:
    """Return ``sequence_length`` evenly spaced RGB frames of a clip, resized, as uint8 ``[T, H, W, 3]``.

    The frames are spaced evenly across the frames that really decode, whatever the container claims.
    A clip that decodes fewer than ``sequence_length`` frames raises ``ClipTooShortError``, unless
    ``allow_short`` is true: then frames repeat evenly (see ``sample_frame_indices``).
    A missing, empty, corrupt or non-video file raises ``VideoError``. ``backend`` picks the decoder
    (``"auto"``: OpenCV, or FFmpeg for the files OpenCV cannot read safely; see the module docstring).
    ``with_count`` returns ``(frames, decoded)``: also how many frames the clip really has, which sets the
    time step between the sampled frames that a sliding window must match.
    """
    image_size = (int(image_size[0]), int(image_size[1]))
    frames, wanted, decoded = _decode_pass(path, image_size, sequence_length=sequence_length, backend=backend)
    if decoded == 0:
        raise VideoError(f"{path}: no frame could be decoded (corrupt or not a video?)")
    if decoded < sequence_length and not allow_short:
        raise ClipTooShortError(
            f"{path}: only {decoded} frames decode, fewer than the sequence length {sequence_length}"
        )
    true_wanted = sample_frame_indices(decoded, sequence_length)
    if wanted is None or not np.array_equal(true_wanted, wanted):
        # The container's frame count was wrong: sample again from the count that really decodes.
        frames, _, decoded_again = _decode_pass(path, image_size, wanted=true_wanted, backend=backend)
        if decoded_again != decoded:
            raise VideoError(f"{path}: decodes a different number of frames on each read")
    return (frames, decoded) if with_count else frames


def count_decodable_frames(path: str | os.PathLike, *, backend: str = "auto") -> int:
    """Decode a clip and count its frames (the truth that ``VideoInfo.frame_count`` only estimates)."""
    return _decode_pass(path, (1, 1), backend=backend)[2]


def iter_frames(source: VideoSource, *, rgb: bool = False, backend: str = "auto") -> Iterator[np.ndarray]:
    """Yield every decodable frame of a video file or webcam, in order (BGR unless ``rgb``)."""
    reader = open_reader(source, backend)
    try:
        while reader.grab():
            frame = reader.retrieve()
            if frame is None:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if rgb else frame
    finally:
        reader.release()


def read_first_frame(path: str | os.PathLike) -> np.ndarray:
    """Return the first decodable frame of a clip as RGB uint8 at its own size."""
    for frame in iter_frames(path, rgb=True):
        return frame
    raise VideoError(f"{path}: no frame could be decoded (corrupt or not a video?)")


def iter_frame_chunks(path: str | os.PathLike, chunk_size: int = 32, *, backend: str = "auto") -> Iterator:
    """Yield the video's ``VideoInfo``, then its decoded BGR frames as arrays of up to ``chunk_size`` frames.

    What a decoding worker streams to prediction (``har.workers.stream_frames``): chunks cross the
    process boundary in one piece each.
    """
    reader = open_reader(path, backend)
    try:
        yield reader.info
        chunk: list[np.ndarray] = []
        while reader.grab():
            frame = reader.retrieve()
            if frame is None:
                break
            chunk.append(frame)
            if len(chunk) == chunk_size:
                yield np.stack(chunk)
                chunk = []
        if chunk:
            yield np.stack(chunk)
    finally:
        reader.release()
