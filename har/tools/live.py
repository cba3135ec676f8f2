"""Live labelling from a webcam, with the same fast sliding window as ``har.predict``.

The window is ``har.window.SlidingWindow``, so the probabilities are exactly those of ``har.predict.predict_on_video``
on the same frames, but here a frame comes out labelled as soon as it is read.

Three ways to watch:

* ``run_live``: the command line (``python -m har live MODEL``) prints a line whenever the label changes
  and can write the labelled frames to an H.264 MP4;
* ``show_live``: a local Jupyter notebook shows the labelled frames in a widget updated in place;
* ``record_in_browser``: on Colab, where the notebook's Python runs far from your camera, the browser
  records a few seconds (``save_recording`` saves them) and the recording is labelled like any video.

OpenCV here is the headless build: there is no ``cv2.imshow`` window.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from har.errors import HarError, VideoError, one_line
from har.predict import Predictor, draw_prediction, draw_skeleton
from har.video import H264Writer, VideoSource, chunks
from har.window import SlidingWindow
from har.workers import open_frames

#: Frame rate of the labelled video when the source does not say (frames passed in as arrays).
DEFAULT_FPS = 25.0


@dataclass
class LiveFrame:
    """One frame of a live stream: its index, the BGR frame with the label drawn on it, and the prediction.

    ``label``, ``confidence`` and ``probabilities`` (smoothed over the last ``smooth`` windows) are None
    until the first window is full; frames between two windows keep the last window's prediction.
    ``classified`` is True on the frames where a window ended (the frames ``predict_on_video`` reports).
    """

    index: int
    frame: np.ndarray
    label: str | None
    confidence: float | None
    top3: list[tuple[str, float]] = field(default_factory=list)
    probabilities: np.ndarray | None = None
    classified: bool = False


def _check_arguments(stride: int, smooth: int, batch: int = 1, max_frames: int | None = None) -> None:
    if stride < 1 or smooth < 1 or batch < 1:
        raise HarError("stride, smooth and batch must be at least 1")
    if max_frames is not None and max_frames < 1:
        raise HarError("max_frames must be at least 1")


def _name(source) -> str:
    if isinstance(source, int):
        return f"webcam {source}"
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    return "frames"


def _open_source(source: VideoSource | Iterable[np.ndarray], stack: ExitStack) -> tuple[float, Iterator, bool]:
    """(fps, frame iterator, whether the frames are ours to draw on) of a webcam, a file or frames passed in; what
    it opens, ``stack`` closes."""
    if isinstance(source, bool):
        raise HarError(f"not a video source: {source!r}")
    if isinstance(source, int | str | os.PathLike):
        info, frames = open_frames(source, stack)
        return info.fps, frames, True
    try:
        return DEFAULT_FPS, iter(source), False
    except TypeError:
        kind = type(source).__name__
        raise HarError(f"not a video source: {kind} (a webcam index, a video file or BGR frames)") from None


def _label(
    predictor: Predictor, frames: Iterator[np.ndarray], *, stride: int, smooth: int, max_frames: int | None,
    batch: int, own_frames: bool, cuts: bool,
) -> Iterator[LiveFrame]:  # fmt: skip
    sliding = SlidingWindow(predictor, stride=stride, smooth=smooth, cuts=cuts, batch_size=batch)
    pose = next((layer for layer in predictor.model.layers if hasattr(layer, "last_keypoints")), None)
    for index, frame, shown, classified in sliding.label(chunks(frames, batch, max_frames)):
        if not own_frames:
            frame = np.array(frame, dtype=np.uint8, copy=True)  # never draw on the caller's arrays
        if pose is not None:  # a pose bundle: the skeleton MoveNet found, from its chunk's frames (`batch` a chunk)
            draw_skeleton(frame, pose.last_keypoints[index % batch])
        draw_prediction(frame, predictor.classes, shown, sliding.need)  # "unsure (...)" below UNSURE_BELOW
        if shown is None:
            yield LiveFrame(index, frame, None, None, [], None, False)
        else:
            top3 = [(predictor.classes[k], float(shown[k])) for k in np.argsort(shown)[::-1][:3]]
            yield LiveFrame(index, frame, top3[0][0], top3[0][1], top3, shown, classified)


def label_stream(
    predictor: Predictor | str | os.PathLike,
    source: VideoSource | Iterable[np.ndarray],
    *,
    stride: int = 1,
    smooth: int = 1,
    max_frames: int | None = None,
    batch: int = 1,
    cuts: bool = True,
) -> Iterator[LiveFrame]:
    """Label every frame of a webcam (an index such as 0), a video file, or an iterable of BGR frames, live.

    Yields a ``LiveFrame`` per frame as soon as it is read, in batches of ``batch`` frames (1 labels each frame at
    once; more is faster but lags by that many frames), with the numbers ``har.predict.predict_on_video`` gives for
    the same ``stride``, ``smooth`` and ``cuts``. The label is drawn on the frame; frames passed in as arrays are
    copied first. Stops after ``max_frames`` frames, or when the source ends.
    """
    _check_arguments(stride, smooth, batch, max_frames)
    predictor = Predictor.of(predictor)

    def stream() -> Iterator[LiveFrame]:
        with ExitStack() as stack:  # the camera, or the decoding worker, closes with the generator
            _, frames, own = _open_source(source, stack)
            yield from _label(predictor, frames, stride=stride, smooth=smooth, max_frames=max_frames, batch=batch,
                              own_frames=own, cuts=cuts)  # fmt: skip

    return stream()


@dataclass
class LiveRun:
    """What ``run_live`` saw: frame count, label changes ``(frame index, label, confidence)``, the video."""

    frames: int
    changes: list[tuple[int, str, float]]
    output: Path | None
    interrupted: bool
    frames_per_second: float

    @property
    def label(self) -> str | None:
        """The last label shown (None when no window was full)."""
        return self.changes[-1][1] if self.changes else None


def run_live(
    model_or_predictor: Predictor | str | os.PathLike,
    camera: VideoSource = 0,
    *,
    out: str | os.PathLike | None = None,
    max_frames: int | None = None,
    stride: int = 1,
    smooth: int = 1,
    print_every: int | None = None,
    batch: int = 1,
    cuts: bool = True,
) -> LiveRun:
    """Label a webcam live in a terminal: print a line whenever the label changes; optionally save the video.

    Many parameters because it is the ``live`` command's one call. ``camera``: a webcam index, or a video file
    standing in for one. ``out``: an H.264 MP4 of the labelled frames. ``print_every``: also print the label that
    stays every that many frames. Stops after ``max_frames``, at the source's end, or on Ctrl-C (keeping the video).
    """
    _check_arguments(stride, smooth, batch, max_frames)
    if print_every is not None and print_every < 1:
        raise HarError("print_every must be at least 1")
    run = LiveRun(0, [], None, False, float("nan"))
    with ExitStack() as stack:  # the writer closes first (renamed into place), then the camera
        fps, source_frames, own = _open_source(camera, stack)  # a missing camera fails before TensorFlow loads
        predictor = Predictor.of(model_or_predictor)
        length = predictor.frames_needed(cuts)
        print(f"Labelling {_name(camera)}: a label once {length} frames are in; Ctrl-C stops", flush=True)
        started = time.perf_counter()
        try:
            for live in _label(predictor, source_frames, stride=stride, smooth=smooth, max_frames=max_frames,
                               batch=batch, own_frames=own, cuts=cuts):  # fmt: skip
                if out is not None and run.output is None:
                    height, width = live.frame.shape[:2]
                    writer = stack.enter_context(H264Writer(out, (width, height), fps, pixel_format="bgr24"))
                    run.output = Path(out)
                if run.output is not None:
                    writer.write(live.frame)
                run.frames += 1
                _note_label(run, live, fps, print_every)
        except KeyboardInterrupt:
            run.interrupted = True
            print("stopped (Ctrl-C)", flush=True)
        elapsed = time.perf_counter() - started
    if run.frames < length:
        print(f"only {run.frames} frames: fewer than the {length} a window needs, so no label")
    run.frames_per_second = run.frames / elapsed if elapsed > 0 else float("nan")
    print(f"{run.frames} frames, {len(run.changes)} label change(s), {run.frames_per_second:.0f} frames/s")
    if run.output is not None:
        print(f"Labelled video: {run.output}")
    return run


def _note_label(run: LiveRun, live: LiveFrame, fps: float, print_every: int | None) -> None:
    if live.label is None:
        return
    changed = not run.changes or run.changes[-1][1] != live.label
    if changed:
        run.changes.append((live.index, live.label, live.confidence))
    if changed or (print_every is not None and live.index % print_every == 0):
        others = ", ".join(f"{name} {p:.0%}" for name, p in live.top3[1:])
        print(f"frame {live.index} ({live.index / fps:.1f} s): {live.label} {live.confidence:.0%}"
              + (f"  (then {others})" if others else ""), flush=True)  # fmt: skip


def show_live(
    model_or_predictor: Predictor | str | os.PathLike,
    camera: VideoSource = 0,
    *,
    max_frames: int | None = 300,
    stride: int = 1,
    smooth: int = 1,
    width: int = 480,
    quality: int = 80,
    cuts: bool = True,
) -> str | None:
    """Label a webcam live in a local Jupyter notebook: an ``ipywidgets.Image`` shows the labelled frames in place.

    Frames are JPEG-encoded at most ``width`` pixels wide, at JPEG ``quality``, the label and the next two below.
    Stops after ``max_frames`` frames (None: until the kernel is interrupted, which stops cleanly); returns the last
    label (None when no window was full). ``camera`` may be a video file standing in for the camera. On Colab the
    camera is the browser's, not the machine's: use ``record_in_browser`` there.
    """
    import ipywidgets as widgets
    from IPython.display import display

    predictor = Predictor.of(model_or_predictor)
    image = widgets.Image(format="jpeg")
    text = widgets.Label(value=f"opening {_name(camera)}...")
    display(widgets.VBox([image, text]))
    last = None
    try:
        stream = label_stream(predictor, camera, stride=stride, smooth=smooth, max_frames=max_frames, cuts=cuts)
        with closing(stream):
            for live in stream:
                frame = live.frame
                if frame.shape[1] > width:
                    height = max(1, round(frame.shape[0] * width / frame.shape[1]))
                    frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
                ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
                if ok:
                    image.value = jpeg.tobytes()
                if live.label is None:
                    text.value = f"frame {live.index}: collecting {predictor.frames_needed(cuts)} frames..."
                else:
                    last = live.label
                    others = ", ".join(f"{name} {p:.0%}" for name, p in live.top3[1:])
                    text.value = f"frame {live.index}: {live.label} {live.confidence:.0%}" + (
                        f" (then {others})" if others else ""
                    )
    except KeyboardInterrupt:
        text.value += " (stopped)"
    return last


# --- Colab: the browser records, Python labels -------------------------------------------------------

#: JavaScript for Colab's output frame: an async function of milliseconds that asks for the camera, shows a preview,
#: records that long and resolves to the recording as a base64 data URL (``data:video/webm;...;base64,...``).
RECORD_JS = """
(async (milliseconds) => {
  const stream = await navigator.mediaDevices.getUserMedia({video: true, audio: false});
  const box = document.createElement('div');
  const note = document.createElement('p');
  const preview = document.createElement('video');
  preview.muted = true;
  preview.playsInline = true;
  preview.style.maxWidth = '480px';
  preview.srcObject = stream;
  box.appendChild(note);
  box.appendChild(preview);
  document.body.appendChild(box);
  await preview.play();
  if (window.google && google.colab && google.colab.output && google.colab.output.setIframeHeight) {
    google.colab.output.setIframeHeight(document.documentElement.scrollHeight, true);
  }
  const types = ['video/webm;codecs=vp8', 'video/webm;codecs=vp9', 'video/webm', 'video/mp4'];
  const mimeType = types.find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t)) || '';
  const recorder = new MediaRecorder(stream, mimeType ? {mimeType} : {});
  const chunks = [];
  recorder.ondataavailable = (event) => { if (event.data && event.data.size) chunks.push(event.data); };
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start();
  const end = Date.now() + milliseconds;
  while (Date.now() < end) {
    note.textContent = `Recording: ${Math.ceil((end - Date.now()) / 1000)} s left`;
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(0, end - Date.now()))));
  }
  recorder.stop();
  await stopped;
  stream.getTracks().forEach((track) => track.stop());
  box.remove();
  const blob = new Blob(chunks, {type: recorder.mimeType || mimeType || 'video/webm'});
  return await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
})
"""

_SUFFIXES = {"video/webm": ".webm", "video/mp4": ".mp4", "video/x-matroska": ".mkv", "video/quicktime": ".mov"}


def _parse_data_url(data_url) -> tuple[str, bytes]:
    """(MIME type, bytes) of a base64 ``data:video/...`` URL; a one-line ``HarError`` for anything else."""
    if not isinstance(data_url, str) or not data_url.startswith("data:"):
        shown = one_line(data_url)[:40] if isinstance(data_url, str) else type(data_url).__name__
        raise HarError(f"not a data URL: {shown!r}")
    marker = data_url.find(";base64,")  # MIME parameters may hold commas: codecs=vp8,opus
    if marker < 0:
        raise HarError("the data URL is not base64-encoded (expected data:video/...;base64,...)")
    mime = data_url[5:marker].split(";")[0].strip().lower()
    if not mime.startswith("video/"):
        raise HarError(f"the data URL holds {mime or 'no type'}, not a video (video/*)")
    try:
        payload = base64.b64decode(data_url[marker + len(";base64,") :], validate=True)
    except (binascii.Error, ValueError):
        raise HarError("the data URL's base64 is damaged") from None
    if not payload:
        raise HarError("the recording is empty (was the camera allowed?)")
    return mime, payload


def save_recording(data_url: str, path: str | os.PathLike) -> Path:
    """Decode a browser recording (a base64 ``data:video/...`` URL) into the video file ``path``, atomically.

    It must decode to at least one frame before it takes ``path``; a data URL that is not video/*, damaged base64 or
    a recording that does not decode raises a one-line ``HarError`` and leaves no file.
    """
    from har.files import atomic_write
    from har.video import count_decodable_frames

    _, payload = _parse_data_url(data_url)
    path = Path(path)
    with atomic_write(path, suffix=path.suffix or ".webm") as tmp:
        tmp.write_bytes(payload)
        try:
            frames = count_decodable_frames(tmp)
        except VideoError as error:
            raise VideoError(f"the recording for {path} does not decode: {error}") from None
        if frames == 0:
            raise VideoError(f"the recording for {path} holds no frame that decodes")
    return path


def record_in_browser(seconds: float = 5, path: str | os.PathLike | None = None) -> Path:
    """On Colab: record ``seconds`` seconds from your browser's camera and save the video; return its path.

    The browser records (``RECORD_JS``; allow the camera when asked) and ``save_recording`` saves it to ``path``
    (default ``data/videos/browser.webm``, or ``.mp4`` when the browser records MP4): label it with
    ``har.predict.predict_on_video``. Outside Colab, raises a one-line ``HarError``.
    """
    if not seconds > 0:
        raise HarError(f"seconds must be above 0, got {seconds}")
    try:
        from google.colab import output
    except ImportError:
        raise HarError(
            "record_in_browser works on Colab only; on your own machine use har.tools.live.show_live(model) in "
            "Jupyter, or `python -m har live MODEL` in a terminal"
        ) from None
    print(f"Recording {seconds:g} s from your camera (allow it when the browser asks)...", flush=True)
    try:
        data_url = output.eval_js(f"{RECORD_JS.strip()}({round(seconds * 1000)})")
    except Exception as error:  # the browser's own error: no camera, permission denied
        raise HarError(f"the browser could not record: {one_line(error)[:300]}") from None
    mime, _ = _parse_data_url(data_url)
    if path is None:
        from har.workspace import data_dir

        path = data_dir() / "videos" / f"browser{_SUFFIXES.get(mime, '.webm')}"
    return save_recording(data_url, path)
