"""Sliding windows against one label per whole clip, on a video made by joining unseen clips.

Run: ``.venv/bin/python benchmarks/bench_windows.py [--data ../shared/ucf101_sample] [--model lrcn]
[--bundle BUNDLE] [--test-data FOLDER] [--steps 1 2 4]``.

A model is trained on the training side of a group split of ``--data`` (the command line's recipe, through
``har.train.fit_split``), or ``--bundle`` is used as it is. The unseen clips (the split's test side, or every
clip of ``--test-data``, such as a demo made with another seed) are joined, in a shuffled order, into one
video. Both sides are measured in this one run:

* **whole clip**: one label per clip from its ``T`` frames spread over the whole clip (the training sampler,
  what ``har.predict.predict_single_action`` does), right for what share of the clips;
* **window**: ``har.predict.predict_on_video`` over the joined video, a window ending at every frame; for each
  clip the share of the windows ending in the last 30 % of its frames that name its class, averaged over
  clips. A window that ends there has mostly seen this clip: the label a viewer would expect by then.

The ratio of the two is the figure: 1.0 means the sliding window is as good as knowing where each clip starts
and ends. Each frame step in ``--steps`` is tried beside the bundle's own (``frame_step``, what prediction uses),
each with windows that stop at the shot cuts ``har.window.ShotCuts`` finds (the default) and without.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "ucf101_sample"


def main() -> None:
    """Command line of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED, help="folder of class folders to train on")
    parser.add_argument("--test-data", type=Path, default=None, help="join every clip of this folder instead")
    parser.add_argument("--model", default="lrcn", help="model to train (har.models; default lrcn)")
    parser.add_argument("--bundle", type=Path, default=None, help="use this trained bundle instead of training")
    parser.add_argument("--epochs", type=int, default=50, help="most epochs when training (default 50)")
    parser.add_argument("--seed", type=int, default=27, help="group split and training seed (default 27)")
    parser.add_argument("--steps", type=int, nargs="*", default=[1], help="frame steps to try beside the bundle's")
    parser.add_argument("--max-clips", type=int, default=60, help="most clips joined (default 60)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_windows")
    args = parser.parse_args()
    for folder in (args.data, args.test_data):
        if folder is not None and not folder.is_dir():
            sys.exit(f"error: {folder}: no such folder (clips laid out like UCF50)")

    from har.dataset import build_dataset

    args.out.mkdir(parents=True, exist_ok=True)
    dataset = build_dataset(args.data, args.out / f"{args.data.name}.npz", progress=False).dataset
    from har.backend import tf
    from har.evaluate import evaluate_model
    from har.models import build_model
    from har.predict import Predictor, join_clips, predict_on_video
    from har.splits import group_split
    from har.train import fit_split, set_seed, training_strategy

    tf.get_logger().setLevel("ERROR")
    split = group_split(dataset.labels, dataset.groups, 0.25, seed=args.seed)
    bundle = args.bundle
    if bundle is None:
        bundle = args.out / f"{args.data.name}-{args.model}-{args.seed}.keras"
        if not bundle.is_file():
            set_seed(args.seed)
            with training_strategy().scope():
                model = build_model(args.model, len(dataset.classes), dataset.sequence_length, dataset.image_size)
            start = time.perf_counter()
            fit_split(model, dataset, split, epochs=args.epochs, seed=args.seed, out=bundle, verbose=0)
            print(f"trained {args.model} in {time.perf_counter() - start:.0f} s -> {bundle}", flush=True)
    predictor = Predictor.load(bundle)
    if args.test_data is not None:
        tested = build_dataset(args.test_data, args.out / f"{args.test_data.name}.npz", progress=False).dataset
        root, indices = args.test_data, np.arange(len(tested))
    else:
        tested, root, indices = dataset, args.data, split.test
    order = np.random.default_rng(args.seed).permutation(indices)[: args.max_clips]
    truth = [tested.classes[tested.labels[i]] for i in order]

    whole = evaluate_model(predictor.model, tested, order)
    whole_right = [tested.classes[p] == t for p, t in zip(whole.y_pred, truth, strict=True)]
    whole_accuracy = float(np.mean(whole_right))

    with tempfile.TemporaryDirectory() as tmp:
        joined = join_clips([root / tested.paths[i] for i in order], truth, Path(tmp) / "joined.mp4")
        spans = joined.spans
        frames = spans[-1][1]
        own = predictor.frame_step
        rows = []
        found = None
        for step in dict.fromkeys([own, *args.steps]):
            predictor.frame_step = step
            for cuts in (True, False):
                start = time.perf_counter()
                windows = predict_on_video(predictor, joined.path, cuts=cuts, progress=False)
                seconds = time.perf_counter() - start
                accuracy = joined.late_window_accuracy(windows)
                rows.append({"frame_step": step, "window_frames": predictor.window_frames, "bundle_step": step == own,
                             "cuts": cuts, "window_accuracy": accuracy, "whole_accuracy": whole_accuracy,
                             "ratio": accuracy / whole_accuracy if whole_accuracy else float("nan"),
                             "frames_per_second": frames / seconds})  # fmt: skip
                if cuts:
                    found = set(windows.cuts)
    joins = {start for start, _ in spans[1:]}
    lengths = [end - start for start, end in spans]
    print(
        f"\n{len(order)} unseen clips of {root.name} joined ({frames} frames; clips of {min(lengths)}-{max(lengths)}, "
        f"median {int(np.median(lengths))}), model {bundle.name} (T={predictor.sequence_length}, "
        f"trained at a median step of {predictor.metadata.get('training_frame_step')} frames)\n"
    )
    print(f"shot cuts found: {len(found & joins)} of the {len(joins)} joins, {len(found - joins)} inside clips\n")
    print("| frame step | window spans | stops at cuts | late windows right | whole clip right | ratio |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        mark = " (bundle's)" if row["bundle_step"] else ""
        print(
            f"| {row['frame_step']}{mark} | {row['window_frames']} frames | {'yes' if row['cuts'] else 'no'} | "
            f"{row['window_accuracy']:.1%} | {row['whole_accuracy']:.1%} | **{row['ratio']:.2f}x** |"
        )
    store = args.out / f"{root.name}-{bundle.stem}.json"
    summary = {"bundle": str(bundle), "clips": len(order), "joins": len(joins), "cuts_at_joins": len(found & joins),
               "cuts_inside_clips": len(found - joins), "rows": rows}  # fmt: skip
    store.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
