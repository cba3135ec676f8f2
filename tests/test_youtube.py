import socket
import subprocess
import sys
from pathlib import Path

import pytest
from media import FileServer

from har import youtube
from har.youtube import Video, VideoSourceError, download_video, is_url, resolve_source


@pytest.fixture
def server(video_bytes):
    with FileServer() as srv:
        srv.files["/clips/skating.mp4"] = video_bytes
        srv.content_type["/clips/skating.mp4"] = "video/mp4"
        srv.files["/fake.mp4"] = b"<html>this is not a video</html>" * 50
        srv.content_type["/fake.mp4"] = "video/mp4"
        srv.files["/page.html"] = b"<html><head><title>No video here</title></head><body>hi</body></html>"
        srv.content_type["/page.html"] = "text/html"
        yield srv


@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory):
    import numpy as np

    from har.demo import _group_look, render_clip, write_video

    look = _group_look(0, 1, 96, 72, 2)
    path = write_video(
        tmp_path_factory.mktemp("v") / "clip.mp4", render_clip("Grow", look, np.random.default_rng(0), 30, 96, 72)
    )
    return path.read_bytes()


def test_download_from_a_local_server_with_yt_dlp(tmp_path, server):
    video = download_video(server.url("/clips/skating.mp4"), tmp_path / "videos", progress=False)
    assert isinstance(video.source, type(tmp_path)) and video.source.parent == tmp_path / "videos"
    assert video.source.read_bytes() == server.files["/clips/skating.mp4"]
    assert video.title == "skating"
    assert [p.name for p in (tmp_path / "videos").iterdir()] == [video.source.name]


@pytest.mark.parametrize("path", ["/missing.mp4", "/fake.mp4", "/page.html"])
def test_failed_downloads_say_to_use_a_local_file_and_leave_nothing(tmp_path, server, path):
    with pytest.raises(VideoSourceError, match="pass its local path instead"):
        download_video(server.url(path), tmp_path / "videos", progress=False)
    assert list((tmp_path / "videos").iterdir()) == []


def test_unreachable_address(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(VideoSourceError, match="could not download"):
        download_video(f"http://127.0.0.1:{port}/v.mp4", tmp_path, progress=False)


def test_resolve_source(tmp_path, server):
    assert resolve_source("0") == Video(0, "webcam 0") and resolve_source(2) == Video(2, "webcam 2")
    local = tmp_path / "mine.avi"
    local.write_bytes(b"x")
    assert resolve_source(str(local)) == Video(local, "mine")
    with pytest.raises(VideoSourceError, match="no such video file"):
        resolve_source(str(tmp_path / "nope.mp4"))
    fetched = resolve_source(server.url("/clips/skating.mp4"), tmp_path / "dl", progress=False)
    assert fetched.source.is_file()
    assert is_url("https://www.youtube.com/watch?v=abc") and not is_url("videos/a.mp4")


def test_yt_dlp_sees_the_deno_runtime_and_its_ejs_scripts(tmp_path):
    import deno
    import yt_dlp
    import yt_dlp_ejs  # noqa: F401 (the challenge-solver scripts the `default` extra brings)

    options = youtube.yt_dlp_options(tmp_path)
    assert options["js_runtimes"] == {"deno": {"path": deno.find_deno_bin()}}
    with yt_dlp.YoutubeDL(options) as ydl:
        runtime = ydl._js_runtimes["deno"]  # what yt-dlp's YouTube challenge provider asks
        assert runtime is not None and runtime.info is not None, "yt-dlp found no deno"
        assert runtime.info.supported, f"deno {runtime.info.version} is too old for yt-dlp"
        path = Path(runtime.info.path)
    assert path == Path(deno.find_deno_bin()) and path.is_file()
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert version.stdout.startswith(f"deno {runtime.info.version}")


def test_js_runtime_falls_back_to_the_path_and_the_error_says_when_there_is_none(tmp_path, monkeypatch):
    import deno

    def no_deno_package():
        raise FileNotFoundError("deno")

    monkeypatch.setattr(deno, "find_deno_bin", no_deno_package)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "node").write_text("#!/bin/sh\necho v22.0.0\n")
    (fake / "node").chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    assert youtube.js_runtime() == {"node": {"path": str(fake / "node")}}
    assert youtube.yt_dlp_options(tmp_path)["js_runtimes"] == {"node": {"path": str(fake / "node")}}

    (fake / "node").unlink()
    assert youtube.js_runtime() is None and "js_runtimes" not in youtube.yt_dlp_options(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(VideoSourceError, match=r"no JavaScript runtime found \(pip install deno\)"):
        download_video(f"http://127.0.0.1:{port}/v.mp4", tmp_path / "videos", progress=False)


def test_the_lesson_falls_back_step_by_step_and_always_gets_a_video(tmp_path, monkeypatch, capsys):
    """URL, upload (Colab only), local file, Creative Commons sample, then the offline video; one line each."""
    import types

    from har.demo import make_demo_video

    made = make_demo_video(tmp_path / "offline.mp4", frames_per_action=10, size=(96, 72))
    video = youtube.video_with_fallbacks(
        "http://127.0.0.1:9/lesson.mp4", local=tmp_path / "missing.mp4", sample_url="http://127.0.0.1:9/cc.webm",
        offline=lambda: made, out_dir=tmp_path / "videos", progress=False,
    )  # fmt: skip
    assert video.source == made
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith("the video URL failed: could not download http://127.0.0.1:9/lesson.mp4")
    assert said[1].startswith("LOCAL_VIDEO failed: ") and "missing.mp4" in said[1]
    assert said[2].startswith("the Creative Commons sample failed: could not download http://127.0.0.1:9/cc.webm")
    assert said[3] == f"video from a video made offline: offline ({made})" and len(said) == 4

    uploads = []
    colab = types.ModuleType("google.colab")
    colab.files = types.SimpleNamespace(upload=lambda: uploads.append(1) or {"mine.mp4": made.read_bytes()})
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.files", colab.files)
    video = youtube.video_with_fallbacks(None, sample_url=None, offline=None, out_dir=tmp_path / "up", progress=False)
    assert uploads == [1] and video.source == tmp_path / "up" / "mine.mp4" and video.source.is_file()

    monkeypatch.delitem(sys.modules, "google.colab")
    with pytest.raises(youtube.VideoSourceError, match="no video for the lesson"):
        youtube.video_with_fallbacks(None, sample_url=None, out_dir=tmp_path / "none", progress=False)
