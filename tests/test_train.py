import json
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_cli

from har.bundle import load_bundle, read_metadata, save_bundle
from har.dataset import build_dataset, save_dataset
from har.errors import BundleError
from har.evaluate import Evaluation, comparison_table, evaluate_model
from har.models import baseline, lrcn
from har.splits import make_split
from har.train import (
    clip_batches,
    flip_clips,
    get_strategy,
    set_seed,
    train_model,
    training_strategy,
    use_mixed_precision_if_supported,
    window_frame_step,
)


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory, demo_root):
    """The session's demo clips at 8 frames of 64x64, cached."""
    out = tmp_path_factory.mktemp("cache") / "small.npz"
    return build_dataset(demo_root, out, sequence_length=8, workers=2, progress=False).dataset, out


def numbered_frames(n=10, t=3):
    """Clips whose every pixel holds the clip's index, to check what a batch gathered."""
    return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None, None], (n, t, 4, 4, 3)).copy()


def test_pipeline_batches_uint8_clips_with_their_labels():
    frames, labels = numbered_frames(), np.arange(10) % 3
    indices = np.array([7, 2, 5, 9, 0])
    seen = []
    for x, y in clip_batches(frames, labels, indices, 2):
        assert x.dtype == tf.uint8 and x.shape[1:] == (3, 4, 4, 3)
        ids = x.numpy()[:, 0, 0, 0, 0]
        np.testing.assert_array_equal(y.numpy(), labels[ids])
        seen += ids.tolist()
    assert seen == indices.tolist()
    shuffled = [x.numpy()[:, 0, 0, 0, 0] for x, _ in clip_batches(frames, labels, indices, 5, training=True)]
    assert sorted(np.concatenate(shuffled).tolist()) == sorted(indices.tolist())


def test_pipeline_never_copies_the_dataset():
    frames = np.zeros((1000, 8, 64, 64, 3), np.uint8)  # 94 MiB; a float32 copy would be 375 MiB
    pipeline = clip_batches(frames, np.zeros(1000, int), np.arange(1000), 4, training=True)
    tracemalloc.start()
    for _ in pipeline:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.1 * frames.nbytes  # a few batches in flight, nothing more


def test_flip_mirrors_every_frame_of_a_clip_alike():
    clips = tf.constant(np.random.default_rng(0).integers(0, 255, (64, 4, 6, 6, 3), dtype=np.uint8))
    flipped = flip_clips(clips).numpy()
    mirrored = clips.numpy()[:, :, :, ::-1]
    was_flipped = [np.array_equal(f, m) for f, m in zip(flipped, mirrored, strict=True)]
    kept = [np.array_equal(f, c) for f, c in zip(flipped, clips.numpy(), strict=True)]
    assert all(a or b for a, b in zip(was_flipped, kept, strict=True))
    assert 10 < sum(was_flipped) < 54


def test_cpu_setup():
    assert get_strategy().num_replicas_in_sync == 1
    assert use_mixed_precision_if_supported() is False
    assert training_strategy() is training_strategy() and training_strategy().num_replicas_in_sync == 1


def test_training_under_mixed_precision_keeps_a_float32_softmax(small_cache):
    from har.backend import keras

    dataset, _ = small_cache
    split = make_split("group", dataset.labels, dataset.groups)
    keras.mixed_precision.set_global_policy("mixed_float16")  # what training_strategy sets on a tensor-core GPU
    try:
        set_seed(27)
        with training_strategy().scope():
            model = lrcn(len(dataset.classes), 8)
        result = train_model(model, dataset, split.train[:16], split.test[:8], epochs=1, batch_size=4, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.layers[1].compute_dtype == "float16" and model.layers[-1].compute_dtype == "float32"
    assert str(model(dataset.frames[:2]).dtype) == "<dtype: 'float32'>"
    assert np.isfinite(result.history["loss"]).all()


def test_same_seed_same_initial_weights():
    set_seed(5)
    a = baseline(3, 4).get_weights()
    set_seed(5)
    b = baseline(3, 4).get_weights()
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_training_lowers_the_loss_and_writes_a_bundle(tmp_path, small_cache):
    dataset, _ = small_cache
    split = make_split("group", dataset.labels, dataset.groups)
    set_seed(27)
    out = tmp_path / "models" / "lrcn.keras"
    result = train_model(
        lrcn(len(dataset.classes), 8), dataset, split.train, split.test,
        epochs=6, patience=6, learning_rate=3e-3, out=out, metadata={"split": split.describe()}, verbose=0,
    )  # fmt: skip
    losses = result.history["loss"]
    assert len(losses) == 6 and min(losses[-2:]) < losses[0]
    assert out.is_file() and result.files["checkpoint"].is_file() and result.files["history"].is_file()
    assert result.files["history"].read_text().startswith("epoch,")
    metadata = read_metadata(out)
    assert metadata["classes"] == dataset.classes and metadata["sequence_length"] == 8
    assert metadata["image_size"] == [64, 64] and metadata["colour_order"] == "RGB"
    assert metadata["split"]["kind"] == "group" and metadata["model"] == "lrcn"
    assert sorted(p.name for p in out.parent.iterdir()) == ["lrcn.keras", "lrcn_logs"]
    # the pace training saw, for the sliding window: the median step between a clip's sampled frames
    steps = (dataset.frame_counts[split.train] - 1) / 7
    assert metadata["training_frame_step"] == pytest.approx(np.median(steps), abs=0.01)
    assert metadata["frame_step"] == window_frame_step(dataset, split.train) == max(1, round(np.median(steps)))


@pytest.mark.parametrize("name", ["single_frame", "early_fusion", "slow_fusion"])
def test_the_approaches_of_notebook_06_train_with_a_falling_loss(tmp_path, small_cache, name):
    from har.models import build_model

    dataset, _ = small_cache
    split = make_split("group", dataset.labels, dataset.groups)
    set_seed(27)
    out = tmp_path / f"{name}.keras"
    result = train_model(
        build_model(name, len(dataset.classes), 8), dataset, split.train, split.test,
        epochs=6, patience=6, learning_rate=3e-3, out=out, verbose=0,
    )  # fmt: skip
    losses = result.history["loss"]
    assert len(losses) == 6 and min(losses[-2:]) < losses[0], losses
    metadata = read_metadata(out)
    assert metadata["model"] == name
    assert metadata["epoch_seconds"] == pytest.approx(np.median(result.history["epoch_seconds"]), abs=0.01)


def test_fit_split_can_train_on_a_few_clips_for_a_quick_run(small_cache):
    """The exercises' solutions run in CI on at most 32 clips: max_clips draws that many of each side, seeded."""
    from har.splits import validation_split
    from har.train import fit_split

    dataset, _ = small_cache
    split = make_split("group", dataset.labels, dataset.groups)
    inner = validation_split(split, dataset.labels, dataset.groups)
    runs = []
    for _ in range(2):
        set_seed(27)
        runs.append(fit_split(baseline(len(dataset.classes), 8), dataset, split, epochs=1, max_clips=6, verbose=0))
    first = runs[0]
    assert len(first.fit_indices) == 6 and set(first.fit_indices) <= set(inner.train)
    assert 0 < len(first.val_indices) <= 6 and set(first.val_indices) <= set(inner.test)
    np.testing.assert_array_equal(first.fit_indices, runs[1].fit_indices)  # the same clips for the same seed
    assert len(first.history["loss"]) == 1


def test_bundle_round_trip_gives_identical_predictions(tmp_path, small_cache):
    dataset, _ = small_cache
    model = lrcn(len(dataset.classes), 8)
    path = save_bundle(model, tmp_path / "m.keras", {"classes": dataset.classes, "sequence_length": 8,
                                                     "image_size": [64, 64]})  # fmt: skip
    loaded, metadata = load_bundle(path)
    clips = dataset.frames[:5]
    np.testing.assert_array_equal(model.predict(clips, verbose=0), loaded.predict(clips, verbose=0))
    assert metadata["classes"] == dataset.classes
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_files_that_are_not_bundles_are_refused(tmp_path):
    plain = tmp_path / "plain.keras"
    baseline(2, 4).save(plain)
    with pytest.raises(BundleError, match="without course metadata"):
        load_bundle(plain)
    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(BundleError, match="not a model bundle"):
        load_bundle(tmp_path / "text.keras")
    with pytest.raises(BundleError, match="no such model file"):
        load_bundle(tmp_path / "missing.keras")
    with pytest.raises(BundleError, match=r"\.keras files"):
        save_bundle(baseline(2, 4), tmp_path / "old.h5", {"classes": [], "sequence_length": 4, "image_size": [8, 8]})
    with zipfile.ZipFile(plain, "a") as archive:
        archive.writestr("har.json", "[1, 2]")
    with pytest.raises(BundleError, match="not bundle metadata"):
        load_bundle(plain)


def test_evaluation_figures():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]])
    evaluation = Evaluation(["Grow", "Shrink", "Spin"], np.array([0, 1, 1, 2]), probabilities)
    assert evaluation.accuracy == 0.75 and evaluation.top_k_accuracy(2) == 1.0
    np.testing.assert_array_equal(evaluation.confusion(), [[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    assert evaluation.pair_accuracy([("Grow", "Shrink")]) == pytest.approx(2 / 3)
    assert "Shrink" in evaluation.report()
    table = comparison_table({"lrcn": evaluation}, pairs=[("Grow", "Shrink")])
    assert "| lrcn | 75.0% | 100.0% | 66.7% |" in table


def test_learning_curve_figure_plots_every_point_in_order():
    from har.viz import plot_learning_curve

    figure = plot_learning_curve({"lrcn": [(22, 0.8), (5, 0.4), (11, 0.6)], "baseline": [(5, 0.5), (22, 0.7)]},
                                 title="measured on the real sample", chance=1 / 6)  # fmt: skip
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    np.testing.assert_allclose(lines["lrcn"].get_xydata(), [[5, 40], [11, 60], [22, 80]])
    np.testing.assert_allclose(lines["baseline"].get_ydata(), [50, 70])
    assert "chance" in lines and figure.axes[0].get_title() == "measured on the real sample"


def test_evaluate_model_uses_the_given_clips(small_cache):
    dataset, _ = small_cache
    result = evaluate_model(baseline(len(dataset.classes), 8), dataset, np.arange(6))
    assert result.probabilities.shape == (6, 4) and len(result.y_true) == 6


def test_cli_train_then_evaluate(tmp_path, small_cache):
    _, cache = small_cache
    out = tmp_path / "m.keras"
    trained = run_cli("train", str(cache), "--model", "baseline", "--epochs", "2", "--out", str(out))
    assert trained.returncode == 0, trained.stderr
    assert "test accuracy" in trained.stdout and out.is_file()
    evaluated = run_cli("evaluate", str(out), str(cache), "--confusion", str(tmp_path / "cm.png"))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "test clips" in evaluated.stdout and "precision" in evaluated.stdout
    assert "motion-pair accuracy" in evaluated.stdout  # the demo's Grow/Shrink and Flatten/Stretch
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "{tmp}/missing.npz"], "no such dataset cache"),
        (["train", "{cache}", "--model", "resnet"], "invalid choice: 'resnet'"),
        (["evaluate", "{tmp}/nothing.keras", "{cache}"], "no such model file"),
        (["evaluate", "{bundle}", "{cache}"], "expects clips of 20 frames of 64x64"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, small_cache, args, message):
    _, cache = small_cache
    bundle = save_bundle(lrcn(4), tmp_path / "m20.keras", {"classes": ["a", "b", "c", "d"], "sequence_length": 20,
                                                          "image_size": [64, 64]})  # fmt: skip
    result = run_cli(*(a.format(tmp=tmp_path, cache=cache, bundle=bundle) for a in args))
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_saving_a_cache_is_unaffected_by_training_imports(tmp_path, small_cache):
    dataset, _ = small_cache
    save_dataset(dataset, tmp_path / "again.npz")
    assert (tmp_path / "again.npz").stat().st_size > dataset.frames.nbytes


def test_training_batches_have_one_static_size_and_change_clips_each_epoch():
    frames, labels = numbered_frames(), np.arange(10) % 3
    pipeline = clip_batches(frames, labels, np.arange(10), 4, training=True)
    assert pipeline.element_spec[0].shape == (4, 3, 4, 4, 3)
    epochs = [np.concatenate([x.numpy()[:, 0, 0, 0, 0] for x, _ in pipeline]) for _ in range(6)]
    assert all(len(seen) == 8 and len(set(seen)) == 8 for seen in epochs)
    assert set(np.concatenate(epochs)) == set(range(10))  # the two left out differ between epochs
    few = clip_batches(frames, labels, np.arange(3), 4, training=True)  # fewer clips than a batch
    assert [len(y) for _, y in few] == [3]


def test_error_analysis_figures_come_from_the_predictions():
    """Loss, per-class F1, mistakes (most confident first), the validation choice and the mistakes table."""
    from har.evaluate import best_model, mistakes_table
    from har.viz import plot_per_class_f1

    classes = ["Grow", "Shrink", "Spin"]
    truth = np.array([0, 1, 1, 2])
    a = Evaluation(classes, truth, np.array([[0.9, 0.1, 0], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1], [0.6, 0.1, 0.3]]))
    b = Evaluation(classes, truth, np.array([[0.4, 0.6, 0], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]))
    assert a.loss() == pytest.approx(-np.log([0.9, 0.7, 0.6, 0.3]).mean())
    np.testing.assert_allclose(a.per_class_f1(), [2 / 3, 1.0, 0.0])
    np.testing.assert_array_equal(b.mistakes(), [1, 0])  # 0.8 sure of Grow, then 0.6 sure of Shrink
    assert best_model({"a": a, "b": b}) == "a"  # right more often (75 % against 50 %)
    same = Evaluation(classes, truth, a.probabilities * 0.5 + np.eye(3)[truth] * 0.5)
    assert best_model({"a": a, "sure": same}) == "sure"  # equal accuracy, lower loss
    table = mistakes_table({"a": a, "b": b})
    assert "| a | 1 of 4 | – | 1 |" in table and "| b | 2 of 4 | 2 | – |" in table
    with pytest.raises(ValueError, match="same clips"):
        mistakes_table({"a": a, "c": Evaluation(classes, truth[::-1], a.probabilities)})
    figure = plot_per_class_f1({"a": a, "b": b}, title="measured on made-up predictions")
    heights = [bar.get_height() for bar in figure.axes[0].patches]
    np.testing.assert_allclose(heights, [*a.per_class_f1(), *b.per_class_f1()])


def test_predict_clips_feeds_batches_of_one_shape_and_keeps_every_clip():
    """A short last batch is padded (one traced shape per model, no retracing warnings) and the padding dropped."""
    from har.evaluate import predict_clips

    class Recorder:
        output_shape = (None, 2)

        def __init__(self):
            self.shapes = []

        def predict_on_batch(self, batch):
            self.shapes.append(batch.shape)
            return np.stack([batch[:, 0, 0, 0, 0], -batch[:, 0, 0, 0, 0]], axis=1).astype(float)

    frames = np.arange(7, dtype=np.uint8)[:, None, None, None, None] * np.ones((1, 2, 3, 3, 3), np.uint8)
    model = Recorder()
    out = predict_clips(model, frames, np.array([6, 0, 3, 5, 1]), batch_size=4)
    np.testing.assert_array_equal(out[:, 0], [6, 0, 3, 5, 1])
    assert {shape[0] for shape in model.shapes} == {4} and len(model.shapes) == 2
    assert predict_clips(model, frames, np.array([], dtype=int)).shape == (0, 2)


MIRRORED_RUN = """
import json
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from har.models import build_model
from har.train import clip_batches, fit_model, set_seed
set_seed(27)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = build_model("baseline", 2, 4, (16, 16))
before = [w.copy() for w in model.get_weights()]
rng = np.random.default_rng(0)
clips, labels = rng.integers(0, 256, (8, 4, 16, 16, 3), dtype=np.uint8), np.arange(8) % 2
history = fit_model(model, clip_batches(clips, labels, np.arange(6), 2, training=True),
                    clip_batches(clips, labels, np.arange(6, 8), 2), epochs=2, patience=2, learning_rate=1e-2,
                    progress=False)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "loss": history.history["loss"],
                  "changed": any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))}))
"""


def test_training_is_mirrored_over_two_devices():
    """MirroredStrategy, as on several GPUs, over two logical CPUs (set before TensorFlow starts: a new Python)."""
    run = subprocess.run([sys.executable, "-c", MIRRORED_RUN], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert len(result["loss"]) == 2 and np.isfinite(result["loss"]).all()
    assert result["changed"]
