"""Sliding-window prediction speed: the tutorial's one-``predict``-per-frame loop vs ``har.predict``.

Run: ``.venv/bin/python benchmarks/bench_predict.py [--model lrcn|convlstm|baseline|pretrained] [--frames 900]
[--rounds 5]``. Same model (untrained: speed does not depend on the weights), same 320x240 video. Both decode every
frame, resize it to the model's size (64x64; 224x224 for ``pretrained``, the feature cache's MobileNetV2 with its
head, as notebook 05 bundles it) and classify the last 20 frames at every frame; the tutorial's
loop calls ``model.predict`` on one window at a time (and, like the tutorial, writes the annotated
frames with OpenCV), ``har.predict.predict_on_video`` runs per-frame layers once per frame and
batches the windows, and writes H.264 (medians of alternating rounds with and without that output video,
and the ratio of the two: what writing the labelled video costs). The tutorial's loop runs the pretrained model's
backbone on 20 frames at every frame, so for it only the first ``--tutorial-frames`` frames are timed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import deque
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np

from har.bundle import bundle_metadata, save_bundle
from har.demo import _group_look, render_clip, write_video
from har.models import build_model
from har.predict import Predictor, predict_on_video

T = 20


def tutorial_loop(model, video: Path, out: Path, classes: list[str], size: int, max_frames: int) -> int:
    """The tutorial's predict_on_video: a deque of the last 20 frames, model.predict at every frame."""
    reader = cv2.VideoCapture(str(video))
    width, height = int(reader.get(cv2.CAP_PROP_FRAME_WIDTH)), int(reader.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), reader.get(cv2.CAP_PROP_FPS), (width, height))
    queue: deque = deque(maxlen=T)
    label, frames = "", 0
    while frames < max_frames:
        ok, frame = reader.read()
        if not ok:
            break
        frames += 1
        resized = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), (size, size))
        queue.append(resized)
        if len(queue) == T:
            probabilities = model.predict(np.expand_dims(np.array(queue), axis=0), verbose=0)[0]
            label = classes[int(np.argmax(probabilities))]
        cv2.putText(frame, label, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 255, 0), 2)
        writer.write(frame)
    reader.release()
    writer.release()
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lrcn", choices=("lrcn", "convlstm", "baseline", "pretrained"))
    parser.add_argument("--frames", type=int, default=900)
    parser.add_argument("--tutorial-frames", type=int, default=None, help="frames the tutorial's loop is timed on "
                        "(default: all of them; 60 for the pretrained model)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds with and without the output video")
    args = parser.parse_args()
    classes = ["Grow", "Shrink", "SpinClockwise", "SpinCounterClockwise"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        look = _group_look(0, 1, 320, 240, 2)
        video = write_video(tmp / "video.avi", render_clip("SpinClockwise", look, np.random.default_rng(0),
                                                           args.frames, 320, 240))  # fmt: skip
        size = 224 if args.model == "pretrained" else 64
        options = {"weights": None} if args.model == "pretrained" else {}
        model = build_model(args.model, len(classes), T, (size, size), **options)
        bundle = save_bundle(model, tmp / "m.keras", bundle_metadata(classes, T, (size, size)))
        predictor = Predictor.load(bundle)
        predict_on_video(predictor, video, tmp / "warm.mp4", max_frames=80, progress=False)  # compile once
        model.predict(np.zeros((1, T, size, size, 3), np.uint8), verbose=0)

        start = time.perf_counter()
        most = args.tutorial_frames or (60 if args.model == "pretrained" else args.frames)
        frames = tutorial_loop(model, video, tmp / "tutorial.mp4", classes, size, most)
        tutorial = frames / (time.perf_counter() - start)
        with_video, no_video = [], []
        for _ in range(args.rounds):  # alternating, so a slower moment of the machine hits both sides
            start = time.perf_counter()
            result = predict_on_video(predictor, video, tmp / "har.mp4", progress=False)
            with_video.append(result.frame_count / (time.perf_counter() - start))
            start = time.perf_counter()
            predict_on_video(predictor, video, None, progress=False)
            no_video.append(result.frame_count / (time.perf_counter() - start))
        written = cv2.VideoCapture(str(tmp / "har.mp4"))
        written_frames = int(written.get(cv2.CAP_PROP_FRAME_COUNT))
        codec = int(written.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode(errors="replace")
        written.release()
        ratios = [a / b for a, b in zip(with_video, no_video, strict=True)]
        ours, no_video = float(np.median(with_video)), float(np.median(no_video))

    path = "per-frame layers once per frame" if predictor.per_frame else "batched windows"
    print(f"{args.model} at {size}x{size}, {result.frame_count} frames of 320x240 (the tutorial's loop timed on "
          f"{frames}), windows of {T} at every frame, {os.cpu_count()} cores")  # fmt: skip
    rows = [
        ("tutorial loop (model.predict per frame, mp4v out)", tutorial),
        (f"har predict_on_video ({path}, H.264 out)", ours),
        ("har predict_on_video, no output video", no_video),
    ]
    width = max(len(name) for name, _ in rows) + 2
    print(f"{'method':<{width}}{'frames/s':>10}{'speed-up':>10}")
    for name, rate in rows:
        print(f"{name:<{width}}{rate:>10.1f}{rate / tutorial:>9.1f}x")
    print(
        f"writing the labelled video: {float(np.median(ratios)):.2f}x the no-output speed (median of {args.rounds} "
        f"alternating rounds; {min(ratios):.2f}-{max(ratios):.2f}); output {codec}, {written_frames} of "
        f"{result.frame_count} frames"
    )


if __name__ == "__main__":
    main()
