"""Training throughput and memory: the uint8 ``tf.data`` pipeline vs fitting float32 NumPy arrays.

Run: ``.venv/bin/python benchmarks/bench_training.py [--model lrcn] [--epochs 3] [--clips 128]``.
Both fit the same model (same weights at start) on the same clips; the first epoch (graph tracing) is
reported apart. Memory is what the training data itself takes: float32 arrays vs the uint8 cache.
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
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--clips", type=int, default=128)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.clips, 20, 64, 64, 3), dtype=np.uint8)
    labels = rng.integers(0, 4, args.clips)
    rows = []
    for name in ("float32 NumPy arrays", "uint8 tf.data pipeline"):
        keras.utils.set_random_seed(0)
        model = build_model(args.model, 4)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        if name.startswith("float32"):
            data = frames.astype(np.float32)  # what the tutorial holds in memory (scaled; the model rescales again)
            times = fit(model, data, labels, args.epochs)
            memory = data.nbytes
            del data
        else:
            pipeline = make_pipeline(frames, labels, np.arange(args.clips), batch_size=4, shuffle=True)
            times = fit(model, pipeline, epochs=args.epochs)
            memory = frames.nbytes
        steady = np.mean(times[1:]) if len(times) > 1 else times[0]
        rows.append((name, times[0], steady, args.clips / steady, memory))
    print(f"{args.model}, {args.clips} clips of 20x64x64, batch 4, {os.cpu_count()} cores")
    print(f"{'input':<24}{'1st epoch s':>12}{'epoch s':>9}{'clips/s':>9}{'data MiB':>10}")
    for name, first, steady, rate, memory in rows:
        print(f"{name:<24}{first:>12.1f}{steady:>9.1f}{rate:>9.1f}{memory / 2**20:>10.1f}")


if __name__ == "__main__":
    main()
