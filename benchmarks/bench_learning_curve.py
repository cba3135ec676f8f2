"""How much of the gap is data: test accuracy against training clips per class, on real clips.

Run: ``.venv/bin/python benchmarks/bench_learning_curve.py [--data ../shared/ucf101_sample]
[--models lrcn baseline] [--shares 0.25 0.5 0.75 1] [--seeds 27 28]``.

For every split seed, the group split of ``bench_real.py`` is made, and each model is trained (the same recipe,
``bench_real.run_one``) on a share of the training *groups* only (whole groups, drawn at random, every class
keeping its clips of those groups), and tested on the same unseen test groups. If accuracy still climbs at
the full share, more clips would help: UCF50 has about 133 clips per class where the sample has 30.
Runs are kept in ``OUT/results.json`` as they end (a rerun resumes), and the table printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_real import ROOT, SHARED, run_one


def fewer_groups(split, groups: np.ndarray, share: float, seed: int):
    """``split`` with its training side cut to ``share`` of its groups (drawn with ``seed``), the test side kept."""
    from har.splits import Split

    kept_groups = np.unique(groups[split.train])
    n = max(2, round(share * len(kept_groups)))
    chosen = np.random.default_rng(seed).permutation(kept_groups)[:n]
    return Split(split.train[np.isin(groups[split.train], chosen)], split.test, split.kind, split.seed)


def main() -> None:
    """Command line of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED, help="a folder of class folders of real clips")
    parser.add_argument("--models", nargs="+", default=["lrcn", "baseline"])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[27])
    parser.add_argument("--epochs", type=int, default=40, help="most epochs per run (early stopping ends sooner)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_learning_curve")
    parser.add_argument("--full-runs", type=Path, default=None,
                        help="bench_real.py's results.json: its group runs stand for the share 1.0")  # fmt: skip
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"error: {args.data}: no such folder (real clips laid out like UCF50)")

    from har.dataset import build_dataset
    from har.splits import group_split

    args.out.mkdir(parents=True, exist_ok=True)
    dataset = build_dataset(args.data, args.out / "cache.npz", progress=False).dataset
    store = args.out / "results.json"
    runs = json.loads(store.read_text()) if store.is_file() else []
    if args.full_runs is not None:  # the same recipe on all the training groups: bench_real's runs as they are
        full = [r for r in json.loads(args.full_runs.read_text()) if r["split"] == "group" and r["seed"] in args.seeds]
        for r in full:
            if r["model"] in args.models and not any((q["model"], q["seed"], q["share"]) == (r["model"], r["seed"], 1.0)
                                                     for q in runs):  # fmt: skip
                split = group_split(dataset.labels, dataset.groups, 0.25, seed=r["seed"])
                runs.append({**r, "share": 1.0, "clips_per_class": len(split.train) / len(dataset.classes)})
    for seed in args.seeds:
        split = group_split(dataset.labels, dataset.groups, 0.25, seed=seed)
        for share in args.shares:
            part = fewer_groups(split, dataset.groups, share, seed)
            per_class = len(part.train) / len(dataset.classes)
            for model_name in args.models:
                if any((r["model"], r["seed"], r["share"]) == (model_name, seed, share) for r in runs):
                    continue
                run = run_one(dataset, model_name, part, epochs=args.epochs)
                run.update(share=share, clips_per_class=per_class, epochs_cap=args.epochs)
                runs.append(run)
                store.write_text(json.dumps(runs, indent=1))
                result = f"{run['accuracy']:.1%} of {run['test_clips']} test clips, {run['seconds']:.0f} s"
                print(
                    f"{model_name:>9} seed {seed} share {share:.2f} ({per_class:.1f} clips/class): {result}", flush=True
                )
    print(f"\n{args.data.name}: {dataset.summary()}\n")
    print("| training clips per class (share of training groups) | " + " | ".join(args.models) + " |")
    print("|---" * (1 + len(args.models)) + "|")
    for share in sorted({r["share"] for r in runs}):
        cells = []
        for model_name in args.models:
            chosen = [100 * r["accuracy"] for r in runs if (r["model"], r["share"]) == (model_name, share)]
            spread = f" ± {statistics.stdev(chosen):.1f}" if len(chosen) > 1 else ""
            cells.append(f"{statistics.mean(chosen):.1f} %{spread} (n={len(chosen)})" if chosen else "not run")
        per_class = statistics.mean(r["clips_per_class"] for r in runs if r["share"] == share)
        print(f"| {per_class:.1f} ({share:.0%}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
