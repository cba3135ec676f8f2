"""A small "try-it" web app: upload a video (or paste a URL) and see the actions a model bundle finds in it.

``python -m har app MODEL`` (or ``har.tools.app.launch(MODEL)``) starts a Gradio app that shows the labelled video,
the label timeline and the top-3 actions of the whole video. The model loads once; every run writes into a
temporary folder that is emptied as the app goes. Bad input shows as a one-line error in the page, never a
traceback. Gradio is not a core dependency: it is imported when an app is built, and a missing install fails in
one line. Set ``GRADIO_ANALYTICS_ENABLED=False`` to keep Gradio from phoning home.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from har.errors import HarError, one_line

#: A run's folder (its download and labelled video) is deleted once it is this old (seconds).
KEEP_RUNS_FOR = 3600


def _gradio():
    try:
        import gradio
    except ImportError:
        raise HarError("the app needs gradio: pip install gradio") from None
    return gradio


def _safe_stem(name: str) -> str:
    """A file-name stem without characters that browsers or shells trip over."""
    return re.sub(r"[^\w.-]+", "_", Path(name).stem).strip("._")[:60] or "video"


def _prune(root: Path, keep: Path, max_age: float = KEEP_RUNS_FOR) -> None:
    """Delete the run folders in ``root`` older than ``max_age`` seconds (Gradio has its own copies)."""
    now = time.time()
    for folder in root.glob("run-*"):
        with contextlib.suppress(OSError):  # another run may have deleted it meanwhile
            if folder != keep and now - folder.stat().st_mtime > max_age:
                shutil.rmtree(folder, ignore_errors=True)


def label_video(predictor, video: str | os.PathLike | None, url: str | None, folder: str | os.PathLike):
    """Label one video for the app: return the labelled MP4's path, the top-3 and the timeline figure.

    ``video`` (an uploaded file) wins over ``url``, which is downloaded into ``folder``. Only http(s) URLs are
    taken: a path or a webcam index would read the server's files or camera. Raises ``HarError`` (one line).
    """
    from har.predict import predict_on_video, predict_single_action
    from har.viz import plot_label_timeline
    from har.youtube import is_url, resolve_source

    folder = Path(folder)
    url = (url or "").strip()
    if video:
        path = Path(video)
        title = path.name
    elif url:
        if not is_url(url):
            raise HarError(f"{url!r} is not an http(s) URL: paste a video's URL (YouTube or any yt-dlp site) or upload")
        downloaded = resolve_source(url, folder)
        path, title = Path(downloaded.source), downloaded.title
    else:
        raise HarError("upload a video file or paste a video URL first")
    whole = predict_single_action(predictor, path, top_k=3, verbose=False)  # quick, and fails first on a bad clip
    out = folder / f"{_safe_stem(path.name)}.annotated.mp4"
    result = predict_on_video(predictor, path, out)
    figure = plot_label_timeline(result, title=f"Predicted action over time: {title}")
    return str(out), dict(whole.top), figure


def _description(model_path: Path, predictor) -> str:
    classes = predictor.classes
    shown = ", ".join(classes[:12]) + (f" and {len(classes) - 12} more" if len(classes) > 12 else "")
    width, height = predictor.image_size
    return (
        "# Human activity recognition\n"
        f"Model `{model_path.name}`: {len(classes)} actions ({shown}), {predictor.sequence_length} frames "
        f"at {width}x{height} per window.\n\n"
        "Upload a video **or** paste a URL (YouTube or any site yt-dlp knows; an upload wins over the URL), "
        "then press **Label the actions**. On a CPU it takes about as long as the video."
    )


def build_app(model_path: str | os.PathLike):
    """Build (not launch) the app for the bundle ``model_path``, loaded once here; return its ``gradio.Blocks``."""
    gr = _gradio()
    from har.bundle import read_metadata

    model_path = Path(model_path)
    read_metadata(model_path)  # a file that is not a bundle fails in one line, before TensorFlow loads
    from har.predict import Predictor

    predictor = Predictor.load(model_path)
    workdir = tempfile.TemporaryDirectory(prefix="har-app-")  # deleted with the app (or at exit)
    root = Path(workdir.name)

    def run(video, url, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's way to ask for progress)
        folder = Path(tempfile.mkdtemp(prefix="run-", dir=root))
        _prune(root, keep=folder)
        try:
            return label_video(predictor, video, url, folder)
        except (HarError, OSError) as error:
            raise gr.Error(one_line(error), print_exception=False) from None
        except Exception as error:  # a bug: one line in the page, the traceback on the server's console
            raise gr.Error(one_line(f"{type(error).__name__}: {error}")) from error

    with gr.Blocks(title="Human activity recognition", delete_cache=(KEEP_RUNS_FOR, KEEP_RUNS_FOR)) as blocks:
        gr.Markdown(_description(model_path, predictor))
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="Video file", sources=["upload"], elem_id="har-video-in")
                url = gr.Textbox(
                    label="...or a video URL", placeholder="https://www.youtube.com/watch?v=...", elem_id="har-url"
                )
                button = gr.Button("Label the actions", variant="primary", elem_id="har-run")
            with gr.Column():
                labelled = gr.Video(label="Labelled video", interactive=False, elem_id="har-video-out")
                top = gr.Label(label="Top 3 for the whole video", num_top_classes=3, elem_id="har-top3")
        timeline = gr.Plot(label="Label timeline", elem_id="har-timeline")
        gr.on([button.click, url.submit], run, [video, url], [labelled, top, timeline], concurrency_limit=1)
    blocks.har_workdir = workdir  # the folder lives as long as the app
    return blocks


def launch(
    model_path: str | os.PathLike,
    *,
    share: bool = False,
    server_name: str = "127.0.0.1",
    server_port: int | None = None,
    prevent_thread_lock: bool = False,
):
    """Build the app for ``model_path`` and serve it at ``http://server_name:server_port`` (Gradio's port if None).

    ``share=True`` also opens a public ``*.gradio.live`` link. From a script this blocks until Ctrl-C, then closes
    the server; with ``prevent_thread_lock=True``, or in Jupyter, it returns the running ``gradio.Blocks`` at once:
    stop it with ``.close()``.
    """
    blocks = build_app(model_path)
    blocks.launch(share=share, server_name=server_name, server_port=server_port, prevent_thread_lock=True)
    if prevent_thread_lock or bool(getattr(sys, "ps1", sys.flags.interactive)):  # Jupyter, a Python prompt
        return blocks
    try:  # a script or the command line: serve until Ctrl-C (or SIGTERM), then free the port
        while blocks.is_running:
            time.sleep(0.2)
    finally:
        blocks.close(verbose=False)
    return blocks
