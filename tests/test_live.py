"""Live labelling (har.tools.live): same numbers as predict_on_video, the ``live`` command, browser recordings."""

import base64
import subprocess
import sys
import types

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from conftest import JOINED_CUTS, PLUMBING_CLASSES, PLUMBING_T, error_lines, run_cli

from har.demo import _group_look, render_clip, write_video
from har.errors import HarError, VideoError
from har.predict import Predictor, predict_on_video
from har.tools.live import LiveFrame, label_stream, record_in_browser, run_live, save_recording, show_live
from har.video import count_decodable_frames, iter_frames

CLASSES, T = PLUMBING_CLASSES, PLUMBING_T


@pytest.fixture(scope="module")
def bundles(untrained_bundles):
    return untrained_bundles


@pytest.fixture(scope="module")
def predictors(bundles):
    return {name: Predictor.load(path) for name, path in bundles.items()}


@pytest.fixture(scope="module")
def frames():
    """45 BGR frames of a 96x72 demo clip."""
    return render_clip("SpinClockwise", _group_look(0, 1, 96, 72, 2), np.random.default_rng(1), 45, 96, 72)


@pytest.fixture(scope="module")
def video(tmp_path_factory, frames):
    """The demo clip as a 25 fps file."""
    return write_video(tmp_path_factory.mktemp("video") / "spin.avi", frames, 25)


@pytest.fixture(scope="module")
def webm_url(tmp_path_factory, frames):
    """The demo clip recorded as a browser would (VP8 WebM, or MP4 without libvpx), as a base64 data URL."""
    folder = tmp_path_factory.mktemp("recording")
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    encoders = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    mime, codec = ("video/webm", ["-c:v", "libvpx", "-b:v", "1M"]) if "libvpx" in encoders else ("video/mp4", [])
    path = folder / ("clip.webm" if mime == "video/webm" else "clip.mp4")
    command = [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "96x72",
               "-r", "25", "-i", "-", *codec, "-pix_fmt", "yuv420p", str(path)]  # fmt: skip
    subprocess.run(command, input=b"".join(f.tobytes() for f in frames), check=True)
    payload = base64.b64encode(path.read_bytes()).decode()
    return f"data:{mime};codecs=vp8,opus;base64,{payload}"


def stream_probabilities(stream) -> tuple[np.ndarray, np.ndarray, list[LiveFrame]]:
    seen = list(stream)
    done = [f for f in seen if f.classified]
    return np.array([f.index for f in done]), np.array([f.probabilities for f in done]), seen


@pytest.mark.parametrize("name", ["lrcn", "convlstm"])
@pytest.mark.parametrize(("stride", "smooth", "batch"), [(1, 1, 1), (3, 2, 4)])
def test_stream_gives_the_probabilities_of_predict_on_video(predictors, video, name, stride, smooth, batch):
    predictor = predictors[name]
    expected = predict_on_video(predictor, video, stride=stride, smooth=smooth, progress=False)
    ends, probabilities, seen = stream_probabilities(
        label_stream(predictor, video, stride=stride, smooth=smooth, batch=batch)
    )
    assert [f.index for f in seen] == list(range(45))
    np.testing.assert_array_equal(ends, expected.end_frames)
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=1e-5)
    assert all(f.label is None and f.confidence is None and f.top3 == [] for f in seen[: T - 1])
    for f in seen[T - 1 :]:  # frames between windows keep the last window's label
        assert f.label == f.top3[0][0] == CLASSES[int(f.probabilities.argmax())]
        assert f.confidence == pytest.approx(float(f.probabilities.max())) and len(f.top3) == 3
        assert [p for _, p in f.top3] == sorted((p for _, p in f.top3), reverse=True)
        assert f.frame.shape == (72, 96, 3)


def test_a_stream_computes_the_flow_of_every_frame_once_as_predict_on_video_does(predictors, video):
    """The two-stream model reads each frame's flow, from the frame before it, computed as the frames arrive.

    (Frame 0's flow is the motion to frame 1, as in training; labelled one frame at a time the stream has no frame 1
    yet, and takes frame 0 as still: batches of 2 frames or more give exactly ``predict_on_video``'s windows.)
    """
    predictor = predictors["two_stream"]
    expected = predict_on_video(predictor, video, progress=False)
    ends, probabilities, _seen = stream_probabilities(label_stream(predictor, video, batch=4))
    np.testing.assert_array_equal(ends, expected.end_frames)
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=1e-5)


def test_stream_windows_take_the_bundles_frame_step(predictors, video):
    from har.predict import Predictor

    plain = predictors["lrcn"]
    predictor = Predictor(plain.model, {**plain.metadata, "frame_step": 2})
    expected = predict_on_video(predictor, video, cuts=False, progress=False)  # whole windows only
    ends, probabilities, _seen = stream_probabilities(label_stream(predictor, video, batch=4, cuts=False))
    assert ends[0] == predictor.window_frames - 1 == (T - 1) * 2
    np.testing.assert_array_equal(ends, expected.end_frames)
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=1e-5)
    consecutive = predict_on_video(plain, video, cuts=False, progress=False)  # the last T frames instead
    assert not np.allclose(probabilities[0], consecutive.probabilities[consecutive.end_frames == ends[0]][0], atol=1e-4)


@pytest.mark.parametrize("batch", [1, 5])
def test_stream_windows_stay_inside_their_shot_as_predict_on_video_does(predictors, joined_video, batch):
    plain = predictors["lrcn"]
    predictor = Predictor(plain.model, {**plain.metadata, "frame_step": 2})
    expected = predict_on_video(predictor, joined_video, smooth=3, progress=False)
    across = predict_on_video(predictor, joined_video, cuts=False, progress=False)
    assert expected.cuts == JOINED_CUTS
    ends, probabilities, _seen = stream_probabilities(label_stream(predictor, joined_video, smooth=3, batch=batch))
    np.testing.assert_array_equal(ends, expected.end_frames)
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=1e-5)
    _, crossing, _ = stream_probabilities(label_stream(predictor, joined_video, batch=batch, cuts=False))
    np.testing.assert_allclose(crossing, across.probabilities, atol=1e-5)
    assert not np.allclose(crossing, probabilities[-len(crossing) :], atol=1e-4)  # the same ends, across cuts


@pytest.mark.parametrize("cuts", [True, False])
def test_run_live_prints_the_label_changes_of_predict_on_video(monkeypatch, predictors, joined_video, cuts, capsys):
    import har.tools.live

    plain = predictors["lrcn"]
    predictor = Predictor(plain.model, {**plain.metadata, "frame_step": 2})
    windows = predict_on_video(predictor, joined_video, cuts=cuts, progress=False)
    labels = windows.labels
    expected = [i for i in range(len(labels)) if i == 0 or labels[i] != labels[i - 1]]
    label, asked = har.tools.live._label, []
    monkeypatch.setattr(har.tools.live, "_label", lambda *a, **k: (asked.append(k["cuts"]), label(*a, **k))[1])
    run = run_live(predictor, joined_video, cuts=cuts)
    assert asked == [cuts]  # the windows of label_stream with the same cuts, tested above
    assert [index for index, _, _ in run.changes] == list(windows.end_frames[expected])
    assert run.changes[0][0] == (T - 1 if cuts else predictor.window_frames - 1)  # the first window
    assert [label for _, label, _ in run.changes] == [labels[i] for i in expected]
    assert f"{len(expected)} label change(s)" in capsys.readouterr().out


def test_stream_of_frames_in_memory_draws_on_copies(predictors, video):
    decoded = list(iter_frames(video))
    before = [f.copy() for f in decoded]
    ends, probabilities, seen = stream_probabilities(label_stream(predictors["lrcn"], iter(decoded), max_frames=30))
    assert len(seen) == 30 and all(np.array_equal(a, b) for a, b in zip(decoded, before, strict=True))
    expected = predict_on_video(predictors["lrcn"], video, max_frames=30, progress=False)
    np.testing.assert_array_equal(ends, expected.end_frames)
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=1e-5)
    assert not np.array_equal(seen[0].frame[:10, :40], decoded[0][:10, :40])  # "collecting ..." is drawn


def test_bad_arguments_and_missing_camera(predictors, tmp_path):
    with pytest.raises(HarError, match="at least 1"):
        label_stream(predictors["lrcn"], 0, stride=0)
    with pytest.raises(VideoError, match=r"^webcam 97: cannot be opened \(no camera"):
        next(label_stream(predictors["lrcn"], 97))
    with pytest.raises(VideoError, match="no such video file"):
        run_live(predictors["lrcn"], tmp_path / "missing.avi")


def test_run_live_prints_changes_and_writes_every_frame(tmp_path, predictors, video, capsys):
    out = tmp_path / "live.mp4"
    result = run_live(predictors["lrcn"], video, out=out, print_every=10)
    lines = capsys.readouterr().out.splitlines()
    assert result.frames == 45 and result.output == out and not result.interrupted
    assert count_decodable_frames(out) == 45
    assert result.changes and result.changes[0][0] == T - 1 and result.label == result.changes[-1][1]
    label_lines = [line for line in lines if line.startswith("frame ")]
    assert len(label_lines) >= len(result.changes) and "\r" not in "".join(lines)
    assert any(line.startswith("frame 10 ") for line in label_lines)  # print_every
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4"]


def test_ctrl_c_ends_cleanly_and_keeps_what_was_written(tmp_path, predictors, frames, capsys):
    def camera():
        for i, frame in enumerate(frames):
            if i == 20:
                raise KeyboardInterrupt
            yield frame

    out = tmp_path / "cut.mp4"
    result = run_live(predictors["lrcn"], camera(), out=out)
    assert result.interrupted and result.frames == 20 and count_decodable_frames(out) == 20
    assert "stopped (Ctrl-C)" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4"]


def test_show_live_updates_one_image_widget(monkeypatch, predictors, video):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: shown.extend(objects))
    label = show_live(predictors["lrcn"], video, max_frames=20, width=64)
    (box,) = shown
    image, text = box.children
    assert cv2.imdecode(np.frombuffer(image.value, np.uint8), cv2.IMREAD_COLOR).shape == (48, 64, 3)
    assert label in CLASSES and text.value.startswith(f"frame 19: {label} ")


def test_cli_live_with_a_video_file_standing_in_for_the_camera(tmp_path, bundles, video):
    out = tmp_path / "labelled.mp4"
    done = run_cli("live", str(bundles["lrcn"]), "--camera", str(video), "--out", str(out), "--stride", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith(f"frame {T - 1} (0.3 s): ") for line in lines), done.stdout
    assert f"Labelled video: {out}" in lines and "\r" not in done.stdout
    capture = cv2.VideoCapture(str(out))
    codec = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().lower()
    capture.release()
    assert codec in {"avc1", "h264"} and count_decodable_frames(out) == 45
    assert not error_lines(done.stderr)


def test_cli_live_fails_in_one_line(tmp_path, bundles):
    (tmp_path / "fake.keras").write_bytes(b"not a zip")
    done = run_cli("live", str(tmp_path / "fake.keras"), "--camera", "0")
    assert done.returncode == 1 and len(error_lines(done.stderr)) == 1 and "not a model bundle" in done.stderr
    done = run_cli("live", str(bundles["lrcn"]), "--camera", "7")
    assert done.returncode == 1 and error_lines(done.stderr) == [
        "error: webcam 7: cannot be opened (no camera with that index, or another program is using it)"
    ]


def test_save_recording_then_label_it(tmp_path, predictors, webm_url):
    path = save_recording(webm_url, tmp_path / "rec" / "browser.webm")
    assert path == tmp_path / "rec" / "browser.webm" and count_decodable_frames(path) == 45
    result = predict_on_video(predictors["lrcn"], path, progress=False)
    assert result.frame_count == 45 and len(result.labels) == 45 - T + 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["browser.webm"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("data:image/png;base64," + base64.b64encode(b"\x89PNG not a video").decode(), "image/png, not a video"),
        ("data:video/webm,plain", "not base64"),
        ("data:video/webm;base64,@@@", "damaged"),
        ("data:video/webm;base64," + base64.b64encode(b"garbage" * 50).decode(), "does not decode|no frame"),
        ("https://example.com/a.webm", "not a data URL"),
    ],
)
def test_save_recording_refuses_what_is_not_a_video(tmp_path, url, reason):
    with pytest.raises(HarError, match=reason) as caught:
        save_recording(url, tmp_path / "out.webm")
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_record_in_browser_on_colab(monkeypatch, tmp_path, webm_url):
    scripts = []

    def eval_js(script):
        scripts.append(script)
        return webm_url

    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(eval_js=eval_js)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    path = record_in_browser(2, tmp_path / "browser.webm")
    assert path == tmp_path / "browser.webm" and count_decodable_frames(path) == 45
    (script,) = scripts
    assert "getUserMedia" in script and "MediaRecorder" in script and script.rstrip().endswith("(2000)")


def test_record_in_browser_outside_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", None)  # import fails, as outside Colab
    with pytest.raises(HarError, match=r"Colab only.*show_live.*python -m har live") as caught:
        record_in_browser(1)
    assert "\n" not in str(caught.value)
