"""Body pose: MoveNet on LiteRT finds the reference keypoints, the normalisation forgets where the person stands and
how large they are, and the keypoint cache marks the frames in which no one is found instead of faking them."""

import csv
import os
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import error_lines, run_cli

from har.demo import write_video
from har.errors import HarError
from har.features import load_features
from har.pose import (
    MIN_KEYPOINTS,
    MOVENET_FILE,
    POSE_FEATURES,
    MoveNet,
    extract_keypoints,
    keypoint_scores,
    normalise,
)
from har.weights import WEIGHTS_ENV

# The offline weights folder the Makefile passes; CI sets HAR_REQUIRE_WEIGHTS when it is there, so these never skip
# unnoticed (as in test_weights.py).
FOLDER = Path(os.environ.get(WEIGHTS_ENV) or "/nonexistent/weights")
needs_movenet = pytest.mark.skipif(
    not (FOLDER / MOVENET_FILE).is_file() and not os.environ.get("HAR_REQUIRE_WEIGHTS"),
    reason=f"no MoveNet file: set {WEIGHTS_ENV} to the offline weights folder (make test does when there is one)",
)


def squat() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(FOLDER / "testdata" / "squat.bmp")), cv2.COLOR_BGR2RGB)


@needs_movenet
def test_movenet_finds_the_reference_keypoints_of_the_squat():
    with open(FOLDER / "testdata" / "movenet_single_pose_lightning_ptq_reference.csv") as file:
        reference = np.array([[float(r["keypoint_y"]), float(r["keypoint_x"])] for r in csv.DictReader(file)])
    keypoints = MoveNet.load(FOLDER / MOVENET_FILE)(squat()[None])  # any frame size: resized to 192 x 192 inside
    assert keypoints.shape == (1, 17, 3)
    assert np.abs(keypoints[0, :, :2] - reference).max() < 0.05
    assert (keypoints[0, :, 2] > 0.2).all()  # a clear, whole person: every keypoint found


def test_normalise_forgets_where_the_person_stands_and_how_large_they_are():
    rng = np.random.default_rng(0)
    keypoints = np.concatenate([rng.uniform(0.3, 0.6, (17, 2)), rng.uniform(0.5, 0.9, (17, 1))], axis=-1)
    moved = keypoints.copy()
    moved[:, :2] = 0.1 + 0.5 * keypoints[:, :2]  # elsewhere in the frame, half the size
    a, b = normalise(keypoints), normalise(moved)
    assert a.shape == (POSE_FEATURES,) and a[-1] == 1.0
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert abs(a[:17].mean()) < 1e-5 and abs(a[17:34].mean()) < 1e-5  # centred
    unsure = keypoints.copy()
    unsure[MIN_KEYPOINTS - 1 :, 2] = 0.1  # only MIN_KEYPOINTS - 1 keypoints sure: no person
    assert normalise(unsure)[-1] == 0.0 and not normalise(unsure).any()  # marked, not faked


def test_a_bad_movenet_file_is_one_line(tmp_path):
    (tmp_path / "not.tflite").write_bytes(b"not a model")
    with pytest.raises(HarError, match="not a MoveNet model") as error:
        MoveNet((tmp_path / "not.tflite").read_bytes())
    assert "\n" not in str(error.value)
    with pytest.raises(HarError, match="no such MoveNet file"):
        MoveNet.load(tmp_path / "absent.tflite")


@needs_movenet
def test_a_keypoint_cache_marks_the_frames_without_a_person(tmp_path):
    person = cv2.resize(cv2.cvtColor(squat(), cv2.COLOR_RGB2BGR), (320, 240))
    empty = np.full_like(person, 128)
    for group in (1, 2, 3):  # three groups a class, as training wants
        write_video(tmp_path / "data" / "Squat" / f"v_Squat_g0{group}_c01.avi", [person] * 12)
        write_video(tmp_path / "data" / "Empty" / f"v_Empty_g0{group}_c01.avi", [empty] * 12)
    out = tmp_path / "keypoints.npz"
    run = run_cli("pose", str(tmp_path / "data"), "--sequence-length", "4", "--out", str(out), "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert error_lines(run.stderr) == []  # no LiteRT notice among the progress bars
    assert "a person found in 50% of the frames" in run.stdout and "Keypoint cache" in run.stdout
    cache = load_features(out)
    assert cache.features.shape == (6, 4, POSE_FEATURES) and cache.settings["kind"] == "pose"
    flags = {path.split("/")[0]: cache.features[i, :, -1] for i, path in enumerate(cache.paths)}
    assert (flags["Squat"] == 1).all() and (flags["Empty"] == 0).all()
    empty_rows = cache.features[[i for i, p in enumerate(cache.paths) if p.startswith("Empty/")]]
    assert not np.asarray(empty_rows, np.float32).any()  # no made-up keypoints where no one is
    again = extract_keypoints(tmp_path / "data", out, sequence_length=4, workers=1, progress=False)
    assert again.reused
    scores = keypoint_scores(cache)  # notebook 06 draws the class read best and the one read worst
    assert list(scores) == ["Squat", "Empty"] and scores["Empty"] == 0 and scores["Squat"] > 0.5
    from har.viz import plot_skeletons

    frames = np.stack([[cv2.cvtColor(person, cv2.COLOR_BGR2RGB)] * 2, [empty] * 2])
    figure = plot_skeletons(frames, np.stack([again.backbone(f) for f in frames]), ["Squat", "Empty"])
    lines = [len(ax.lines) for ax in figure.axes]
    assert lines[0] >= 12 and lines[2] == lines[3] == 0  # the squat's bones drawn, none where no one is
    run = run_cli("train", str(out), "--model", "pretrained", "--out", str(tmp_path / "m.keras"))
    assert run.returncode == 1 and "it trains --model pose" in run.stderr and len(error_lines(run.stderr)) == 1


@needs_movenet
def test_pose_train_predict_on_the_command_line(tmp_path):
    """Keypoints -> a trained pose bundle -> labels on a video, with MoveNet inside the .keras file."""
    person = cv2.resize(cv2.cvtColor(squat(), cv2.COLOR_RGB2BGR), (320, 240))
    mirrored = person[:, ::-1].copy()  # the same person the other way round: another pose to tell apart
    for group in (1, 2, 3):
        write_video(tmp_path / "data" / "Right" / f"v_Right_g0{group}_c01.avi", [person] * 10)
        write_video(tmp_path / "data" / "Left" / f"v_Left_g0{group}_c01.avi", [mirrored] * 10)
    cache, bundle = tmp_path / "keypoints.npz", tmp_path / "pose.keras"
    assert run_cli("pose", str(tmp_path / "data"), "--sequence-length", "4", "--out", str(cache)).returncode == 0
    run = run_cli("train", str(cache), "--model", "pose", "--epochs", "2", "--out", str(bundle))
    assert run.returncode == 0, run.stderr
    assert "test accuracy" in run.stdout and bundle.is_file()
    with zipfile.ZipFile(bundle) as archive:  # MoveNet travels inside the bundle
        assert any(name.endswith("movenet.tflite") for name in archive.namelist())
    run = run_cli("train", str(tmp_path / "data"), "--model", "pose", "--out", str(tmp_path / "x.keras"))
    assert run.returncode == 1 and "trains on a keypoint cache" in run.stderr
    from har.predict import Predictor

    predictor = Predictor.load(bundle)  # safe mode, nothing but the .keras file
    assert predictor.per_frame and predictor.image_size == (192, 192)
    out = tmp_path / "labelled.mp4"
    video = tmp_path / "data" / "Right" / "v_Right_g01_c01.avi"
    run = run_cli("predict", str(bundle), str(video), "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 0 and error_lines(run.stderr) == []
    from har.tools.live import label_stream

    frames = [person.copy() for _ in range(6)] + [np.full_like(person, 128) for _ in range(2)]
    live = list(label_stream(predictor, iter(frames), batch=3, cuts=False))  # live labelling draws the skeleton
    green = [int(((f.frame[..., 1] > 200) & (f.frame[..., 0] < 80) & (f.frame[..., 2] < 80)).sum()) for f in live]
    assert min(green[:6]) > 100 and max(green[6:]) == 0, green  # over the person; nothing where no one is
