"""Training recipes for the ConvLSTM on the default demo, each tested on a demo made with another seed.

Run: ``.venv/bin/python benchmarks/bench_demo_recipes.py [--model convlstm] [--recipes defaults plateau3 ...]
[--seeds 27 28 29] [--groups 32]``.

The command line's recipe (``python -m har train`` with every default: Adam 1e-3, batch 4, patience 10, at most
50 epochs, mirroring) and changes of it, each trained through ``har.train.fit_split`` on a group split of the
default demo (``demo-data``: seed 0, ``--groups`` groups) with each training seed, and tested on all clips of the
seed-1 demo, whose looks no model has seen. About 4 minutes a run for the ConvLSTM on the 2-core CPU.

* ``defaults``: the command line's recipe;
* ``plateau3``: the same, halving the learning rate after 3 epochs without ``val_loss`` progress;
* ``plateau5``: halving after 5, with early stopping's patience at 15;
* ``lr5e-4``: a learning rate of 5e-4.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ("defaults", "plateau3", "plateau5", "lr5e-4")


def main() -> None:
    """Command line of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="convlstm")
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=list(RECIPES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[27, 28, 29], help="training and split seeds")
    parser.add_argument("--groups", type=int, default=32, help="groups of the training demo (default 32)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_demo_recipes")
    args = parser.parse_args()

    from har.dataset import build_dataset
    from har.demo import make_demo_dataset

    caches = {}
    for seed, groups in ((0, args.groups), (1, 32)):
        folder = make_demo_dataset(args.out / f"demo_seed{seed}_g{groups}", groups=groups, seed=seed, progress=False)
        caches[seed] = build_dataset(folder, folder.with_suffix(".npz"), progress=False).dataset

    from har.backend import keras
    from har.evaluate import evaluate_model
    from har.models import build_model
    from har.splits import make_split
    from har.train import fit_split, set_seed, training_strategy

    train, other = caches[0], caches[1]
    print(f"| recipe | seed | own test clips | the seed-1 demo ({len(other)} clips) | epochs | seconds |")
    print("|---|---|---|---|---|---|")
    for recipe in args.recipes:
        for seed in args.seeds:
            split = make_split("group", train.labels, train.groups, 0.25, seed)
            set_seed(seed)
            with training_strategy().scope():
                model = build_model(args.model, len(train.classes), train.sequence_length, train.image_size)
            callbacks, patience, rate = [], 10, 1e-3
            if recipe in ("plateau3", "plateau5"):
                wait = 3 if recipe == "plateau3" else 5
                callbacks.append(keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.5, patience=wait, min_lr=1e-5))
                patience = 10 if recipe == "plateau3" else 15
            if recipe == "lr5e-4":
                rate = 5e-4
            start = time.perf_counter()
            result = fit_split(model, train, split, epochs=50, batch_size=4, patience=patience, learning_rate=rate,
                               seed=seed, augment=True, callbacks=callbacks, verbose=0)  # fmt: skip
            own = evaluate_model(result.model, train, split.test).accuracy
            seen = evaluate_model(result.model, other, np.arange(len(other))).accuracy
            epochs = len(result.history["loss"])
            print(f"| {recipe} | {seed} | {own:.1%} | **{seen:.1%}** | {epochs} | {time.perf_counter() - start:.0f} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
