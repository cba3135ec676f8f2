"""Frame extraction speed and dataset-build memory, on real clips when there are, or UCF50-sized demo clips.

Run: ``.venv/bin/python benchmarks/bench_extraction.py [--data ../shared/ucf101_sample] [--rounds 5]``.
Prints clips/s for
  - reading every frame (``read()`` + resize), the simple way,
  - the tutorial's loop (seek with ``CAP_PROP_POS_FRAMES`` before each of the 20 reads),
  - ``har.video.extract_frames`` on one core (one decode pass, convert only the 20 kept frames),
  - ``har.dataset.build_dataset`` over every core (worker processes),
then **the ratio of ``build_dataset`` to the decoder's limit**: decoding every frame (OpenCV ``grab()``, no
conversion) on one core, divided by the number of cores, measured in the same run, alternating with the
builds; the median of ``--rounds`` rounds. Last, the build's peak traced memory next to the size of the
uint8 array it returns. Without ``--data`` (or when the folder is missing) it makes 320x240 demo clips of
~200 frames, which decode faster than real footage: compare rows with each other, not with UCF50.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
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


def grab_every_frame(path: Path) -> int:
    """The decoder's limit: decode every frame and convert none (``grab`` without ``retrieve``)."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    frames = 0
    while capture.grab():
        frames += 1
    capture.release()
    return frames


def time_serial(function, paths) -> float:
    start = time.perf_counter()
    for path in paths:
        function(path)
    return len(paths) / (time.perf_counter() - start)


def limit_ratio(root: Path, paths: list[Path], rounds: int) -> None:
    """build_dataset against decoding every frame on every core, alternating, median of the rounds."""
    cores = os.cpu_count() or 1
    ratios, limits, builds = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for path in paths:
            grab_every_frame(path)
        limit = (time.perf_counter() - start) / cores  # decoding spread perfectly over every core
        start = time.perf_counter()
        build_dataset(root, workers=cores, progress=False)
        build = time.perf_counter() - start
        limits.append(limit)
        builds.append(build)
        ratios.append(limit / build)
    print(f"\nbuild_dataset vs the decoder's limit ({cores} cores, {rounds} rounds, alternating):")
    print(f"  decode every frame, ideal on {cores} cores: median {statistics.median(limits):.2f} s")
    print(f"  build_dataset ({cores} worker processes): median {statistics.median(builds):.2f} s")
    print(
        f"  ratio (limit / build): median {statistics.median(ratios):.2f} (rounds: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + ")"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "ucf101_sample",
        help="a folder of real clips laid out like UCF50 (default ../shared/ucf101_sample)",
    )
    parser.add_argument("--clips-per-group", type=int, default=4, help="demo clips per group when there is no --data")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds for the limit ratio")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        if args.data.is_dir():
            root = args.data
            print(f"real clips from {root}")
        else:
            root = make_demo_dataset(
                Path(tmp) / "UCF50like",
                n_classes=4,
                groups=4,
                clips_per_group=args.clips_per_group,
                frames=(180, 220),
                size=(320, 240),
                progress=False,
            )
            print("demo clips (no real clips found)")
        paths = [c.path for c in discover_clips(root)[0]]
        frames_total = sum(grab_every_frame(p) for p in paths)
        print(f"{len(paths)} clips, {frames_total} frames; {os.cpu_count()} cores")
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
        limit_ratio(root, paths, args.rounds)

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
