"""Training throughput and memory: the uint8 ``tf.data`` pipeline vs fitting float32 NumPy arrays.

Run: ``.venv/bin/python benchmarks/bench_training.py [--model lrcn] [--epochs 3] [--clips 128]``.
Both fit the same model (same weights at start) on the same clips, in alternating rounds; the first epoch
of each fit (graph tracing) is left out and the median epoch is reported. Memory is what the training data
itself takes: float32 arrays vs the uint8 cache.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from har.models import build_model
from har.train import make_pipeline


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)


def fit(model, data, labels=None, epochs=3, batch_size=4):
    timer = EpochTimer()
    if labels is None:
        model.fit(data, epochs=epochs, callbacks=[timer], verbose=0, shuffle=False)
    else:
        model.fit(data, labels, epochs=epochs, batch_size=batch_size, callbacks=[timer], verbose=0)
    return timer.times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lrcn", choices=("convlstm", "lrcn", "baseline"))
    parser.add_argument("--epochs", type=int, default=4, help="epochs per round (the first is not counted)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, alternating the two inputs")
    parser.add_argument("--clips", type=int, default=128)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.clips, 20, 64, 64, 3), dtype=np.uint8)
    labels = rng.integers(0, 4, args.clips)
    inputs = ("float32 NumPy arrays", "uint8 tf.data pipeline")
    epochs = {name: [] for name in inputs}
    memory = {}
    for _ in range(args.rounds):  # alternate, so that a slow patch of the machine hits both alike
        for name in inputs:
            keras.utils.set_random_seed(0)
            model = build_model(args.model, 4)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            if name.startswith("float32"):
                data = frames.astype(np.float32)  # what the tutorial holds in memory
                times = fit(model, data, labels, args.epochs)
                memory[name] = data.nbytes
                del data
            else:
                pipeline = make_pipeline(frames, labels, np.arange(args.clips), batch_size=4, shuffle=True)
                times = fit(model, pipeline, epochs=args.epochs)
                memory[name] = frames.nbytes
            epochs[name] += times[1:]  # the first epoch traces the graph
    print(f"{args.model}, {args.clips} clips of 20x64x64, batch 4, {os.cpu_count()} cores, "
          f"median of {len(epochs[inputs[0]])} epochs each")  # fmt: skip
    print(f"{'input':<24}{'epoch s':>9}{'clips/s':>9}{'data MiB':>10}")
    for name in inputs:
        median = float(np.median(epochs[name]))
        print(f"{name:<24}{median:>9.2f}{args.clips / median:>9.1f}{memory[name] / 2**20:>10.1f}")


if __name__ == "__main__":
    main()
