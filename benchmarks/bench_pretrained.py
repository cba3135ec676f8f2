"""Pretrained backbones on real clips: ImageNet features, two heads, a linear probe, several group splits.

Run: ``HAR_WEIGHTS=../shared/weights .venv/bin/python benchmarks/bench_pretrained.py [--data ../shared/ucf101_sample]
[--splits 3] [--backbones MobileNetV2 MobileNetV3Small] [--heads average lstm] [--no-pose] [--fine-tune]
[--curve 0.1 0.25 0.5 1]`` (``make bench`` passes
``HAR_WEIGHTS`` when that folder is there; without it the backbones take Keras's ``"imagenet"`` download).

Each backbone's feature cache (20 frames a clip at 224 x 224, ``har.features.extract_features``) is made once, with
its clips/s; then on every split seed each head is trained as ``python -m har train --model pretrained`` trains it
(``har.train.fit_split``: batch 4, Adam 1e-3, at most 50 epochs, early stopping on the validation groups with
patience 10) and tested on the groups it never saw. Beside them, scikit-learn's logistic regression on the
frame-averaged features (a linear probe: what the features alone are worth). With ``--fine-tune`` (MobileNetV2
only), the average head, once trained, goes on top of the backbone's last block (block 16 and its last 1 x 1
convolution, 879,040 weights besides batch normalisation) and both train at Adam 1e-5 for at most 15 epochs
(patience 5), the backbone called with ``training=False`` so its batch normalisation keeps ImageNet's statistics;
the frames' activations below that block are cached once, so each epoch runs only the part that trains. With
``--curve``, the average head's learning curve: on every split it trains on a share of the training groups
(``bench_learning_curve.fewer_groups``) and is tested on all the split's test clips. Then
MoveNet's keypoints (``har.pose.extract_keypoints``) with the pose head (an LSTM), the same way. Prints every
split's figure, the mean and the standard deviation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "ucf101_sample"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--backbones", nargs="*", default=["MobileNetV2", "MobileNetV3Small"])
    parser.add_argument("--heads", nargs="+", default=["average", "lstm"])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--pose", action=argparse.BooleanOptionalAction, default=True,
                        help="also MoveNet's keypoints with the pose head (har.pose; default on)")  # fmt: skip
    parser.add_argument("--fine-tune", action="store_true",
                        help="also fine-tune MobileNetV2's last block after the average head")  # fmt: skip
    parser.add_argument("--curve", type=float, nargs="*", default=None, metavar="SHARE",
                        help="also the average head's learning curve at these shares of training groups")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_pretrained")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no real clips at {args.data}: pass --data FOLDER", file=sys.stderr)
        return 2
    from sklearn.linear_model import LogisticRegression

    from har.backend import tf
    from har.evaluate import evaluate_model
    from har.features import extract_features, feature_head
    from har.splits import group_split
    from har.train import fit_split, set_seed
    from har.weights import course_weights, describe

    tf.get_logger().setLevel("ERROR")  # a new head per run: tf.function's retracing notices say nothing here
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for backbone in args.backbones:
        weights = course_weights(backbone, quick=False)
        start = time.perf_counter()
        report = extract_features(
            args.data, args.out / f"{backbone}.features.npz", backbone=backbone, weights=weights, progress=False
        )
        features = report.dataset
        seconds = time.perf_counter() - start
        speed = "reused" if report.reused else f"{len(features) / seconds:.1f} clips/s"
        print(f"{backbone} ({describe(weights)}): {len(features)} clips, features {speed}", flush=True)
        scores: dict[str, list[float]] = {"linear probe": []}
        tune = (
            fine_tuning(args.data, backbone, weights, features)
            if args.fine_tune and backbone == "MobileNetV2"
            else None
        )
        for seed in range(27, 27 + args.splits):
            split = group_split(features.labels, features.groups, seed=seed, classes=features.classes)
            averaged = features.features.astype("float32").mean(axis=1)
            probe = LogisticRegression(max_iter=2000).fit(averaged[split.train], features.labels[split.train])
            scores["linear probe"].append(probe.score(averaged[split.test], features.labels[split.test]))
            for head_name in args.heads:
                set_seed(seed)
                head = feature_head(len(features.classes), features.sequence_length, features.features.shape[-1],
                                    head_name)  # fmt: skip
                result = fit_split(head, features, split, epochs=args.epochs, batch_size=4, patience=10, seed=seed,
                                   verbose=0)  # fmt: skip
                accuracy = evaluate_model(head, features, split.test).accuracy
                scores.setdefault(head_name, []).append(accuracy)
                epochs = len(result.history["loss"])
                print(f"  seed {seed} {head_name}: {accuracy:.1%} ({epochs} epochs)", flush=True)
                if tune is not None and head_name == "average":
                    accuracy, epochs = tune(head, split, seed)
                    scores.setdefault("average, fine-tuned", []).append(accuracy)
                    print(f"  seed {seed} average, fine-tuned: {accuracy:.1%} ({epochs} epochs)", flush=True)
        if args.curve:
            rows += learning_curve(features, args.curve, args.splits, args.epochs, backbone)
        for name, values in scores.items():
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            each = ", ".join(f"{100 * v:.1f}" for v in values)
            mean = 100 * statistics.mean(values)
            rows.append(f"| {backbone} | {name} | {mean:.1f} % ± {100 * spread:.1f} | {each} |")
    if args.pose:
        from har.pose import extract_keypoints, keypoint_head

        start = time.perf_counter()
        report = extract_keypoints(args.data, args.out / "keypoints.npz", progress=False)
        keypoints, seconds = report.dataset, time.perf_counter() - start
        speed = "reused" if report.reused else f"{len(keypoints) / seconds:.1f} clips/s"
        print(f"MoveNet: {keypoints.summary()}; keypoints {speed}", flush=True)
        values = []
        for seed in range(27, 27 + args.splits):
            split = group_split(keypoints.labels, keypoints.groups, seed=seed, classes=keypoints.classes)
            set_seed(seed)
            head = keypoint_head(len(keypoints.classes), keypoints.sequence_length)
            result = fit_split(head, keypoints, split, epochs=args.epochs, batch_size=4, patience=10, seed=seed,
                               verbose=0)  # fmt: skip
            values.append(evaluate_model(head, keypoints, split.test).accuracy)
            print(f"  seed {seed} pose: {values[-1]:.1%} ({len(result.history['loss'])} epochs)", flush=True)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        each = ", ".join(f"{100 * v:.1f}" for v in values)
        rows.append(f"| MoveNet | pose keypoints + LSTM | {100 * statistics.mean(values):.1f} % ± {100 * spread:.1f} "
                    f"| {each} |")  # fmt: skip
    print("\n| backbone | head | test accuracy (mean ± sd) | each split |\n| --- | --- | --- | --- |")
    print("\n".join(rows))
    return 0


def learning_curve(features, shares: list[float], splits: int, epochs: int, backbone: str) -> list[str]:
    """The average head trained on ``shares`` of each split's training groups; table rows of clips a class and
    test accuracy (mean ± sd over the splits)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_learning_curve import fewer_groups

    from har.evaluate import evaluate_model
    from har.features import feature_head
    from har.splits import group_split
    from har.train import fit_split, set_seed

    rows = []
    for share in shares:
        accuracies, per_class = [], []
        for seed in range(27, 27 + splits):
            split = group_split(features.labels, features.groups, seed=seed, classes=features.classes)
            part = fewer_groups(split, features.groups, share, seed)
            set_seed(seed)
            head = feature_head(len(features.classes), features.sequence_length, features.features.shape[-1])
            fit_split(head, features, part, epochs=epochs, batch_size=4, patience=10, seed=seed, verbose=0)
            accuracies.append(evaluate_model(head, features, part.test).accuracy)
            per_class.append(len(part.train) / len(features.classes))
            print(f"  curve: share {share:.2f}, {per_class[-1]:.1f} clips a class, seed {seed}: "
                  f"{accuracies[-1]:.1%}", flush=True)  # fmt: skip
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        each = ", ".join(f"{100 * v:.1f}" for v in accuracies)
        rows.append(f"| {backbone} | average, {statistics.mean(per_class):.1f} training clips a class ({share:.0%}) "
                    f"| {100 * statistics.mean(accuracies):.1f} % ± {100 * spread:.1f} | {each} |")  # fmt: skip
    return rows


def fine_tuning(data: Path, backbone: str, weights, features):
    """The fine-tuning run's parts: MobileNetV2 cut below its last block, the clips' activations there cached, and
    a function (head, split, seed) -> (test accuracy, epochs) that fine-tunes the block with the trained head."""
    from har.backend import keras
    from har.evaluate import evaluate_model
    from har.features import cache_per_frame, copy_head_weights, split_for_cache
    from har.models import backbone_cnn
    from har.train import fit_split, set_seed

    cnn, to_float = backbone_cnn(backbone, (224, 224), weights)
    cut = cnn.get_layer("block_15_add").output  # 7 x 7 x 160: what the last block reads
    frames = keras.Input((224, 224, 3), dtype="uint8")
    lower = keras.Model(frames, keras.Model(cnn.input, cut)(to_float(frames)))
    start = time.perf_counter()
    settings = {"sequence_length": features.sequence_length, "image_size": [224, 224]}

    def load():
        return lower, lambda f: lower.predict_on_batch(f).reshape(len(f), -1), {}

    below = cache_per_frame(data, None, settings, load, classes=features.classes, progress=False).dataset
    below.features = below.features.reshape(len(below), below.sequence_length, *cut.shape[1:])
    print(f"  activations below block 16 cached: {below.features.nbytes / 2**20:.0f} MiB, "
          f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    top = keras.Input(cut.shape[1:])
    x, names = top, [layer.name for layer in cnn.layers]
    for layer in cnn.layers[names.index("block_15_add") + 1 :]:
        x = layer(x)
    block = keras.Model(top, x, name="last_block")
    start_weights = block.get_weights()

    def tune(head, split, seed):
        set_seed(seed)
        block.set_weights(start_weights)
        for layer in block.layers:
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
        clips_in = keras.Input((below.sequence_length, *cut.shape[1:]))
        per_frame = keras.layers.TimeDistributed(block)(clips_in, training=False)
        model = keras.Model(clips_in, _head_like(head, per_frame))
        copy_head_weights(head, model.layers[2:])
        ours = split_for_cache(split, features, below)
        result = fit_split(model, below, ours, epochs=15, batch_size=4, patience=5, learning_rate=1e-5, seed=seed,
                           augment=False, verbose=0)  # fmt: skip
        return evaluate_model(model, below, ours.test).accuracy, len(result.history["loss"])

    return tune


def _head_like(head, x):
    """The average head's layers (pooling, dropout, softmax) anew on ``x``: weights copied in afterwards."""
    from har.models import pretrained_head

    return pretrained_head(head.output_shape[-1], x, "average")


if __name__ == "__main__":
    sys.exit(main())
