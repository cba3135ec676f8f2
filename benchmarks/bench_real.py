"""Accuracy on real clips: each model on several group splits of a real folder, as mean and spread.

Run: ``.venv/bin/python benchmarks/bench_real.py [--data ../shared/ucf101_sample] [--splits 3]
[--models lrcn baseline convlstm] [--epochs 40] [--random-split]``; every approach of notebook 06:
``--models single_frame baseline early_fusion slow_fusion lrcn convlstm two_stream`` (with ``two_stream`` the cache
is built with optical flow, ``har.video.FlowMaker``).

The folder is built into a dataset cache (20 frames of 64x64 per clip, as the notebooks do), then for every
split seed each model is trained with the notebooks' full-mode recipe (``har.train.fit_split``: batch 4,
Adam 1e-3, early stopping on the validation groups with patience 10, left-right mirroring)
and tested on the groups it never saw. With 45 test clips one clip is 2 points, so one split is not a
measurement: the table gives the mean and the standard deviation over the splits, and every split's figure.
``--random-split`` trains the LRCN on the tutorial's random split too (same seeds), to measure the leak.

Every run is kept in ``OUT/results.json`` as it ends (a rerun skips the runs already there, so an
interrupted benchmark resumes); per-clip test predictions go beside it, for the notebooks' examples.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "ucf101_sample"


def run_one(dataset, model_name: str, split, *, epochs: int, out: Path | None = None) -> dict:
    """Train one model on one split; its test accuracy, epochs and seconds, and per-clip predictions.

    With ``out``, the trained model is kept there as a bundle (for ``bench_windows.py --bundle``)."""
    from har.backend import tf
    from har.evaluate import clips_per_second, evaluate_model
    from har.models import build_model
    from har.train import fit_split, set_seed, training_strategy

    tf.get_logger().setLevel("ERROR")  # a new model per run: tf.function's retracing notices say nothing here

    set_seed(split.seed)
    kwargs = {"weights": None} if model_name == "pretrained" else {}
    with training_strategy().scope():
        model = build_model(model_name, len(dataset.classes), dataset.sequence_length, dataset.image_size, **kwargs)
    start = time.perf_counter()
    result = fit_split(
        model,
        dataset,
        split,
        epochs=epochs,
        batch_size=4,
        patience=10,
        augment=True,
        seed=split.seed,
        verbose=0,
        out=out,
    )
    seconds = time.perf_counter() - start
    test = evaluate_model(result.model, dataset, split.test)
    history = result.history
    return {
        "model": model_name,
        "parameters": int(result.model.count_params()),
        "epoch_seconds": round(statistics.median(history["epoch_seconds"]), 2),
        "clips_per_second": round(
            clips_per_second(result.model, dataset.inputs(result.model.input_shape[-1]), split.test), 1
        ),
        "split": split.kind,
        "seed": split.seed,
        "accuracy": test.accuracy,
        "test_clips": len(split.test),
        "epochs_run": len(history["loss"]),
        "best_epoch": int(min(range(len(history["val_loss"])), key=history["val_loss"].__getitem__)) + 1,
        "train_accuracy": float(max(history["accuracy"])),
        "seconds": round(seconds, 1),
        "test_paths": [dataset.paths[i] for i in split.test],
        "test_predictions": test.y_pred.tolist(),
        "test_labels": test.y_true.tolist(),
        "test_probabilities": test.probabilities.round(5).tolist(),
    }


def _accuracy_cells(runs: list[dict]) -> tuple[str, str]:
    """Two table cells of runs' test accuracy: "**mean % ± sd** (n=N)", and every run's, in order."""
    accuracies = [100 * r["accuracy"] for r in runs]
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    mean = f"**{statistics.mean(accuracies):.1f} % ± {spread:.1f}** (n={len(runs)})"
    return mean, ", ".join(f"{a:.0f}" for a in accuracies)


def summarise(runs: list[dict]) -> str:
    """A Markdown table: mean ± standard deviation of test accuracy per model and split kind, and each split's."""
    lines = [
        "| model | split | test accuracy, mean ± sd | per split | epochs run (cap) | best train accuracy |",
        "|---" * 6 + "|",
    ]
    keys = sorted({(r["model"], r["split"], r["epochs_cap"]) for r in runs}, key=lambda k: (k[1] != "group", k[0]))
    for model, kind, cap in keys:
        chosen = sorted((r for r in runs if (r["model"], r["split"], r["epochs_cap"]) == (model, kind, cap)),
                        key=lambda r: r["seed"])  # fmt: skip
        accuracy, per_split = _accuracy_cells(chosen)
        epochs = ", ".join(str(r["epochs_run"]) for r in chosen) + f" ({cap})"
        trained = statistics.mean(100 * r["train_accuracy"] for r in chosen)
        lines.append(f"| {model} | {kind} | {accuracy} | {per_split} | {epochs} | {trained:.0f} % |")
    return "\n".join(lines)


def summarise_approaches(runs: list[dict]) -> str:
    """The approaches table of notebook 06 on these runs (group split): size, costs and accuracy, mean ± sd.

    One row per model and epoch cap, in ``APPROACHES`` order. Seconds per epoch and clips/s are medians over the
    splits; runs from before they were recorded are left out.
    """
    from har.models import APPROACHES

    lines = [
        "| approach | model | epochs (cap) | parameters | s / training epoch | clips/s predicted "
        "| test accuracy, mean ± sd | per split |",
        "|---" * 8 + "|",
    ]
    for model in APPROACHES:
        measured = [r for r in runs if r["model"] == model and r["split"] == "group" and "parameters" in r]
        for cap in sorted({r["epochs_cap"] for r in measured}):
            chosen = sorted((r for r in measured if r["epochs_cap"] == cap), key=lambda r: r["seed"])
            accuracy, per_split = _accuracy_cells(chosen)
            epochs = ", ".join(str(r["epochs_run"]) for r in chosen)
            lines.append(
                f"| {APPROACHES[model]} | {model} | {epochs} ({cap}) | {chosen[0]['parameters']:,} "
                f"| {statistics.median(r['epoch_seconds'] for r in chosen):.1f} "
                f"| {statistics.median(r['clips_per_second'] for r in chosen):.0f} | {accuracy} | {per_split} |"
            )
    return "\n".join(lines)


def main() -> None:
    """Command line of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED, help="a folder of class folders of real clips")
    parser.add_argument("--splits", type=int, default=3, help="group splits (seeds 27, 28, ...)")
    parser.add_argument("--models", nargs="+", default=["lrcn", "baseline", "convlstm"])
    parser.add_argument("--epochs", type=int, default=40, help="most epochs per run (early stopping ends sooner)")
    parser.add_argument("--random-split", action="store_true", help="also train the LRCN on random splits")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_real")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"error: {args.data}: no such folder (real clips laid out like UCF50)")

    from har.dataset import build_dataset
    from har.splits import group_split, random_split

    args.out.mkdir(parents=True, exist_ok=True)
    flow = "two_stream" in args.models  # the flow is computed in the same pass, and serves the other models too
    report = build_dataset(args.data, args.out / "cache.npz", progress=False, flow=flow)
    dataset = report.dataset
    print(f"{args.data}: {dataset.summary()}; skipped {len(report.skipped)}", flush=True)
    store = args.out / "results.json"
    runs = json.loads(store.read_text()) if store.is_file() else []
    plan = [("group", m, s) for s in range(27, 27 + args.splits) for m in args.models]
    if args.random_split:
        plan += [("random", "lrcn", s) for s in range(27, 27 + args.splits)]
    for kind, model_name, seed in plan:
        if any((r["split"], r["model"], r["seed"], r["epochs_cap"]) == (kind, model_name, seed, args.epochs)
               for r in runs):  # fmt: skip
            continue
        if kind == "group":
            split = group_split(dataset.labels, dataset.groups, 0.25, seed=seed)
        else:
            split = random_split(dataset.labels, 0.25, seed=seed)
        bundle = args.out / f"{model_name}-{kind}-{seed}.keras"
        run = run_one(dataset, model_name, split, epochs=args.epochs, out=bundle)
        run["epochs_cap"] = args.epochs
        runs.append(run)
        store.write_text(json.dumps(runs, indent=1))
        print(
            f"{model_name:>10} {kind} split seed {seed}: {run['accuracy']:.1%} of {run['test_clips']} test clips, "
            f"{run['epochs_run']} epochs (best {run['best_epoch']}), {run['seconds']:.0f} s",
            flush=True,
        )
    print(f"\n{args.data.name}: {dataset.summary()}; group split: 25 % of the groups tested\n")
    print(summarise(runs))
    print("\nThe approaches side by side (notebook 06's table):\n")
    print(summarise_approaches(runs))


if __name__ == "__main__":
    main()
