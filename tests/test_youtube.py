import socket

import pytest
from media import FileServer

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
