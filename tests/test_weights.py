"""Backbone weights from anywhere: a file's weights are loaded or refused in one line, the with-top MobileNetV2 from
the offline weights folder names ImageNet's test images through the course's own preprocessing, and a feature cache
records the weights' content and refuses a backbone other than the one that made it."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import error_lines, run_cli

from har.errors import DatasetError, HarError
from har.features import assemble, extract_features, feature_head, frame_backbone, save_assembled
from har.models import backbone_cnn, imagenet_classifier, top_labels
from har.splits import make_split
from har.train import fit_split, set_seed
from har.weights import WEIGHTS_ENV, course_weights, local_weights, weights_id

# The offline weights folder the Makefile passes (../shared/weights); CI sets HAR_REQUIRE_WEIGHTS when it is there,
# so that these tests can never skip unnoticed.
SHARED_WEIGHTS = Path(os.environ.get(WEIGHTS_ENV) or "/nonexistent/weights")


def needs_shared(test):
    """Run ``test`` with the offline weights folder; skip without it, unless HAR_REQUIRE_WEIGHTS says it must run."""
    if SHARED_WEIGHTS.is_dir() or os.environ.get("HAR_REQUIRE_WEIGHTS"):
        return test
    return pytest.mark.skip(reason=f"no offline weights folder: set {WEIGHTS_ENV} (make test does when there is one)")(
        test
    )


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    """A MobileNetV3Small's random weights saved as a .weights.h5 file, as a file of ImageNet weights is."""
    from har.backend import keras

    keras.utils.set_random_seed(5)
    cnn, _ = backbone_cnn("MobileNetV3Small", (96, 96), None)
    path = tmp_path_factory.mktemp("weights") / "mine.weights.h5"
    cnn.save_weights(path)
    return path


def test_weights_from_a_file_are_the_file_s(weights_file):
    from har.backend import keras

    keras.utils.set_random_seed(6)  # another random start: equal weights mean the file was read
    cnn, scale = backbone_cnn("MobileNetV3Small", (96, 96), str(weights_file))
    again, _ = backbone_cnn("MobileNetV3Small", (96, 96), weights_file)
    for a, b in zip(cnn.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert scale(np.array([0.0, 255.0])).numpy().tolist() == [-1.0, 1.0]


def test_mobilenet_v2_gets_pixels_in_minus_one_to_one():
    _, scale = backbone_cnn("MobileNetV2", (32, 32), None)
    assert scale(np.array([0.0, 127.5, 255.0])).numpy().tolist() == [-1.0, 0.0, 1.0]  # its preprocess_input


def test_a_missing_or_unfitting_weights_file_is_one_line(tmp_path, weights_file):
    with pytest.raises(HarError, match="no such weights file") as missing:
        backbone_cnn("MobileNetV2", (96, 96), tmp_path / "absent.weights.h5")
    with pytest.raises(HarError, match="do not fit MobileNetV2") as unfitting:
        backbone_cnn("MobileNetV2", (96, 96), weights_file)  # a MobileNetV3Small's weights
    (tmp_path / "notes.weights.h5").write_text("not weights")
    with pytest.raises(HarError, match="do not fit") as garbage:
        backbone_cnn("MobileNetV2", (96, 96), tmp_path / "notes.weights.h5")
    for error in (missing, unfitting, garbage):
        assert "\n" not in str(error.value) and len(str(error.value)) < 300


def test_the_command_line_refuses_a_weights_file_in_one_line(tmp_path, demo_root, weights_file):
    run = run_cli(
        "features", str(demo_root), "--weights", str(tmp_path / "absent.h5"), "--out", str(tmp_path / "f.npz")
    )
    assert run.returncode != 0 and "no such weights file" in run.stderr and len(error_lines(run.stderr)) <= 2
    run = run_cli("features", str(demo_root), "--weights", str(weights_file), "--image-size", "96",
                  "--out", str(tmp_path / "f.npz"))  # fmt: skip
    assert run.returncode == 1 and error_lines(run.stderr) == [error_lines(run.stderr)[0]]
    assert "do not fit MobileNetV2" in run.stderr and not (tmp_path / "f.npz").exists()


def test_the_weights_folder_setting(tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    assert local_weights("MobileNetV2") is None
    assert (
        course_weights("MobileNetV2", quick=True) is None and course_weights("MobileNetV2", quick=False) == "imagenet"
    )
    (tmp_path / "mobilenet_v2_1.0_224_no_top.weights.h5").write_bytes(b"x")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    assert course_weights("MobileNetV2", quick=True) == str(tmp_path / "mobilenet_v2_1.0_224_no_top.weights.h5")
    assert course_weights("MobileNetV3Small", quick=True) is None  # no such file there
    assert weights_id(tmp_path / "mobilenet_v2_1.0_224_no_top.weights.h5") == (
        "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"  # sha256 of b"x"
    )


@needs_shared
@pytest.mark.parametrize(("image", "label"), [("grace_hopper.bmp", "military uniform"), ("cat.bmp", "Egyptian cat")])
def test_the_with_top_mobilenet_v2_names_imagenet_s_test_images(image, label):
    model = imagenet_classifier(str(SHARED_WEIGHTS / "mobilenet_v2_1.0_224.weights.h5"))
    bgr = cv2.imread(str(SHARED_WEIGHTS / "testdata" / image))
    frame = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (224, 224), interpolation=cv2.INTER_AREA)
    probabilities = model.predict_on_batch(frame[None])
    (best, *_), *_ = top_labels(probabilities, 5, SHARED_WEIGHTS / "imagenet_labels.txt")
    assert best[0] == label, top_labels(probabilities, 5, SHARED_WEIGHTS / "imagenet_labels.txt")


def test_a_feature_cache_records_its_weights_and_refuses_another_backbone(tmp_path, demo_root, weights_file):
    out = tmp_path / "features.npz"
    options = {"sequence_length": 4, "image_size": 96, "backbone": "MobileNetV3Small", "workers": 2, "progress": False}
    report = extract_features(demo_root, out, weights=str(weights_file), **options)
    settings = report.dataset.settings
    assert settings["backbone_weights"] == weights_id(weights_file) and settings["backbone_weights"].startswith("sha")
    assert extract_features(demo_root, out, weights=str(weights_file), **options).reused  # same file, same features
    copy = tmp_path / "copy.weights.h5"
    copy.write_bytes(weights_file.read_bytes())
    assert extract_features(demo_root, out, weights=str(copy), **options).reused  # the content counts, not the name
    dataset = report.dataset
    set_seed(27)
    head = feature_head(len(dataset.classes), 4, dataset.features.shape[-1])
    result = fit_split(head, dataset, make_split("group", dataset.labels, dataset.groups), epochs=1, verbose=0)
    other = frame_backbone("MobileNetV3Small", 96, None)  # random weights: not what made the features
    with pytest.raises(DatasetError, match="other weights than the one that made the feature cache"):
        save_assembled(assemble(other, head), tmp_path / "mixed.keras", dataset, result.fit_indices, result.history)
    assert not (tmp_path / "mixed.keras").exists()
    assert save_assembled(
        assemble(report.backbone, head), tmp_path / "right.keras", dataset, result.fit_indices, result.history
    ).is_file()


def test_features_train_predict_on_the_command_line(tmp_path, demo_root, joined_video, weights_file):
    cache, bundle = tmp_path / "f.npz", tmp_path / "pretrained.keras"
    run = run_cli("features", str(demo_root), "--backbone", "MobileNetV3Small", "--weights", str(weights_file),
                  "--image-size", "96", "--sequence-length", "6", "--out", str(cache))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Feature cache" in run.stdout and cache.is_file()
    run = run_cli("train", str(cache), "--model", "lrcn", "--out", str(bundle))
    assert run.returncode == 1 and "it trains --model pretrained" in run.stderr and not bundle.exists()
    run = run_cli("train", str(cache), "--model", "pretrained", "--epochs", "2", "--weights", str(weights_file),
                  "--out", str(bundle))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "test accuracy" in run.stdout and bundle.is_file()
    out = tmp_path / "labelled.mp4"
    run = run_cli("predict", str(bundle), str(joined_video), "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 0 and os.listdir(tmp_path).count("labelled.mp4") == 1
