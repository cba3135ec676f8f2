"""The leak of a random split, measured: one model trained on random and on group splits of the same clips.

Run: ``.venv/bin/python benchmarks/bench_leak.py [--model lrcn] [--splits 3] [--epochs 20]
[--groups 16] [--clips-per-group 3] [--sequence-length 8] [--image-size 64] [--data FOLDER]``.

By default the clips are notebook 03's demo in UCF50's layout (``har.workspace.DEMO_UCF50``: 16 groups per
class, 3 clips each; ``python -m har demo-data --layout ucf50``): every
(class, group) has a look of its own, shared by its clips, so a random split hands the model test clips whose
near-copies it trained on, while a group split does not. ``--data`` measures a real folder instead (the
course's UCF101 sample). For each split seed (27, 28, ...) the model is trained with the notebooks' recipe
(``bench_real.run_one``) once on the random split and once on the group split, and tested on each split's
held-out clips. Prints every run, then the mean gap (random minus group accuracy) and its spread.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_real import ROOT, run_one

from har.workspace import DEMO_UCF50


def main() -> None:
    """Command line of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lrcn")
    parser.add_argument("--splits", type=int, default=3, help="split seeds (27, 28, ...)")
    parser.add_argument("--epochs", type=int, default=20, help="most epochs per run (early stopping ends sooner)")
    parser.add_argument("--groups", type=int, default=DEMO_UCF50["groups"], help="demo groups per class")
    parser.add_argument(
        "--clips-per-group", type=int, default=DEMO_UCF50["clips_per_group"], help="demo clips per (class, group)"
    )
    parser.add_argument("--classes", type=int, default=4, help="demo classes")
    parser.add_argument("--sequence-length", type=int, default=8, help="frames per clip")
    parser.add_argument("--image-size", type=int, default=64, help="frames are SIZE x SIZE")
    parser.add_argument("--data", type=Path, default=None, help="a real folder of class folders instead of the demo")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_leak")
    args = parser.parse_args()

    from har.dataset import build_dataset
    from har.demo import make_demo_dataset
    from har.splits import group_overlap, group_split, random_split

    args.out.mkdir(parents=True, exist_ok=True)
    if args.data is None:
        root = make_demo_dataset(
            args.out / "demo_ucf50", n_classes=args.classes, groups=args.groups,
            clips_per_group=args.clips_per_group, layout="ucf50", progress=False,
        )  # fmt: skip
    elif not args.data.is_dir():
        sys.exit(f"error: {args.data}: no such folder (clips laid out like UCF50)")
    else:
        root = args.data
    cache = args.out / f"{root.name}_{args.sequence_length}_{args.image_size}.npz"
    dataset = build_dataset(
        root, cache, sequence_length=args.sequence_length, image_size=args.image_size, progress=False
    ).dataset
    print(f"{root}: {dataset.summary()}; model {args.model}, {args.sequence_length} frames", flush=True)
    gaps = []
    for seed in range(27, 27 + args.splits):
        accuracy = {}
        for kind, split in (
            ("random", random_split(dataset.labels, 0.25, seed=seed)),
            ("group", group_split(dataset.labels, dataset.groups, 0.25, seed=seed)),
        ):
            run = run_one(dataset, args.model, split, epochs=args.epochs)
            accuracy[kind] = 100 * run["accuracy"]
            seen = group_overlap(dataset.groups, split, labels=dataset.labels)["leaked_fraction"]
            print(
                f"seed {seed} {kind:>6} split: {accuracy[kind]:5.1f} % of {run['test_clips']} test clips "
                f"({seen:.0%} with their (class, group) in training), {run['epochs_run']} epochs, "
                f"{run['seconds']:.0f} s",
                flush=True,
            )
        gaps.append(accuracy["random"] - accuracy["group"])
    spread = statistics.stdev(gaps) if len(gaps) > 1 else 0.0
    print(
        f"\nrandom minus group split: {statistics.mean(gaps):+.1f} points ± {spread:.1f} "
        f"(per seed: {', '.join(f'{g:+.0f}' for g in gaps)})"
    )


if __name__ == "__main__":
    main()
