"""The pretrained backbone at its own size: per-frame features streamed from the videos into a cache, the LSTM head
trained on the cache, and the two put back together into a model that predicts on clips."""

import numpy as np
import pytest

from har.errors import DatasetError
from har.features import (
    FeatureDataset,
    assemble,
    extract_features,
    feature_head,
    load_features,
    save_assembled,
    save_features,
)
from har.splits import make_split
from har.train import fit_split, set_seed
from har.video import extract_frames


@pytest.fixture(scope="module")
def small_features(tmp_path_factory, demo_root):
    """The session's demo clips, 6 frames each, through MobileNetV3Small at 96 x 96 with random weights."""
    out = tmp_path_factory.mktemp("features") / "features.npz"
    set_seed(27)
    return extract_features(
        demo_root,
        out,
        sequence_length=6,
        image_size=96,
        backbone="MobileNetV3Small",
        weights=None,
        workers=2,
        progress=False,
    ), out


def test_the_feature_cache_holds_features_not_frames(small_features, demo_root):
    report, out = small_features
    dataset = load_features(out)
    assert dataset.features.dtype == np.float16 and dataset.features.shape == (32, 6, 576)
    assert dataset.paths == report.dataset.paths and dataset.classes == report.dataset.classes
    assert dataset.image_size == (96, 96) and dataset.settings["backbone_weights"] is None
    i = dataset.paths.index("Flatten/v_Flatten_g02_c01.avi")
    frames = extract_frames(demo_root / dataset.paths[i], 6, (96, 96))  # the training sampler's frames
    np.testing.assert_allclose(dataset.features[i], report.backbone.predict_on_batch(frames), rtol=1e-2, atol=1e-3)
    assert dataset.features.nbytes < frames.nbytes * len(dataset) / 10  # far smaller than the frames it replaces
    assert "would take" in dataset.summary() and "random weights" in dataset.summary()
    assert dataset.inputs(576)[np.array([3, 1])].dtype == np.float32  # the head is fed float32, batch by batch
    with pytest.raises(DatasetError, match="reading 64 features"):
        dataset.inputs(64)


def test_a_random_backbone_is_never_reused(small_features, demo_root):
    _, out = small_features
    again = extract_features(demo_root, out, sequence_length=6, image_size=96, backbone="MobileNetV3Small",
                             weights=None, workers=2, progress=False)  # fmt: skip
    assert not again.reused  # a new random backbone has other weights: its features are made again


def test_the_head_trains_on_features_and_goes_back_behind_the_backbone(tmp_path, small_features, demo_root):
    report, _ = small_features
    dataset = report.dataset
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (len(dataset.classes), 576))  # features that do tell the classes apart
    taught = FeatureDataset(
        (centres[dataset.labels][:, None] + rng.normal(0, 0.5, dataset.features.shape)).astype(np.float16),
        dataset.labels, dataset.groups, dataset.classes, dataset.paths, dataset.settings, dataset.frame_counts,
    )  # fmt: skip
    split = make_split("group", taught.labels, taught.groups)
    set_seed(27)
    head = feature_head(len(taught.classes), 6, 576)
    result = fit_split(head, taught, split, epochs=4, learning_rate=3e-3, augment=False, verbose=0)
    losses = result.history["loss"]
    assert min(losses[-2:]) < losses[0], losses
    model = assemble(report.backbone, head)  # har.models.pretrained at 96 x 96, the backbone and the head's weights
    assert model.name == "pretrained" and model.input_shape == (None, 6, 96, 96, 3)
    clips = np.stack([extract_frames(demo_root / path, 6, (96, 96)) for path in dataset.paths[:3]])
    features = np.stack([report.backbone.predict_on_batch(clip) for clip in clips])
    np.testing.assert_allclose(model.predict_on_batch(clips), head.predict_on_batch(features), atol=1e-5)
    from har.predict import Predictor

    bundle = save_assembled(model, tmp_path / "pretrained.keras", taught, result.fit_indices, result.history)
    predictor = Predictor.load(bundle)  # a bundle like any other: its per-frame backbone runs once per frame
    assert predictor.per_frame and predictor.image_size == (96, 96) and predictor.metadata["backbone_weights"] is None
    assert predictor.frame_step >= 1 and predictor.classes == dataset.classes
    assert predictor.metadata["epoch_seconds"] > 0  # the approaches table's s / training epoch


def test_a_cached_bundle_is_tested_on_the_dataset_s_clips_through_its_cache(tmp_path, small_features):
    """Notebooks 06-07 test the pretrained and pose bundles on the other models' test clips through their caches."""
    from har.predict import evaluate_on_cache

    report, out = small_features
    dataset = report.dataset
    set_seed(27)
    head = feature_head(len(dataset.classes), 6, 576)
    result = fit_split(head, dataset, make_split("group", dataset.labels, dataset.groups), epochs=1, verbose=0)
    bundle = save_assembled(
        assemble(report.backbone, head), tmp_path / "pretrained.keras", dataset, result.fit_indices, result.history
    )
    # the other models' dataset: the same clips in another order, one of them missing from the cache
    order = [dataset.paths[i] for i in (5, 2, 9, 0)] + ["Grow/v_Grow_g99_c01.avi"]
    other = FeatureDataset(np.zeros((5, 1, 1), np.float16), np.array([dataset.labels[i] for i in (5, 2, 9, 0)] + [0]),
                           np.arange(5), dataset.classes, order)  # fmt: skip
    model, metadata, (evaluation, again) = evaluate_on_cache(bundle, out, other, np.array([0, 1, 2, 3]), np.array([2]))
    rows = [dataset.paths.index(path) for path in order[:4]]
    expected = head.predict_on_batch(dataset.features[rows].astype(np.float32))
    np.testing.assert_allclose(evaluation.probabilities, expected, atol=1e-5)  # the right clips, in the dataset's order
    np.testing.assert_array_equal(evaluation.y_true, other.labels[:4])
    np.testing.assert_allclose(again.probabilities, expected[2:3], atol=1e-5)  # a second set of clips, in one pass
    assert metadata["model"] == "pretrained" and model.name == "pretrained"
    assert evaluate_on_cache(bundle, out, other, np.array([0, 4])) is None  # a clip the cache lacks
    assert evaluate_on_cache(tmp_path / "none.keras", out, other, np.array([0])) is None
    changed = FeatureDataset(dataset.features, dataset.labels, dataset.groups, dataset.classes, dataset.paths,
                             {**dataset.settings, "fingerprint": "another"})  # fmt: skip
    save_features(changed, tmp_path / "other.npz")
    assert evaluate_on_cache(bundle, tmp_path / "other.npz", other, np.array([0])) is None  # not the head's cache


def test_a_split_carries_over_to_a_cache_clip_by_clip():
    from har.features import split_for_cache
    from har.splits import Split

    frames = FeatureDataset(
        np.zeros((4, 1, 1), np.float16), np.zeros(4, int), np.arange(4), ["a"], ["p", "q", "r", "s"]
    )
    cache = FeatureDataset(np.zeros((3, 1, 1), np.float16), np.zeros(3, int), np.arange(3), ["a"], ["s", "p", "q"])
    moved = split_for_cache(Split(np.array([0, 2]), np.array([3, 1]), "group", 27), frames, cache)
    assert moved.train.tolist() == [1] and moved.test.tolist() == [0, 2] and (moved.kind, moved.seed) == ("group", 27)


def test_bad_feature_caches_and_unreadable_clips(tmp_path, demo_root):
    (tmp_path / "not.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DatasetError, match="not a readable feature cache"):
        load_features(tmp_path / "not.npz")
    dataset = FeatureDataset(
        np.zeros((2, 3, 4), np.float32), np.array([0, 1]), np.array([1, 2]), ["a", "b"], ["x", "y"]
    )
    save_features(dataset, tmp_path / "float32.npz")
    with pytest.raises(DatasetError, match=r"float16 \[N, T, D\]"):
        load_features(tmp_path / "float32.npz")
    root = tmp_path / "root"
    for name in ("Grow", "Shrink"):
        (root / name).mkdir(parents=True)
        for clip in sorted((demo_root / name).glob("*.avi"))[:2]:
            (root / name / clip.name).write_bytes(clip.read_bytes())
    (root / "Grow" / "v_Grow_g09_c01.avi").write_bytes(b"not a video")
    report = extract_features(root, sequence_length=4, image_size=64, weights=None, workers=1, progress=False)
    assert [path for path, _ in report.skipped] == ["Grow/v_Grow_g09_c01.avi"] and len(report.dataset) == 4
