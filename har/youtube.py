"""Video sources: a YouTube (or any yt-dlp-supported) URL, a local file, or a webcam index.

The tutorial's ``pafy`` and ``youtube-dl`` no longer work with YouTube; this module uses ``yt-dlp``'s Python API.
For YouTube, yt-dlp also needs a JavaScript runtime to solve the site's challenges: ``js_runtime`` finds Deno, which
the ``deno`` package ships inside the virtual environment, where yt-dlp does not always look. YouTube often refuses
machines it does not trust ("Sign in to confirm you're not a bot"): every failure raises one ``VideoSourceError``
that says to upload the video or point to a local file instead.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from har.errors import HarError, VideoError

DEFAULT_VIDEO_DIR = Path("data/videos")
FALLBACK_HINT = "upload the video (or copy it next to the notebook) and pass its local path instead"
NO_JS_RUNTIME = "no JavaScript runtime found (pip install deno)"


class VideoSourceError(HarError):
    """A video could not be fetched or opened from the given source."""


@dataclass(frozen=True)
class Video:
    """A video ready to read: a local file (or webcam index) and a title to show."""

    source: Path | int
    title: str


def is_url(text: str) -> bool:
    """True for http(s) URLs, which go through yt-dlp."""
    return bool(re.match(r"^https?://", str(text), re.IGNORECASE))


class _QuietLogger:
    """yt-dlp logger that keeps the last error for our one-line message instead of printing it."""

    def __init__(self):
        self.errors: list[str] = []

    def debug(self, message: str) -> None:
        pass

    info = warning = debug

    def error(self, message: str) -> None:
        self.errors.append(re.sub(r"^ERROR:\s*", "", message))


def js_runtime() -> dict[str, dict[str, str]] | None:
    """yt-dlp's ``js_runtimes`` option, e.g. ``{"deno": {"path": "/…/bin/deno"}}``: the ``deno`` package's binary,
    else ``deno`` or ``node`` on the ``PATH``, else None (yt-dlp then tries its own default)."""
    try:
        import deno

        path = deno.find_deno_bin()
        if os.access(path, os.X_OK):
            return {"deno": {"path": path}}
    except (ImportError, OSError):
        pass
    for name in ("deno", "node"):
        if path := shutil.which(name):
            return {name: {"path": path}}
    return None


def yt_dlp_options(
    out_dir: str | os.PathLike, *, max_height: int = 480, logger=None, progress_hooks=(), runtime=None
) -> dict:
    """The ``yt_dlp.YoutubeDL`` options ``download_video`` uses, saving to ``out_dir/<id>.<ext>``; ``runtime`` is a
    ``js_runtime()`` result (asked for by default)."""
    options = {
        "format": f"best[ext=mp4][height<={max_height}]/best[height<={max_height}]/best",
        "outtmpl": str(Path(out_dir) / "%(id)s.%(ext)s"),
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "progress_hooks": list(progress_hooks),
        "retries": 2,
        "socket_timeout": 30,
    }
    if logger is not None:
        options["logger"] = logger
    runtime = js_runtime() if runtime is None else runtime
    if runtime:
        options["js_runtimes"] = runtime
    return options


def download_video(
    url: str, out_dir: str | os.PathLike = DEFAULT_VIDEO_DIR, *, max_height: int = 480, progress: bool = True
) -> Video:
    """Download ``url`` with yt-dlp into ``out_dir`` and return the file and the video's title.

    Prefers a single-file MP4 no taller than ``max_height`` (small, and no ffmpeg merge needed), then any single
    file. The download happens in a temporary folder and only a complete file that OpenCV can decode is moved into
    ``out_dir``; anything else is deleted and ``VideoSourceError`` is raised.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runtime = js_runtime()
    hint = FALLBACK_HINT if runtime else f"{NO_JS_RUNTIME}; {FALLBACK_HINT}"
    with tempfile.TemporaryDirectory(prefix=".download-", dir=out_dir) as tmp:
        options = yt_dlp_options(tmp, max_height=max_height, runtime=runtime)
        downloaded, title = _run_yt_dlp(url, options, hint, progress)
        if not downloaded.is_file():
            files = [p for p in Path(tmp).iterdir() if p.is_file() and not p.name.endswith(".part")]
            if not files:
                raise VideoSourceError(f"could not download {url}: nothing was saved; {hint}")
            downloaded = files[0]
        _check_decodes(downloaded, url)
        final = out_dir / downloaded.name
        shutil.move(downloaded, final)
    return Video(final, title or final.stem)


def _run_yt_dlp(url: str, options: dict, hint: str, progress: bool) -> tuple[Path, str]:
    """Download ``url`` quietly but for a progress bar; return the file yt-dlp names and the video's title."""
    import yt_dlp
    from tqdm.auto import tqdm

    logger = _QuietLogger()
    bar = None  # made at the first progress report, with the size: no bar for a download that fails at once

    def hook(status: dict) -> None:
        nonlocal bar
        if not progress or status.get("status") != "downloading":
            return
        if bar is None:
            total = status.get("total_bytes") or status.get("total_bytes_estimate")
            bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="Downloading video")
        bar.update(status.get("downloaded_bytes", 0) - bar.n)

    try:
        with yt_dlp.YoutubeDL({**options, "logger": logger, "progress_hooks": [hook]}) as ydl:
            info = ydl.extract_info(url, download=True)
            return Path(ydl.prepare_filename(info)), str(info.get("title") or "")
    except (yt_dlp.utils.DownloadError, yt_dlp.utils.ExtractorError) as error:
        reason = logger.errors[-1] if logger.errors else str(error)
        raise VideoSourceError(f"could not download {url}: {_short(reason)}; {hint}") from None
    finally:
        if bar is not None:
            bar.close()


def _short(reason: str) -> str:
    return reason.strip().splitlines()[0][:300] if reason.strip() else "unknown error"


def _check_decodes(path: Path, url: str) -> None:
    from har.video import open_video

    try:
        capture = open_video(path)
        ok = capture.grab()
        capture.release()
    except VideoError:
        ok = False
    if not ok:
        raise VideoSourceError(f"{url} did not give a video that can be decoded; {FALLBACK_HINT}")


def resolve_source(
    source: str | os.PathLike | int, out_dir: str | os.PathLike = DEFAULT_VIDEO_DIR, *, progress: bool = True
) -> Video:
    """Turn what a user passes (URL, local path, or webcam index such as ``0`` or ``"0"``) into a ``Video``."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return Video(int(source), f"webcam {int(source)}")
    if isinstance(source, str) and is_url(source):
        return download_video(source, out_dir, progress=progress)
    if isinstance(source, str) and re.match(r"^[a-z][a-z0-9+.-]*://", source, re.IGNORECASE):
        raise VideoSourceError(f"{source}: only http:// and https:// URLs are fetched (through yt-dlp); "
                               f"{FALLBACK_HINT}")  # fmt: skip
    path = Path(source)
    if not path.is_file():
        raise VideoSourceError(f"{path}: no such video file (pass a file path, a URL or a webcam index)")
    return Video(path, path.stem)


# A Creative Commons video for when the lesson's own video cannot be fetched: "Polar bears playing" by
# Nehrams2020, CC BY-SA 3.0, Wikimedia Commons (Special:FilePath redirects to the file itself).
SAMPLE_VIDEO_URL = "https://commons.wikimedia.org/wiki/Special:FilePath/PolarBearsPlayingSDZooFeb09.ogv"


def _upload_on_colab(out_dir: Path) -> Video | None:
    """Colab's upload widget; the first uploaded file that is a video, or None (cancelled, nothing chosen)."""
    from google.colab import files

    print("Choose a video file to upload (Cancel to go on without one):")
    for name, data in (files.upload() or {}).items():
        path = out_dir / Path(name).name
        path.write_bytes(data)
        try:
            _check_decodes(path, name)
            return Video(path, path.stem)
        except VideoSourceError:
            path.unlink(missing_ok=True)
            print(f"{name} is not a video that can be decoded")
    return None


def video_with_fallbacks(
    url: str | None,
    *,
    local: str | os.PathLike | None = None,
    sample_url: str | None = SAMPLE_VIDEO_URL,
    offline=None,
    out_dir: str | os.PathLike = DEFAULT_VIDEO_DIR,
    progress: bool = True,
) -> Video:
    """The lesson's video, falling back step by step so that the lesson always goes on.

    Tries, in order: ``url`` (yt-dlp), Colab's upload widget (on Colab only), the file ``local``, the Creative
    Commons ``sample_url``, and last ``offline()``, a function that makes a video without the internet and returns
    its path. A step given as None is passed over; a step that fails prints one line saying why.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def fetch(address: str):
        return lambda: download_video(address, out_dir, progress=progress)

    steps = [("the video URL", url and fetch(url))]
    if "google.colab" in sys.modules:
        steps.append(("an upload", lambda: _upload_on_colab(out_dir)))
    steps.append(("LOCAL_VIDEO", local and (lambda: resolve_source(local, out_dir))))
    steps.append(("the Creative Commons sample", sample_url and fetch(sample_url)))
    steps.append(("a video made offline", offline and (lambda: resolve_source(Path(offline()), out_dir))))
    reasons = []
    for name, attempt in steps:
        if not attempt:
            continue
        try:
            video = attempt()
        except HarError as error:  # one line, without the hint to fall back: that is what happens next
            why = _short(str(error)).removesuffix(f"; {FALLBACK_HINT}")
            print(f"{name} failed: {why}")
            reasons.append(f"{name}: {why}")
            continue
        if video is not None:
            print(f"video from {name}: {video.title} ({video.source})")
            return video
        print(f"{name}: none given")
    raise VideoSourceError("no video for the lesson: " + "; ".join(reasons or ["no source was given"]))
