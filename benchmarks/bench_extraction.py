"""Frame extraction speed and dataset-build memory, on UCF50-sized demo clips (320x240, ~200 frames).

Run: ``.venv/bin/python benchmarks/bench_extraction.py [--clips-per-group N]``. Prints clips/s for
  - reading every frame (``read()`` + resize), the simple way,
  - the tutorial's loop (seek with ``CAP_PROP_POS_FRAMES`` before each of the 20 reads),
  - ``har.video.extract_frames`` on one core (one decode pass, convert only the 20 kept frames),
  - ``har.dataset.build_dataset`` over every core,
and the build's peak traced memory next to the size of the uint8 array it returns.
Synthetic clips decode faster than real UCF50 footage; compare the rows with each other, not with UCF50.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

from har.dataset import build_dataset, discover_clips
from har.demo import make_demo_dataset
from har.video import extract_frames

T, SIZE = 20, 64


def read_every_frame(path: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (SIZE, SIZE)))
    capture.release()
    picks = np.linspace(0, len(frames) - 1, T).round().astype(int)
    return np.array([frames[i] for i in picks])


def tutorial_seek_loop(path: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    skip = max(count // T, 1)
    frames = []
    for i in range(T):
        capture.set(cv2.CAP_PROP_POS_FRAMES, i * skip)
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (SIZE, SIZE)).astype(np.float32) / 255)
    capture.release()
    return np.array(frames)


def time_serial(function, paths) -> float:
    start = time.perf_counter()
    for path in paths:
        function(path)
    return len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips-per-group", type=int, default=4)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_demo_dataset(
            Path(tmp) / "UCF50like", n_classes=4, groups=4, clips_per_group=args.clips_per_group,
            frames=(180, 220), size=(320, 240), progress=False,
        )  # fmt: skip
        paths = [c.path for c in discover_clips(root)[0]]
        frames_total = sum(int(cv2.VideoCapture(str(p)).get(cv2.CAP_PROP_FRAME_COUNT)) for p in paths)
        print(f"{len(paths)} clips, {frames_total} frames of 320x240 XviD; {os.cpu_count()} cores")
        rows = [
            ("read every frame (1 core)", time_serial(read_every_frame, paths)),
            ("tutorial seek loop (1 core)", time_serial(tutorial_seek_loop, paths)),
            ("har extract_frames (1 core)", time_serial(lambda p: extract_frames(p, T, (SIZE, SIZE)), paths)),
        ]
        start = time.perf_counter()
        build_dataset(root, workers=os.cpu_count(), progress=False)
        rows.append((f"har build_dataset ({os.cpu_count()} workers)", len(paths) / (time.perf_counter() - start)))
        base = rows[0][1]
        print(f"{'method':<34}{'clips/s':>9}{'frames/s':>10}{'vs read-all':>13}")
        for name, rate in rows:
            print(f"{name:<34}{rate:>9.1f}{rate * frames_total / len(paths):>10.0f}{rate / base:>12.2f}x")

        tracemalloc.start()
        dataset = build_dataset(root, workers=1, progress=False).dataset
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        size = dataset.frames.nbytes
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nbuild memory: output {size / 2**20:.1f} MiB uint8, peak traced {peak / 2**20:.1f} MiB "
              f"({peak / size:.2f}x output); process max RSS {rss:.0f} MiB")  # fmt: skip
        per_clip = size / len(dataset)
        print(f"all of UCF50 (6,676 clips) at {T}x{SIZE}x{SIZE}: {6676 * per_clip / 2**30:.2f} GiB uint8 "
              f"(float32 would be {4 * 6676 * per_clip / 2**30:.2f} GiB)")  # fmt: skip


if __name__ == "__main__":
    main()
