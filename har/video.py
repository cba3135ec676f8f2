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

Optical flow (for the two-stream model) is computed in the same pass, from the frame before each sampled one
(``FlowMaker``), and travels with the frames as two more uint8 channels: RGB + flow x, y (``FLOW_CHANNELS``).
"""

from __future__ import annotations

import errno
import os
import struct
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from har.errors import ArgumentError, ClipTooShortError, HarError, VideoError
from har.files import honour_umask, temporary_beside

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
    """Return ``sequence_length`` evenly spaced frame indices in ``[0, n_frames)``, first and last included; with
    fewer frames than that, indices repeat (each frame held about ``sequence_length / n_frames`` steps)."""
    if n_frames < 1:
        raise ArgumentError(f"n_frames must be at least 1, got {n_frames}")
    if sequence_length < 1:
        raise ArgumentError(f"sequence_length must be at least 1, got {sequence_length}")
    return np.linspace(0, n_frames - 1, sequence_length).round().astype(np.int64)


BACKENDS = ("auto", "opencv", "ffmpeg")


def is_bottom_up_raw_avi(path: str | os.PathLike) -> bool:
    """True for an uncompressed AVI stored bottom-up (a positive height in its header; see the module docstring)."""
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
        raise ArgumentError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if isinstance(source, int):
        return "opencv"  # webcams: only OpenCV opens them
    if backend == "auto":
        return "ffmpeg" if is_bottom_up_raw_avi(source) else "opencv"
    return backend


def _check_file(source: VideoSource) -> None:
    if isinstance(source, int):
        return
    path = Path(source)
    try:
        if path.is_symlink() and not path.exists():
            try:
                path.stat()
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise VideoError(f"{path}: a loop of symbolic links, no file at its end") from None
            raise VideoError(f"{path}: a symbolic link to nothing ({os.readlink(path)} does not exist)")
        if not path.is_file():
            raise VideoError(f"{path}: no such video file")
        if path.stat().st_size == 0:
            raise VideoError(f"{path}: the file is empty")
        with open(path, "rb"):
            pass
    except PermissionError:
        raise VideoError(f"{path}: permission denied (the file cannot be read)") from None
    except OSError as error:  # a loop of links, a name too long, an I/O error
        raise VideoError(f"{path}: cannot be read ({error.strerror or error})") from None


@contextmanager
def opencv_name(path: str | os.PathLike) -> Iterator[str]:
    """A name OpenCV can open ``path`` by, for the ``with`` block: the path itself, or a link with a plain name.

    OpenCV crashes on file names that are not UTF-8 (files copied from old Windows machines or camera cards: Python
    keeps their bytes as surrogates); FFmpeg inside OpenCV opens the file when the capture or writer is made, so the
    link can go as soon as the block ends.
    """
    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        with tempfile.TemporaryDirectory(prefix="har-") as folder:
            link = os.path.join(folder, "video" + "".join(c for c in Path(name).suffix if c.isascii()))
            os.symlink(os.path.abspath(name), link)
            yield link
        return
    yield name


def open_video(source: VideoSource) -> cv2.VideoCapture:
    """Open a video file (any container FFmpeg reads, any file name) or a webcam index; ``VideoError`` if that fails."""
    _check_file(source)
    if isinstance(source, int):
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            capture.release()
            raise VideoError(
                f"webcam {source}: cannot be opened (no camera with that index, or another program is using it)"
            )
        return capture
    with opencv_name(source) as name:
        # One decoder thread: for clips this small FFmpeg's threads cost more than they give, and the
        # dataset build already runs one process per core.
        capture = cv2.VideoCapture(name, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"{source}: cannot be opened as a video (corrupt or not a video?)")
    return capture


def video_info(source: VideoSource, *, backend: str = "auto") -> VideoInfo:
    """Read the container's frame count, frame rate and size without decoding."""
    with open_reader(source, backend) as reader:
        return reader.info


def _sane_fps(fps: float) -> float:
    return fps if 1 <= fps <= 240 else 25.0  # 0, NaN or 1000 fps: the container does not know


class _Reader:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __iter__(self) -> Iterator[np.ndarray]:
        while self.grab():
            frame = self.retrieve()
            if frame is None:
                return
            yield frame


class _OpenCVReader(_Reader):
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


class _FFmpegReader(_Reader):
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
    """A frame reader for a file or webcam with the chosen decoder: its ``info``, its frames by iterating (or
    ``grab`` then ``retrieve``, which converts a frame only when it is kept), ``release`` or ``with`` to close it."""
    if _pick_backend(source, backend) == "ffmpeg":
        return _FFmpegReader(source)
    return _OpenCVReader(source)


#: The most one clip's frames may take: a typo such as ``image_size=(6400, 6400)`` fails at once, in one line.
MAX_CLIP_BYTES = 1 << 31


def check_clip_shape(sequence_length: int, image_size: tuple[int, int], channels: int = 3) -> None:
    """Raise ``ArgumentError`` for clips of no frames, of frames without pixels, or too large to hold in memory."""
    height, width = image_size
    if sequence_length < 1 or height < 1 or width < 1:
        raise ArgumentError(f"clips need at least 1 frame of at least 1x1 pixels, got {sequence_length} of "
                            f"{height}x{width}")  # fmt: skip
    size = sequence_length * height * width * channels
    if size > MAX_CLIP_BYTES:
        raise ArgumentError(f"{sequence_length} frames of {height}x{width} would take {size / 2**30:,.1f} GiB a clip; "
                            "the course's clips are 20 frames of 64x64")  # fmt: skip


def to_model_frame(frame_bgr: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Resize one decoded BGR frame to ``image_size`` (height, width) and return it as RGB uint8."""
    height, width = image_size
    if height < 1 or width < 1:
        raise ArgumentError(f"frames need at least 1x1 pixels, got {height}x{width}")
    small = cv2.resize(frame_bgr, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


#: Channels a clip with optical flow has: RGB, then the flow's x and y (``FlowMaker``).
FLOW_CHANNELS = 5
#: Flow is computed on grey frames at the video's own size, shrunk only when its longer side is above this (UCF50's
#: 320 x 240 stays as it is): on frames as small as the model's a slow movement is a fraction of a pixel, and on the
#: real sample the flow stream alone lost 5 points when flow was computed at 128 x 128 (``benchmarks/bench_flow.py``).
FLOW_MAX_SIDE = 320
#: uint8 flow: 128 + this many steps per model pixel of displacement (1/32 pixel; up to about 4 pixels a frame).
FLOW_UNITS = 32


class FlowMaker:
    """Dense optical flow between consecutive frames (OpenCV's DIS, fast preset), as the two-stream model reads it.

    Computed on grey frames at the video's own size (at most ``FLOW_MAX_SIDE``), shrunk to the model's size and
    measured in model pixels, less its mean over the frame (the camera's own pan, roughly, as Simonyan and
    Zisserman subtract it), and stored as uint8: ``128 + FLOW_UNITS * displacement``, clipped to 1..255 so that
    mirroring (``256 - v``) is exact. The flow of frame ``i`` is the motion from frame ``i - 1`` to ``i``; frame 0's
    is from 0 to 1. ``benchmarks/bench_flow.py`` compares other methods (``calc``) and grey sizes (``grey``).
    """

    def __init__(self, image_size: tuple[int, int]):
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.calc = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc  # (before, after, None) -> flow

    def grey(self, frame_bgr: np.ndarray) -> np.ndarray:
        """One decoded BGR frame in grey, at the size flow is computed at."""
        height, width = frame_bgr.shape[:2]
        scale = FLOW_MAX_SIDE / max(height, width)
        if scale < 1:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            frame_bgr = cv2.resize(frame_bgr, size, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)

    def flow(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """uint8 flow ``[H, W, 2]`` (model size) from grey frame ``before`` to ``after`` (see the class)."""
        height, width = self.image_size
        motion = self.calc(before, after, None)
        motion = cv2.resize(motion, (width, height), interpolation=cv2.INTER_AREA)
        motion *= np.array([width / before.shape[1], height / before.shape[0]], np.float32)  # in model pixels
        motion -= motion.reshape(-1, 2).mean(axis=0)
        return np.clip(np.rint(128 + FLOW_UNITS * motion), 1, 255).astype(np.uint8)

    def still(self) -> np.ndarray:
        """The flow of a frame with nothing to compare it with (a one-frame video): no motion."""
        return np.full((*self.image_size, 2), 128, np.uint8)


def flow_pairs(wanted: np.ndarray) -> np.ndarray:
    """The frames ``[n, 2]`` whose flow goes with each frame of ``wanted``: the one before it and it (0 and 1 for 0)."""
    wanted = np.asarray(wanted, dtype=np.int64)
    before = np.where(wanted > 0, wanted - 1, 0)
    return np.stack([before, np.where(wanted > 0, wanted, 1)], axis=1)


class ModelFrames:
    """Turns a video's decoded BGR frames, fed in order, into a model's input frames ``[n, H, W, C]`` uint8.

    RGB at the model's size; with ``flow``, two channels more: the optical flow of each frame (``FlowMaker``),
    computed once per frame from the frame before it, which is kept between calls. One per video.
    """

    def __init__(self, image_size: tuple[int, int], flow: bool = False):
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self._flow = FlowMaker(self.image_size) if flow else None
        self._previous: np.ndarray | None = None

    def __call__(self, frames_bgr) -> np.ndarray:
        """Model frames of the next decoded BGR frames (a list or array of them)."""
        rgb = np.stack([to_model_frame(frame, self.image_size) for frame in frames_bgr])
        if self._flow is None:
            return rgb
        greys = [self._flow.grey(frame) for frame in frames_bgr]
        flows = np.empty((len(greys), *self.image_size, 2), np.uint8)
        for i, grey in enumerate(greys):
            if self._previous is None:  # the video's first frame: the motion to the next one
                flows[i] = self._flow.flow(grey, greys[1]) if len(greys) > 1 else self._flow.still()
            else:
                flows[i] = self._flow.flow(self._previous, grey)
            self._previous = grey
        return np.concatenate([rgb, flows], axis=-1)


def _decode_pass(
    source: VideoSource,
    image_size: tuple[int, int],
    *,
    wanted: np.ndarray | None = None,
    sequence_length: int | None = None,
    backend: str = "auto",
    flow: bool = False,
) -> tuple[np.ndarray | None, np.ndarray | None, int]:
    """Decode the clip once, converting only the frames at ``wanted`` (sorted, may repeat; without it,
    ``sequence_length`` picks them from the reported count, if any): (frames or None, wanted, frames decoded)."""
    with open_reader(source, backend) as reader:
        if wanted is None and sequence_length is not None:
            reported = reader.info.frame_count
            if reported >= 1:
                wanted = sample_frame_indices(reported, sequence_length)
        out = None if wanted is None else np.empty((len(wanted), *image_size, 3), dtype=np.uint8)
        # Plain ints: comparing NumPy scalars for each of a clip's ~200 frames costs more than it should.
        targets = [] if wanted is None else wanted.tolist()
        maker = FlowMaker(image_size) if flow and wanted is not None else None
        pairs = flow_pairs(wanted) if maker else np.zeros((0, 2), np.int64)
        greys: dict[int, np.ndarray] = {}
        needed = set(pairs.ravel().tolist())
        slot = 0
        decoded = 0
        while reader.grab():
            wanted_here = slot < len(targets) and targets[slot] == decoded
            if wanted_here or decoded in needed:
                frame = reader.retrieve()
                if frame is None:
                    break
                if decoded in needed:
                    greys[decoded] = maker.grey(frame)
                if wanted_here:
                    small = to_model_frame(frame, image_size)
                    while slot < len(targets) and targets[slot] == decoded:
                        out[slot] = small
                        slot += 1
            decoded += 1
        if maker is not None:
            still = maker.still()  # a pair past the end (a one-frame clip, or a lying count on the first pass)
            motion = [maker.flow(greys[a], greys[b]) if b in greys else still for a, b in pairs.tolist()]
            out = np.concatenate([out, np.stack(motion)], axis=-1)
        return out, wanted, decoded


def extract_frames(
    path: str | os.PathLike,
    sequence_length: int = 20,
    image_size: tuple[int, int] = (64, 64),
    *,
    allow_short: bool = False,
    backend: str = "auto",
    with_count: bool = False,
    flow: bool = False,
) -> np.ndarray | tuple[np.ndarray, int]:
    """Return ``sequence_length`` evenly spaced RGB frames of a clip, resized, as uint8 ``[T, H, W, 3]``.

    Spaced across the frames that really decode (the module docstring says why, and what ``backend`` picks). Fewer
    frames raise ``ClipTooShortError`` unless ``allow_short`` (frames then repeat); an unreadable file, ``VideoError``.
    ``with_count`` returns ``(frames, decoded)``: the frames the clip really has set the time step between the sampled
    frames, which a sliding window must match. ``flow`` adds the optical flow: ``[T, H, W, 5]`` (``FlowMaker``).
    """
    image_size = (int(image_size[0]), int(image_size[1]))
    check_clip_shape(sequence_length, image_size, 5 if flow else 3)
    frames, wanted, decoded = _decode_pass(
        path, image_size, sequence_length=sequence_length, backend=backend, flow=flow
    )
    if decoded == 0:
        raise VideoError(f"{path}: no frame could be decoded (corrupt or not a video?)")
    if decoded < sequence_length and not allow_short:
        raise ClipTooShortError(
            f"{path}: only {decoded} frames decode, fewer than the sequence length {sequence_length}"
        )
    true_wanted = sample_frame_indices(decoded, sequence_length)
    if wanted is None or not np.array_equal(true_wanted, wanted):
        frames, _, decoded_again = _decode_pass(path, image_size, wanted=true_wanted, backend=backend, flow=flow)
        if decoded_again != decoded:
            raise VideoError(f"{path}: decodes a different number of frames on each read")
    return (frames, decoded) if with_count else frames


def count_decodable_frames(path: str | os.PathLike, *, backend: str = "auto") -> int:
    """Decode a clip and count its frames (the truth that ``VideoInfo.frame_count`` only estimates)."""
    return _decode_pass(path, (1, 1), backend=backend)[2]


def iter_frames(source: VideoSource, *, rgb: bool = False, backend: str = "auto") -> Iterator[np.ndarray]:
    """Yield every decodable frame of a video file or webcam, in order (BGR unless ``rgb``)."""
    with open_reader(source, backend) as reader:
        for frame in reader:
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if rgb else frame


def read_first_frame(path: str | os.PathLike) -> np.ndarray:
    """Return the first decodable frame of a clip as RGB uint8 at its own size."""
    for frame in iter_frames(path, rgb=True):
        return frame
    raise VideoError(f"{path}: no frame could be decoded (corrupt or not a video?)")


def chunks(frames: Iterable[np.ndarray], size: int, limit: int | None = None) -> Iterator[list[np.ndarray]]:
    """The first ``limit`` frames (all when None) in lists of ``size``; the last list may be shorter."""
    chunk: list[np.ndarray] = []
    for i, frame in enumerate(frames):
        if limit is not None and i >= limit:
            break
        chunk.append(frame)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def iter_frame_chunks(path: str | os.PathLike, chunk_size: int = 32, *, backend: str = "auto") -> Iterator:
    """Yield the video's ``VideoInfo``, then its decoded BGR frames as arrays of up to ``chunk_size`` frames: what
    ``har.workers.FrameStream`` streams, a chunk crossing the process boundary in one piece."""
    with open_reader(path, backend) as reader:
        yield reader.info
        for chunk in chunks(reader, chunk_size):
            yield np.stack(chunk)


def ffmpeg_reason(stderr: str, returncode: int) -> str:
    """FFmpeg's own last word on why it failed (its last non-empty stderr line), or its exit code."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1][:200] if lines else f"FFmpeg exited with code {returncode}"


class H264Writer:
    """Writes frames to a browser-playable H.264 MP4 with FFmpeg (the program imageio-ffmpeg ships), atomically.

    A background thread feeds FFmpeg's pipe, so that the caller decodes and predicts the next frames while FFmpeg
    encodes these; ``pixel_format``: ``"rgb24"``, or ``"bgr24"`` as OpenCV decodes them (a conversion saved per
    frame). On any error the temporary file beside ``path`` is deleted, so no half-written video is ever left under
    the final name; FFmpeg's own last word is the error. ``preset``: ``ultrafast`` keeps up with prediction on two
    cores; slower presets make smaller files.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        size: tuple[int, int],
        fps: float,
        *,
        preset: str = "ultrafast",
        pixel_format: str = "rgb24",
    ):
        import queue
        import subprocess
        import tempfile
        import threading

        import imageio_ffmpeg

        self.path = Path(path)
        width, height = size
        self.tmp = temporary_beside(self.path, ".mp4")
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (open while FFmpeg runs)
        even = ["-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2"] if width % 2 or height % 2 else []  # yuv420p: even sides
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", pixel_format, "-s", f"{width}x{height}", "-r", f"{fps:.6g}", "-i", "-",
            "-an", *even, "-c:v", "libx264", "-preset", preset, "-crf", "23", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", "-f", "mp4", str(self.tmp),
        ]  # fmt: skip
        # A session of its own: a terminal's Ctrl-C (SIGINT to the whole process group) reaches Python alone, which
        # then decides whether the video is kept (``har.tools.live``: yes) or deleted, instead of FFmpeg dying mid-file.
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=self._log, start_new_session=True)
        self._size = (height, width, 3)
        self.frames = 0
        self._broken = False
        self._queue: queue.Queue = queue.Queue(maxsize=max(4, (64 << 20) // (width * height * 3)))
        self._feeder = threading.Thread(target=self._feed, name="h264-feeder", daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        """Background thread: frames from the queue into FFmpeg's stdin (the pipe write releases the GIL)."""
        while (frame := self._queue.get()) is not None:
            if self._broken:
                continue  # drain, so that write() never blocks on a dead FFmpeg
            try:
                self._process.stdin.write(frame.data)
            except (BrokenPipeError, OSError, ValueError):
                self._broken = True

    def _failure(self) -> HarError:
        self._process.wait()
        self._log.seek(0)
        reason = ffmpeg_reason(self._log.read().decode(errors="replace"), self._process.returncode)
        reason = reason.replace(str(self.tmp), str(self.path))  # the file the user named, not our temporary one
        return HarError(f"cannot write the video {self.path}: {reason}")

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 frame laid out as ``pixel_format`` says; the array must not change afterwards."""
        if frame.shape != self._size:
            raise HarError(f"frame of shape {frame.shape} written to a video of {self._size}")
        if self._broken:
            raise self._failure()
        self._queue.put(np.ascontiguousarray(frame))
        self.frames += 1

    def _stop_feeder(self) -> None:
        self._queue.put(None)
        self._feeder.join()

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is not None:
                self._broken = True  # the feeder drops what is queued
                self._process.kill()
            self._stop_feeder()
            with suppress(OSError):  # FFmpeg may have gone already; its exit code tells why
                self._process.stdin.close()
            self._process.wait()
            if exc_type is None and (self._broken or self._process.returncode != 0 or not self.frames):
                raise (
                    self._failure() if self._broken or self._process.returncode else HarError(f"{self.path}: no frames")
                )
            if exc_type is None:
                honour_umask(self.tmp)
                os.replace(self.tmp, self.path)
        finally:
            self._log.close()
            self.tmp.unlink(missing_ok=True)
