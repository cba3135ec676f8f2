import cv2
import numpy as np
import pytest
from conftest import JOINED_CLIPS, JOINED_CUTS, PLUMBING_CLASSES, PLUMBING_T, run_cli
from media import truncate

from har.demo import _group_look, render_clip, write_video
from har.errors import ClipTooShortError, VideoError
from har.predict import UNSURE_BELOW, Predictor, predict_on_video, predict_single_action, show_video
from har.video import (
    ModelFrames,
    count_decodable_frames,
    extract_frames,
    iter_frames,
    sample_frame_indices,
    to_model_frame,
)
from har.window import ShotCuts

CLASSES, T = PLUMBING_CLASSES, PLUMBING_T


@pytest.fixture(scope="module")
def bundles(untrained_bundles):
    return untrained_bundles


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A 45-frame 96x72 demo clip at 25 fps."""
    look = _group_look(0, 1, 96, 72, 2)
    frames = render_clip("SpinClockwise", look, np.random.default_rng(1), 45, 96, 72)
    return write_video(tmp_path_factory.mktemp("video") / "spin.avi", frames, 25)


def naive_window_probabilities(predictor, path, ends):
    """The tutorial's way: one full model call per window of the last T frames."""
    small = ModelFrames((64, 64), flow=predictor.flow)(list(iter_frames(path)))  # RGB, and flow for two streams
    return np.array([predictor.model.predict_on_batch(np.array(small[e - T + 1 : e + 1])[None])[0] for e in ends])


@pytest.mark.parametrize(
    ("name", "per_frame"),
    [("lrcn", True), ("baseline", True), ("convlstm", False)]
    + [(name, False) for name in ("single_frame", "early_fusion", "slow_fusion", "two_stream")],  # whole windows
)
def test_windows_match_the_naive_loop_across_chunk_boundaries(bundles, video, name, per_frame):
    predictor = Predictor.load(bundles[name])
    assert predictor.per_frame is per_frame
    result = predict_on_video(predictor, video, chunk_size=7, progress=False)
    assert result.frame_count == 45
    np.testing.assert_array_equal(result.end_frames, np.arange(T - 1, 45))
    expected = naive_window_probabilities(predictor, video, result.end_frames)
    np.testing.assert_allclose(result.probabilities, expected, atol=1e-5)
    assert result.labels == [CLASSES[i] for i in expected.argmax(axis=1)]


@pytest.mark.parametrize("name", ["lrcn", "convlstm"])
def test_a_window_spans_what_the_bundle_says_and_encodes_each_frame_once(tmp_path, bundles, video, name):
    from har.bundle import read_metadata, save_bundle

    step = 3  # the bundle's frame_step: T frames, 3 apart, as training spread them over a clip
    plain = Predictor.load(bundles[name])
    bundle = save_bundle(plain.model, tmp_path / f"{name}.keras", {**read_metadata(bundles[name]), "frame_step": step})
    predictor = Predictor.load(bundle)
    span = (T - 1) * step + 1
    assert (predictor.frame_step, predictor.window_frames) == (step, span)
    encoded, gathered = [], []
    encode, indices = predictor.encode, predictor.window_indices
    predictor.encode = lambda frames, batch_size=64: (encoded.append(len(frames)), encode(frames, batch_size))[1]
    predictor.window_indices = lambda ends, starts=None: (gathered.append(indices(ends, starts)), gathered[-1])[1]
    result = predict_on_video(predictor, video, chunk_size=7, cuts=False, progress=False)  # whole windows only
    assert sum(encoded) == 45  # every frame through the per-frame work once, whatever the window's span
    windows = np.concatenate(gathered)
    assert (windows[:, -1] - windows[:, 0] == span - 1).all() and (np.diff(windows, axis=1) == step).all()
    np.testing.assert_array_equal(result.end_frames, np.arange(span - 1, 45))
    small = [to_model_frame(f, (64, 64)) for f in iter_frames(video)]
    expected = [
        plain.model.predict_on_batch(np.array(small[e - span + 1 : e + 1 : step])[None])[0] for e in result.end_frames
    ]
    np.testing.assert_allclose(result.probabilities, np.array(expected), atol=1e-5)
    with pytest.raises(
        ClipTooShortError, match=f"fewer than a window spans \\({span} frames: {T}, one every {step}\\)"
    ):
        predict_on_video(predictor, video, max_frames=span - 1, cuts=False, progress=False)
    with pytest.raises(ClipTooShortError, match=f"only {T - 1} frames decode, fewer than the {T} a window needs"):
        predict_on_video(predictor, video, max_frames=T - 1, progress=False)  # with cuts: spread over what there is


def test_shot_cuts_are_found_at_each_join_and_nowhere_inside_a_clip(joined_video, video):
    small = ModelFrames((64, 64))(list(iter_frames(joined_video)))
    assert len(small) == sum(n for _, _, n in JOINED_CLIPS)
    whole, fed = ShotCuts(), ShotCuts()
    starts = whole(small)
    assert whole.cuts == JOINED_CUTS
    np.testing.assert_array_equal(starts, np.repeat([0, *JOINED_CUTS], [n for _, _, n in JOINED_CLIPS]))
    pieces = [fed(small[i : i + 7]) for i in range(0, len(small), 7)]  # as prediction feeds it, chunk by chunk
    np.testing.assert_array_equal(np.concatenate(pieces), starts)
    assert fed.cuts == JOINED_CUTS
    one_clip = ShotCuts()
    one_clip(ModelFrames((64, 64), flow=True)(list(iter_frames(video))))  # a spinning actor on a shaking camera
    assert one_clip.cuts == []


@pytest.mark.parametrize("name", ["lrcn", "convlstm"])
def test_windows_stay_inside_their_shot(tmp_path, bundles, joined_video, name):
    """A window that would reach back across a cut spreads its T frames over the shot so far, as training
    spread them over a clip; it never spans more than the bundle says, and each frame is still encoded once.
    The video's first frame starts a shot too: the first window comes once T frames are in."""
    step = 2
    plain = Predictor.load(bundles[name])
    predictor = Predictor(plain.model, {**plain.metadata, "frame_step": step})
    span, total = predictor.window_frames, sum(n for _, _, n in JOINED_CLIPS)
    encoded, gathered = [], []
    encode, indices = predictor.encode, predictor.window_indices
    predictor.encode = lambda frames, batch_size=64: (encoded.append(len(frames)), encode(frames, batch_size))[1]
    predictor.window_indices = lambda ends, starts=None: (gathered.append(indices(ends, starts)), gathered[-1])[1]
    result = predict_on_video(predictor, joined_video, chunk_size=7, progress=False)
    assert sum(encoded) == total and result.cuts == JOINED_CUTS
    windows = np.concatenate(gathered)
    np.testing.assert_array_equal(windows[:, -1], result.end_frames)
    np.testing.assert_array_equal(result.end_frames, np.arange(T - 1, total))
    shot = np.repeat([0, *JOINED_CUTS], [n for _, _, n in JOINED_CLIPS])[result.end_frames]
    assert (windows[:, 0] >= shot).all() and (windows[:, -1] - windows[:, 0] <= span - 1).all()
    crossing = result.end_frames - span + 1 < shot
    # the windows before a whole span is in, every one of the short shot, the first span - 1 of the last shot
    assert crossing.sum() == (span - T) + 12 + (span - 1)
    for window, end, start in zip(windows[crossing], result.end_frames[crossing], shot[crossing], strict=True):
        np.testing.assert_array_equal(window, start + sample_frame_indices(end - start + 1, T))
    assert (np.diff(windows[~crossing], axis=1) == step).all()
    small = np.array([to_model_frame(f, (64, 64)) for f in iter_frames(joined_video)])
    expected = np.array([plain.model.predict_on_batch(small[w][None])[0] for w in windows])
    np.testing.assert_allclose(result.probabilities, expected, atol=1e-5)
    across = predict_on_video(Predictor(plain.model, predictor.metadata), joined_video, cuts=False, progress=False)
    smoothed = predict_on_video(Predictor(plain.model, predictor.metadata), joined_video, smooth=5, progress=False)
    at = list(result.end_frames).index(JOINED_CUTS[1])  # the first window of the last shot: no older window counts
    np.testing.assert_allclose(smoothed.probabilities[at], result.probabilities[at], atol=1e-5)
    np.testing.assert_allclose(smoothed.probabilities[at + 2], result.probabilities[at : at + 3].mean(0), atol=1e-5)
    np.testing.assert_array_equal(across.end_frames, np.arange(span - 1, total))  # whole spans only
    both = result.end_frames >= span - 1
    assert across.cuts == [] and not np.allclose(across.probabilities, result.probabilities[both])
    np.testing.assert_allclose(across.probabilities[~crossing[both]], result.probabilities[both & ~crossing], atol=1e-5)


def test_stride_and_smoothing(bundles, video):
    predictor = Predictor.load(bundles["lrcn"])
    plain = predict_on_video(predictor, video, progress=False)
    strided = predict_on_video(predictor, video, stride=5, progress=False)
    np.testing.assert_array_equal(strided.end_frames, np.arange(T - 1, 45, 5))
    np.testing.assert_allclose(strided.probabilities, plain.probabilities[::5], atol=1e-6)
    smooth = predict_on_video(predictor, video, smooth=3, progress=False)
    raw = plain.probabilities
    np.testing.assert_allclose(smooth.probabilities[5], raw[3:6].mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(smooth.probabilities[0], raw[0], atol=1e-6)


def test_annotated_output_is_h264_with_every_frame(tmp_path, bundles, video):
    out = tmp_path / "out" / "annotated.mp4"
    result = predict_on_video(bundles["lrcn"], video, out, progress=False)
    assert result.output == out and out.is_file()
    capture = cv2.VideoCapture(str(out))
    codec = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().lower()
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    capture.release()
    assert codec in {"avc1", "h264"} and abs(fps - 25) < 0.01 and size == (96, 72)
    assert count_decodable_frames(out) == count_decodable_frames(video) == 45
    first, late = extract_frames(out, 45, (72, 96))[[0, 30]]
    assert not np.array_equal(first[:12, :40], late[:12, :40])  # the label band changed once windows were full
    assert sorted(p.name for p in out.parent.iterdir()) == ["annotated.mp4"]


def test_output_size_and_lying_frame_count_follow_what_decodes(tmp_path, bundles, video):
    cut = truncate(video, tmp_path / "cut.avi", 0.7)
    decoded = count_decodable_frames(cut)
    result = predict_on_video(bundles["baseline"], cut, tmp_path / "cut.mp4", progress=False)
    assert result.frame_count == decoded and count_decodable_frames(tmp_path / "cut.mp4") == decoded


def test_too_short_or_broken_videos_leave_nothing_behind(tmp_path, bundles):
    look = _group_look(0, 2, 96, 72, 2)
    short = write_video(tmp_path / "short.avi", render_clip("Grow", look, np.random.default_rng(0), 5, 96, 72))
    with pytest.raises(ClipTooShortError, match="only 5 frames decode"):
        predict_on_video(bundles["lrcn"], short, tmp_path / "short.mp4", progress=False)
    (tmp_path / "broken.avi").write_bytes(b"not a video" * 100)
    with pytest.raises(VideoError, match="cannot be opened"):
        predict_on_video(bundles["lrcn"], tmp_path / "broken.avi", tmp_path / "broken.mp4", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.avi", "short.avi"]


def test_single_action_uses_the_training_sampler(bundles, video, capsys):
    predictor = Predictor.load(bundles["lrcn"])
    result = predict_single_action(predictor, video, top_k=3)
    expected = predictor.model.predict_on_batch(extract_frames(video, T, (64, 64))[None])[0]
    assert result.label == CLASSES[int(expected.argmax())]
    assert result.confidence == pytest.approx(float(expected.max()), abs=1e-6)
    assert [p for _, p in result.top] == sorted((p for _, p in result.top), reverse=True) and len(result.top) == 3
    said = capsys.readouterr().out
    assert result.unsure == (result.confidence < UNSURE_BELOW)
    assert (f"Action predicted: {result.label}" in said) != result.unsure and "top 3:" in said
    sure = predict_single_action(predictor, video, top_k=2, unsure_below=0.01)
    assert not sure.unsure and f"Action predicted: {sure.label}" in capsys.readouterr().out


def test_single_action_of_a_two_stream_model_reads_the_flow_training_read(bundles, video):
    predictor = Predictor.load(bundles["two_stream"])
    result = predict_single_action(predictor, video, verbose=False)
    expected = predictor.model.predict_on_batch(extract_frames(video, T, (64, 64), flow=True)[None])[0]
    assert result.label == CLASSES[int(expected.argmax())]
    assert result.confidence == pytest.approx(float(expected.max()), abs=1e-6)


def test_unsure_below_the_threshold_with_the_top_three():
    from har.predict import ClipPrediction, window_text

    top = [("Grow", 0.41), ("Shrink", 0.33), ("Flatten", 0.2)]
    assert str(ClipPrediction("Grow", 0.41, top, 0.5)) == (
        "Unsure: no class reaches 50% (top 3: Grow 41.0%, Shrink 33.0%, Flatten 20.0%)"
    )
    assert str(ClipPrediction("Grow", 0.41, top, 0.4)).startswith("Action predicted: Grow (confidence 41.0%; top 3:")
    assert window_text(CLASSES, np.array([0.41, 0.33, 0.2, 0.06]), 0.5) == "unsure (Grow 41%)"
    assert window_text(CLASSES, np.array([0.1, 0.8, 0.05, 0.05]), 0.5) == "Shrink 80%"


def test_show_video_embeds_the_mp4(tmp_path, bundles, video):
    out = predict_on_video(bundles["lrcn"], video, tmp_path / "a.mp4", progress=False).output
    html = show_video(out)._repr_html_()
    assert "data:video/mp4;base64," in html
    assert not (tmp_path / "a.preview.mp4").exists()  # a short video is shown as it is
    with pytest.raises(VideoError):
        show_video(tmp_path / "missing.mp4")


def test_a_notebook_showing_a_ten_minute_video_stays_small(tmp_path):
    """show_video previews a long video, so the saved notebook holds a few MB, not the whole film."""
    import subprocess

    import imageio_ffmpeg
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    long = tmp_path / "labelled.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
         "-t", "600", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(long)],
        check=True,
    )  # fmt: skip
    assert long.stat().st_size > 10e6  # embedded whole, this video alone would break the limit
    shell = InteractiveShell.instance()
    shown = show_video(long)
    data, _ = shell.display_formatter.format(shown)
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show_video(out)")
    cell.outputs = [nbformat.v4.new_output("execute_result", data=data, execution_count=1)]
    notebook.cells.append(cell)
    nbformat.write(notebook, tmp_path / "07.ipynb")
    assert (tmp_path / "07.ipynb").stat().st_size < 10e6
    preview = tmp_path / "labelled.preview.mp4"
    assert count_decodable_frames(preview) == 30 * 25
    capture = cv2.VideoCapture(str(preview))
    assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == 480
    capture.release()
    assert "the whole video is" in data["text/html"] and "data:video/mp4;base64," in data["text/html"]


@pytest.mark.parametrize(("pixel_format", "size"), [("rgb24", (64, 48)), ("bgr24", (63, 47))])
def test_writer_keeps_colours_in_either_channel_order_and_odd_sizes(tmp_path, pixel_format, size):
    from har.predict import H264Writer

    width, height = size
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = 220  # red in RGB, blue in BGR
    out = tmp_path / "colour.mp4"
    with H264Writer(out, size, 25, pixel_format=pixel_format) as writer:
        for _ in range(10):
            writer.write(frame)
    decoded = next(iter_frames(out))  # OpenCV gives BGR
    b, g, r = decoded[height // 2, width // 2].astype(int)
    if pixel_format == "rgb24":
        assert r > 180 and g < 40 and b < 40
    else:
        assert b > 180 and g < 40 and r < 40
    assert decoded.shape[:2] == (height // 2 * 2, width // 2 * 2) and count_decodable_frames(out) == 10


def test_cli_predict_window_and_whole(tmp_path, bundles, video, joined_video):
    out = tmp_path / "cli.mp4"
    window = run_cli("predict", str(bundles["lrcn"]), str(video), "--out", str(out), "--stride", "2")
    assert window.returncode == 0, window.stderr
    assert count_decodable_frames(out) == 45 and "Annotated video" in window.stdout
    assert f"windows ({T} frames one every 1, {T} in all, 0 shot cuts)" in window.stdout
    joined = run_cli("predict", str(bundles["lrcn"]), str(joined_video), "--out", str(tmp_path / "joined.mp4"))
    assert joined.returncode == 0 and f"{T} in all, 2 shot cuts)" in joined.stdout, joined.stderr
    across = run_cli("predict", str(bundles["lrcn"]), str(joined_video), "--out", str(out), "--no-cuts")
    assert across.returncode == 0 and f"{T} in all)" in across.stdout, across.stderr
    whole = run_cli("predict", str(bundles["lrcn"]), str(video), "--mode", "whole")
    assert whole.returncode == 0, whole.stderr
    assert "Action predicted:" in whole.stdout or "Unsure: no class reaches" in whole.stdout
    sure = run_cli("predict", str(bundles["lrcn"]), str(video), "--mode", "whole", "--unsure-below", "0.01")
    assert sure.returncode == 0 and "Action predicted:" in sure.stdout, sure.stderr
    wrong = run_cli("predict", str(bundles["lrcn"]), str(video), "--mode", "whole", "--unsure-below", "45")
    assert wrong.returncode == 2 and "must be a probability between 0 and 1, got 45.0" in wrong.stderr


@pytest.mark.parametrize(
    ("model", "source", "message"),
    [
        ("lrcn", "{tmp}/broken.avi", "cannot be opened as a video"),
        ("lrcn", "{tmp}/short.avi", "fewer than the 8 a window needs"),
        ("lrcn", "{tmp}/missing.avi", "no such video file"),
        ("{tmp}/broken.avi", "{tmp}/short.avi", "not a model bundle"),
        ("lrcn", "http://127.0.0.1:9/video.mp4", "could not download"),
    ],
)
def test_cli_predict_bad_input(tmp_path, bundles, model, source, message):
    (tmp_path / "broken.avi").write_bytes(b"junk" * 100)
    look = _group_look(0, 3, 96, 72, 2)
    write_video(tmp_path / "short.avi", render_clip("Grow", look, np.random.default_rng(0), 4, 96, 72))
    model = str(bundles[model]) if model in bundles else model.format(tmp=tmp_path)
    out = tmp_path / "never.mp4"
    result = run_cli("predict", model, source.format(tmp=tmp_path), "--out", str(out))
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not out.exists() and not list(tmp_path.glob(".*.tmp*"))


def test_joined_clips_know_their_true_class_at_every_frame(tmp_path, video):
    from har.predict import WindowPredictions, join_clips
    from har.viz import plot_label_timeline

    second = write_video(
        tmp_path / "grow.avi",
        render_clip("Grow", _group_look(0, 2, 96, 72, 2), np.random.default_rng(2), 30, 96, 72),
        25,
    )
    joined = join_clips([video, second], ["SpinClockwise", "Grow"], tmp_path / "out" / "joined.mp4")
    assert joined.spans == [(0, 45), (45, 75)] and count_decodable_frames(joined.path) == 75
    assert joined.truth() == [(0.0, 1.8, "SpinClockwise"), (1.8, 3.0, "Grow")]
    assert sorted(p.name for p in joined.path.parent.iterdir()) == ["joined.mp4"]
    classes = ["Grow", "SpinClockwise"]
    ends = np.arange(10, 75)
    right = np.where(ends < 45, 1, 0)  # every window names the clip it ends in
    windows = WindowPredictions(classes, 25.0, 75, ends, np.eye(2, dtype=np.float32)[right])
    assert joined.late_window_accuracy(windows) == 1.0
    late_wrong = np.where((ends >= 66) | (ends < 45), 1, 0)  # Grow's last 30 % (frames 66-74) called a spin
    assert joined.late_window_accuracy(WindowPredictions(classes, 25.0, 75, ends, np.eye(2)[late_wrong])) == 0.5
    early_wrong = np.where(ends < 50, 1, 0)  # wrong only early in Grow: not counted
    assert joined.late_window_accuracy(WindowPredictions(classes, 25.0, 75, ends, np.eye(2)[early_wrong])) == 1.0
    figure = plot_label_timeline(windows, truth=joined.truth())
    assert [axis.get_yticklabels()[0].get_text() for axis in figure.axes[:2]] == ["predicted", "true"]
    assert "shot cut" not in [t.get_text() for t in figure.axes[-1].get_legend().get_texts()]
    windows.cuts = [45]
    lines = plot_label_timeline(windows, truth=joined.truth()).axes[-1]
    assert "shot cut" in [t.get_text() for t in lines.get_legend().get_texts()]
    assert any(list(line.get_xdata()) == [1.8, 1.8] for line in lines.get_lines())  # the cut, at 45 / 25 fps
