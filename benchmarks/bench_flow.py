"""How to compute and fuse optical flow for the two-stream model: measured on real clips, over several group splits.

Run: ``.venv/bin/python benchmarks/bench_flow.py [--data ../shared/ucf101_sample] [--splits 3] [--epochs 40]``.

Part 1, how flow is computed: the flow stream alone (``two_stream`` without its frame stream) is trained on flow made
four ways, all between each sampled frame and the video frame before it, less the frame's mean, at 64 x 64 in model
pixels: OpenCV's DIS (fast preset) on frames shrunk to 128 x 128 first, DIS fast at the video's own size (what
``har.video.FlowMaker`` does), DIS medium at the video's own size, and Farneback at the video's own size. Each row
gives the test accuracy (mean ± sd over the group splits) and the milliseconds one frame pair costs on this machine.

Part 2, how the streams are fused (on ``FlowMaker``'s flow): ``two_stream`` (the two streams' features concatenated
into one softmax), the two streams as whole classifiers with their scores averaged, and one CNN over the middle
frame's RGB and the stacked flow together (early fusion of the two), beside the frame stream alone (``single_frame``).

Every run uses the notebooks' recipe (``har.train.fit_split``: batch 4, Adam 1e-3, early stopping with patience 10,
left-right mirroring). Runs are kept in ``OUT/results.json`` as they end; a rerun skips them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "ucf101_sample"
#: name: (size flow is computed at: "own" or (width, height), method)
FLOW_WAYS = {
    "DIS fast, 128 x 128": ((128, 128), "dis_fast"),
    "DIS fast, own size (har)": ("own", "dis_fast"),
    "DIS medium, own size": ("own", "dis_medium"),
    "Farneback, own size": ("own", "farneback"),
}


def flow_way():
    """``har.video.FlowMaker`` with another method and, optionally, a fixed (width, height) for its grey frames."""
    import cv2

    from har.video import FlowMaker

    class FlowWay(FlowMaker):
        def __init__(self, image_size, calc, grey_size):
            super().__init__(image_size)
            self.calc, self.grey_size = calc, grey_size

        def grey(self, frame_bgr):
            if self.grey_size is None:
                return super().grey(frame_bgr)
            return cv2.cvtColor(cv2.resize(frame_bgr, self.grey_size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)

    return FlowWay


def clip_flows(job: tuple[str, int]) -> tuple[dict, dict]:
    """Every way's flow ``[T, 64, 64, 2]`` (``FlowMaker`` with that way's method and size) for one clip, and its ms
    per frame pair."""
    import cv2
    import numpy as np

    from har.video import flow_pairs, iter_frames, sample_frame_indices

    FlowWay = flow_way()
    path, length = job
    frames = list(iter_frames(path))
    pairs = flow_pairs(sample_frame_indices(len(frames), length))
    methods = {
        "dis_fast": cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc,
        "dis_medium": cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc,
        "farneback": lambda a, b, _: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0),
    }
    flows, costs = {}, {}
    for name, (size, method) in FLOW_WAYS.items():
        maker = FlowWay((64, 64), methods[method], None if size == "own" else size)
        start = time.perf_counter()
        out = []
        for a, b in pairs.tolist():
            b = min(b, len(frames) - 1)
            out.append(maker.flow(maker.grey(frames[a]), maker.grey(frames[b])))
        costs[name] = 1000 * (time.perf_counter() - start) / len(pairs)
        flows[name] = np.stack(out)
    return flows, costs


def flow_only(num_classes: int, sequence_length: int = 20, image_size=(64, 64)):
    """``two_stream``'s flow stream alone (the solution of notebook 06's exercise 4)."""
    from har.backend import keras
    from har.models import Channels, frame_cnn
    from har.video import FLOW_UNITS

    layers = keras.layers
    clips = keras.Input(shape=(sequence_length, *image_size, 5), dtype="uint8", name="frames")
    flow = Channels(3, 5)(layers.Rescaling(1 / 255)(clips))
    flow = layers.Rescaling(255 / FLOW_UNITS, offset=-128 / FLOW_UNITS)(flow)
    flow = layers.Reshape((*image_size, 2 * sequence_length))(layers.Permute((2, 3, 1, 4))(flow))
    return keras.Model(clips, frame_cnn(image_size, 2 * sequence_length, num_classes, "flow_stream")(flow))


def _streams(sequence_length: int, image_size):
    """The two-stream model's input and what its two streams read: the middle frame's RGB, the stacked flow."""
    from har.backend import keras
    from har.models import Channels
    from har.video import FLOW_UNITS

    layers = keras.layers
    clips = keras.Input(shape=(sequence_length, *image_size, 5), dtype="uint8", name="frames")
    x = layers.Rescaling(1 / 255)(clips)
    middle = sequence_length // 2
    frame = layers.Cropping3D(((middle, sequence_length - middle - 1), (0, 0), (0, 0)))(x)
    rgb = Channels(0, 3)(layers.Reshape((*image_size, 5))(frame))
    flow = layers.Rescaling(255 / FLOW_UNITS, offset=-128 / FLOW_UNITS)(Channels(3, 5)(x))
    flow = layers.Reshape((*image_size, 2 * sequence_length))(layers.Permute((2, 3, 1, 4))(flow))
    return clips, rgb, flow


def averaged(num_classes: int, sequence_length: int = 20, image_size=(64, 64)):
    """The two streams as whole classifiers, their softmax scores averaged (the paper's simplest fusion)."""
    from har.backend import keras
    from har.models import frame_cnn

    clips, rgb, flow = _streams(sequence_length, image_size)
    scores = [frame_cnn(image_size, 3, num_classes, "frame")(rgb)]
    scores.append(frame_cnn(image_size, 2 * sequence_length, num_classes, "flow")(flow))
    return keras.Model(clips, keras.layers.Average(dtype="float32")(scores))


def rgb_and_flow_stacked(num_classes: int, sequence_length: int = 20, image_size=(64, 64)):
    """One CNN over the middle frame's RGB and the stacked flow together (3 + 2T channels)."""
    from har.backend import keras
    from har.models import frame_cnn

    clips, rgb, flow = _streams(sequence_length, image_size)
    stacked = keras.layers.Concatenate()([rgb, flow])
    return keras.Model(clips, frame_cnn(image_size, 3 + 2 * sequence_length, num_classes, "both")(stacked))


def run(dataset, build, split, epochs: int) -> float:
    """Train ``build(classes)`` on one group split with the notebooks' recipe; its test accuracy."""
    from har.evaluate import evaluate_model
    from har.train import fit_split, set_seed

    set_seed(split.seed)
    model = build(len(dataset.classes), dataset.sequence_length, dataset.image_size)
    result = fit_split(model, dataset, split, epochs=epochs, batch_size=4, patience=10, augment=True,
                       seed=split.seed, verbose=0)  # fmt: skip
    return evaluate_model(result.model, dataset, split.test).accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED, help="a folder of class folders of real clips")
    parser.add_argument("--splits", type=int, default=3, help="group splits (seeds 27, 28, ...)")
    parser.add_argument("--epochs", type=int, default=40, help="most epochs per run (early stopping ends sooner)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_flow")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"error: {args.data}: no such folder (real clips laid out like UCF50)")

    from multiprocessing import Pool

    import numpy as np

    from har.dataset import build_dataset
    from har.models import single_frame, two_stream
    from har.splits import group_split

    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    dataset = build_dataset(args.data, args.out / "cache.npz", flow=True, progress=False).dataset
    print(f"{args.data}: {dataset.summary()} (built in {time.perf_counter() - start:.0f} s)", flush=True)
    har_flow = dataset.flow
    store = args.out / "flows.npz"
    if not store.is_file():
        jobs = [(str(args.data / path), dataset.sequence_length) for path in dataset.paths]
        with Pool(os.cpu_count()) as pool:
            made = pool.map(clip_flows, jobs)
        costs = {name: statistics.mean(m[1][name] for m in made) for name in FLOW_WAYS}
        np.savez(store, **{name: np.stack([m[0][name] for m in made]) for name in FLOW_WAYS})
        (args.out / "costs.json").write_text(json.dumps(costs, indent=1))
    flows, costs = np.load(store), json.loads((args.out / "costs.json").read_text())
    assert np.array_equal(flows["DIS fast, own size (har)"], har_flow), "the benchmark's DIS fast is not FlowMaker's"
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    splits = [group_split(dataset.labels, dataset.groups, 0.25, seed=s) for s in range(27, 27 + args.splits)]

    def measured(key: str, build) -> list[float]:
        accuracies = []
        for split in splits:
            name = f"{key} | seed {split.seed} | cap {args.epochs}"
            if name not in results:
                results[name] = run(dataset, build, split, args.epochs)
                results_path.write_text(json.dumps(results, indent=1))
                print(f"{key}, split seed {split.seed}: {results[name]:.1%}", flush=True)
            accuracies.append(100 * results[name])
        return accuracies

    def cells(accuracies: list[float]) -> str:
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        each = ", ".join(f"{a:.0f}" for a in accuracies)
        return f"**{statistics.mean(accuracies):.1f} % ± {spread:.1f}** (n={len(accuracies)}) | {each}"

    table = ["| flow computed with | ms per frame pair | flow stream alone: test accuracy | per split |"]
    table.append("|---|---|---|---|")
    for name in FLOW_WAYS:
        dataset.flow = flows[name]
        table.append(f"| {name} | {costs[name]:.1f} | {cells(measured('flow only: ' + name, flow_only))} |")
    dataset.flow = har_flow
    fusions = {
        "frame stream alone (single_frame)": single_frame,
        "features concatenated, one softmax (two_stream)": two_stream,
        "scores averaged": averaged,
        "one CNN on RGB + stacked flow": rgb_and_flow_stacked,
    }
    fused = ["| streams | test accuracy | per split |", "|---|---|---|"]
    for name, build in fusions.items():
        fused.append(f"| {name} | {cells(measured(name, build))} |")
    print(f"\n{args.data.name}: {dataset.summary()}; group split, 25 % of the groups tested; at most {args.epochs} "
          f"epochs\n")  # fmt: skip
    print("\n".join(table))
    print()
    print("\n".join(fused))


if __name__ == "__main__":
    main()
