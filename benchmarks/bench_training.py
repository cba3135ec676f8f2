"""Training throughput and memory: the uint8 ``tf.data`` pipeline vs fitting float32 NumPy arrays.

Run: ``.venv/bin/python benchmarks/bench_training.py [--model lrcn] [--rounds 8] [--clips 128]``.
Two copies of the same model (same starting weights) train on the same clips, one epoch at a time in
alternating order (AB, BA, AB, ...), so that a slow patch of a shared machine hits both alike. The first
epoch of each (graph tracing) is left out. It prints the median epoch of each, the median of the per-round
ratios, and what the training data itself takes in memory: float32 arrays vs the uint8 cache.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from har.models import build_model
from har.train import EpochClock, clip_batches

FLOAT32, UINT8 = "float32 NumPy arrays", "uint8 tf.data pipeline"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lrcn", choices=("convlstm", "lrcn", "baseline"))
    parser.add_argument("--rounds", type=int, default=8, help="timed epochs of each input")
    parser.add_argument("--clips", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.clips, 20, 64, 64, 3), dtype=np.uint8)
    labels = rng.integers(0, 4, args.clips)
    floats = frames.astype(np.float32)  # what the tutorial holds in memory
    pipeline = clip_batches(frames, labels, np.arange(args.clips), args.batch_size, training=True)
    quiet = {"epochs": 1, "verbose": 0, "callbacks": [EpochClock()]}
    fits = {
        FLOAT32: lambda model: model.fit(floats, labels, batch_size=args.batch_size, shuffle=True, **quiet),
        UINT8: lambda model: model.fit(pipeline, shuffle=False, **quiet),
    }
    models = {}
    for name in fits:
        keras.utils.set_random_seed(0)
        models[name] = build_model(args.model, 4)
        models[name].compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    seconds = {name: [] for name in fits}

    def epoch(name: str) -> float:
        return fits[name](models[name]).history["epoch_seconds"][0]

    for name in fits:
        epoch(name)  # traces the graph
    for round_ in range(args.rounds):
        for name in list(fits)[:: 1 if round_ % 2 == 0 else -1]:
            seconds[name].append(epoch(name))
    ratios = np.array(seconds[UINT8]) / np.array(seconds[FLOAT32])
    print(f"{args.model}, {args.clips} clips of 20x64x64, batch {args.batch_size}, {os.cpu_count()} cores, "
          f"{args.rounds} alternating epochs each")  # fmt: skip
    print(f"{'input':<24}{'epoch s':>9}{'clips/s':>9}{'data MiB':>10}")
    for name, data in ((FLOAT32, floats), (UINT8, frames)):
        median = float(np.median(seconds[name]))
        print(f"{name:<24}{median:>9.2f}{args.clips / median:>9.1f}{data.nbytes / 2**20:>10.1f}")
    print(f"uint8 / float32 epoch time, median of per-round ratios: {np.median(ratios):.3f} "
          f"(range {ratios.min():.2f}-{ratios.max():.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
