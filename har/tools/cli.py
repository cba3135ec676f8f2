"""The command line, ``python -m har <command>``: a thin layer over the functions the notebooks call.

Each command imports only what it needs (``demo-data``, ``download`` and ``build-dataset`` never load
TensorFlow). Bad input ends with one line on stderr and a non-zero exit code, never a traceback;
set ``HAR_DEBUG=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from har import DEMO_LAYOUTS, FLOW_MODELS, IMAGE_HEIGHT, MODEL_NAMES, SEQUENCE_LENGTH, UCF50_URL, HarError
from har.errors import one_line

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) would bury our one-line messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 160x120, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2 or max(width, height) > 4096:
        raise argparse.ArgumentTypeError(f"sides must be even, from 16 to 4096 pixels, got {width}x{height}")
    return width, height


def _range(text: str) -> tuple[int, int]:
    try:
        low, _, high = text.partition("-")
        low, high = int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX such as 40-70, got {text!r}") from None
    if not 1 <= low <= high:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX with 1 <= MIN <= MAX, such as 40-70, got {text!r}")
    return low, high


def _whole(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high}, got {value}")
        return value

    return parse


def _number(expected: str, within, must: str):
    """An argparse type: a float for which ``within(value)`` holds; ``expected`` and ``must`` word the errors."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not within(value):
            raise argparse.ArgumentTypeError(f"must be {must}, got {value}")
        return value

    return parse


_fraction = _number("a number between 0 and 1", lambda v: 0 < v < 1, "between 0 and 1 (a share of the clips)")
_probability = _number("a probability between 0 and 1", lambda v: 0 <= v <= 1, "a probability between 0 and 1")
_positive = _number("a number", lambda v: 0 < v < float("inf"), "a number above 0")


def _url(text: str) -> str:
    """``--url``: text that parses as a URL (``har.download`` says which URLs it fetches, and what to do instead)."""
    from urllib.parse import urlparse

    try:
        urlparse(text).port  # noqa: B018  (parsing the port is what finds "http://host:x/")
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a valid URL: {text!r} ({error})") from None
    return text


def _weights(text: str) -> str | None:
    if text.lower() in ("imagenet", "none"):
        return text.lower()
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such weights file {text!r} (give imagenet, none or a .weights.h5 file)")
    return text


def _camera(text: str) -> int | Path:
    return int(text) if text.strip().isdigit() else Path(text)


def _refuse_overwriting_inputs(out: Path, *inputs, suffix: str) -> None:
    """``--out`` must end with ``suffix``, sit in a folder, and not name any input: inputs are never overwritten."""
    if out.suffix.lower() != suffix:
        raise HarError(f"--out {out}: must be a {suffix} file")
    blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise HarError(f"--out {out}: {blocking} is a file, not a folder")
    for source in inputs:  # None or a webcam index is no file to overwrite
        if isinstance(source, (str, os.PathLike)) and out.exists() and Path(source).exists() and out.samefile(source):
            raise HarError(f"--out {out} is an input of this command; choose another file so it is not overwritten")


def _demo_data(args: argparse.Namespace) -> None:
    from har.demo import make_demo_dataset

    make_demo_dataset(
        args.out_dir, n_classes=args.classes, groups=args.groups, clips_per_group=args.clips_per_group,
        frames=args.frames, size=args.size, seed=args.seed, layout=args.layout,
    )  # fmt: skip


def _download(args: argparse.Namespace) -> None:
    from har.download import fetch_ucf50

    fetch_ucf50(
        args.dest, url=args.url, archive=args.archive, expected_size=args.size, sha256=args.sha256,
        keep_archive=args.keep_archive,
    )  # fmt: skip


def _make_cache(args: argparse.Namespace, kind: str, load, extract, **options) -> None:
    """``extract`` the clips in ``args.data_dir`` into ``--out``, which may only replace a ``kind`` cache."""
    _refuse_overwriting_inputs(args.out, suffix=".npz")
    if args.out.exists():
        try:
            load(args.out)
        except HarError:
            raise HarError(f"--out {args.out} exists and is not a {kind} cache; it is not overwritten") from None
    report = extract(args.data_dir, args.out, classes=args.classes, sequence_length=args.sequence_length,
                     workers=args.workers, **options)  # fmt: skip
    stray = getattr(report, "stray", [])  # only build-dataset's report names stray files and dropped classes
    if stray:
        print(f"ignored {len(stray)} file(s) that are not clips, e.g. {stray[0]}")
    if report.skipped:
        print(f"skipped {len(report.skipped)} clip(s) that could not be used (listed above)")
    if getattr(report, "dropped_classes", []):
        print(f"left out {len(report.dropped_classes)} class(es) without a usable clip (listed above)")
    print(f"{kind.capitalize()} cache: {args.out}")


def _build_dataset(args: argparse.Namespace) -> None:
    from har.dataset import build_dataset, load_dataset

    _make_cache(args, "dataset", load_dataset, build_dataset, image_size=args.image_size,
                allow_short=args.allow_short, flow=args.flow)  # fmt: skip


def _backbone_weights(args: argparse.Namespace, backbone: str) -> str | None:
    """The ``--weights`` given, else the ``HAR_WEIGHTS`` folder's file for ``backbone``, else Keras's download."""
    from har.weights import course_weights

    if args.weights is None:
        return course_weights(backbone, quick=False)
    return None if args.weights == "none" else args.weights


def _features(args: argparse.Namespace) -> None:
    from har.features import extract_features, load_features

    _make_cache(args, "feature", load_features, extract_features, image_size=args.image_size,
                backbone=args.backbone, weights=_backbone_weights(args, args.backbone))  # fmt: skip


def _pose(args: argparse.Namespace) -> None:
    from har.features import load_features
    from har.pose import extract_keypoints

    _make_cache(args, "keypoint", load_features, extract_keypoints, weights=args.weights)


def _split_for_training(args: argparse.Namespace, data):
    """The ``--split`` of ``data`` into train and test clips, once the training options are checked against it."""
    from har.splits import make_split
    from har.train import check_training_arguments

    split = make_split(args.split, data.labels, data.groups, args.test_size, args.seed, classes=data.classes)
    check_training_arguments(data, split.train, split.test, epochs=args.epochs, batch_size=args.batch_size,
                             patience=args.patience, learning_rate=args.learning_rate, out=args.out)  # fmt: skip
    return split


def _fit_and_test(args: argparse.Namespace, model, data, split, save=None, **options) -> None:
    """Fit ``model`` on the train clips of ``split`` as ``args`` and ``options`` ask, test it, and save it as a bundle
    with ``save(result)`` (by default ``fit_split`` saves it, at ``out``)."""
    from har.evaluate import evaluate_model
    from har.train import fit_split

    print(f"{data.summary()}\n{args.split} split: {len(split.train)} train, {len(split.test)} test clips")
    result = fit_split(model, data, split, epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
                       learning_rate=args.learning_rate, seed=args.seed, verbose=2, **options)  # fmt: skip
    test = evaluate_model(model, data, split.test)
    bundle = save(result) if save else result.bundle
    print(f"test accuracy {test.accuracy:.1%} on {len(split.test)} clips ({args.split} split)")
    print(f"Model bundle: {bundle}")


def _train_on_features(args: argparse.Namespace) -> None:
    """``train`` on a feature (or keypoint) cache: the head trains on the features, the backbone that made them
    goes back in front of it, and the bundle predicts on videos like every other."""
    from har.features import assemble, feature_head, frame_backbone, load_features, save_assembled

    features = load_features(args.cache)
    pose = features.settings.get("kind") == "pose"
    expected = "pose" if pose else "pretrained"
    if args.model != expected:
        raise HarError(f"{args.cache} is a {'keypoint' if pose else 'feature'} cache: it trains --model {expected}")
    from har.train import set_seed

    split = _split_for_training(args, features)
    classes, length = len(features.classes), features.sequence_length
    if pose:
        from har.pose import MoveNet, assemble_pose, keypoint_head, movenet_file, save_pose_bundle
        from har.weights import weights_id

        movenet = movenet_file(args.weights if args.weights not in (None, "imagenet", "none") else None)
        if weights_id(movenet) != features.settings.get("backbone_weights"):
            raise HarError(f"{movenet} is not the MoveNet that made {args.cache}: pass that file with --weights")
        backbone, assembler, saver = MoveNet(movenet.read_bytes()), assemble_pose, save_pose_bundle
        make_head = partial(keypoint_head, classes, length)
    else:
        name = features.settings.get("backbone")
        backbone = frame_backbone(name, features.image_size[0], _backbone_weights(args, name))
        assembler, saver = assemble, save_assembled
        make_head = partial(feature_head, classes, length, features.features.shape[-1], args.head)
    set_seed(args.seed)  # after the backbone is built: the head starts from the seed's weights
    head = make_head()

    def save(result):
        return saver(assembler(backbone, head), args.out, features, result.fit_indices, result.history)

    _fit_and_test(args, head, features, split, save)


def _train(args: argparse.Namespace) -> None:
    from har.dataset import cache_holds, load_dataset

    on_features = cache_holds(args.cache, "features")
    if args.model == "pose" and not on_features:
        raise HarError(f"--model pose trains on a keypoint cache (from `python -m har pose`), not {args.cache}")
    _refuse_overwriting_inputs(args.out, args.cache, suffix=".keras")
    if on_features:
        return _train_on_features(args)
    dataset = load_dataset(args.cache)  # before TensorFlow loads: a bad path fails fast
    if args.model in FLOW_MODELS:
        from har.video import FLOW_CHANNELS

        dataset.inputs(FLOW_CHANNELS)  # a cache without optical flow fails here, in one line
    from har.models import build_metadata, build_model
    from har.train import set_seed, training_strategy

    split = _split_for_training(args, dataset)
    set_seed(args.seed)
    options = {"weights": None} if args.model == "pretrained" and args.no_download else {}
    with training_strategy().scope():
        model = build_model(args.model, len(dataset.classes), dataset.sequence_length, dataset.image_size, **options)
    metadata = {"cache": str(args.cache), "test_size": args.test_size, **build_metadata(args.model, **options)}
    _fit_and_test(
        args, model, dataset, split, out=args.out, augment=args.augment, upside_down=args.upside_down,
        halve_lr_after=args.halve_lr_after, metadata=metadata,
    )  # fmt: skip


def _evaluate(args: argparse.Namespace) -> None:
    from har.bundle import bundle_mismatch, load_bundle, read_metadata, trained_on
    from har.dataset import load_dataset

    out = args.confusion or Path(args.model).with_suffix(".confusion.png")
    _refuse_overwriting_inputs(out, args.model, args.cache, suffix=".png")
    metadata = read_metadata(args.model)
    dataset = load_dataset(args.cache)
    mismatch = bundle_mismatch(metadata, dataset)
    if mismatch:
        raise HarError(f"{args.model} does not fit {args.cache}: {mismatch}")
    from har.demo import motion_pairs_in
    from har.evaluate import evaluate_model
    from har.splits import DEFAULT_SEED, make_split
    from har.viz import plot_confusion_matrix, save_figure

    model, _ = load_bundle(args.model)
    trained = metadata.get("split") or {}
    if trained.get("kind") and trained_on(metadata, dataset):
        split = make_split(trained["kind"], dataset.labels, dataset.groups, metadata.get("test_size", 0.25),
                           trained.get("seed", DEFAULT_SEED))  # fmt: skip
        indices, where = split.test, f"the {trained['kind']} split's {len(split.test)} test clips"
    else:
        indices, where = None, f"all {len(dataset)} clips (not the cache the model was trained on)"
    result = evaluate_model(model, dataset, indices)
    print(f"Evaluated on {where}")
    print(f"accuracy {result.accuracy:.1%}   top-2 accuracy {result.top_k_accuracy(2):.1%}")
    if motion_pairs_in(dataset.classes):
        pair = result.pair_accuracy(motion_pairs_in(dataset.classes))
        shown = f"{pair:.1%}" if pair is not None else "n/a (no clip put in its pair)"
        print(f"motion-pair accuracy {shown} (demo classes that differ only in motion; 50% = chance)")
    print(result.report())
    save_figure(plot_confusion_matrix(result.confusion(), result.classes, title=Path(args.model).stem), out)
    print(f"Confusion matrix: {out}")


def _predict(args: argparse.Namespace) -> None:
    from har.bundle import read_metadata
    from har.youtube import resolve_source

    read_metadata(args.model)  # a file that is not a bundle fails here, before any download or TensorFlow
    source = resolve_source(args.source).source
    from har.predict import UNSURE_BELOW, Predictor, predict_on_video, predict_single_action

    unsure_below = UNSURE_BELOW if args.unsure_below is None else args.unsure_below
    predictor = Predictor.load(args.model)
    if args.mode == "whole":
        predict_single_action(predictor, source, top_k=args.top_k, unsure_below=unsure_below)
        return
    webcam = isinstance(source, int)
    if args.out is not None:
        _refuse_overwriting_inputs(args.out, args.model, source, suffix=".mp4")
    default = Path("data/videos/webcam.annotated.mp4") if webcam else source.with_name(f"{source.stem}.annotated.mp4")
    out = args.out or default
    result = predict_on_video(
        predictor, source, out, stride=args.stride, smooth=args.smooth, unsure_below=unsure_below,
        cuts=not args.no_cuts, max_frames=args.max_frames or (300 if webcam else None),
    )  # fmt: skip
    counts = {name: result.labels.count(name) for name in dict.fromkeys(result.labels)}
    summary = ", ".join(f"{name} {n / len(result.labels):.0%}" for name, n in counts.items())
    pace = f"{predictor.sequence_length} frames one every {predictor.frame_step}, {predictor.window_frames} in all"
    shots = f", {len(result.cuts)} shot cut{'s' * (len(result.cuts) != 1)}" if not args.no_cuts else ""
    print(f"{result.frame_count} frames, {len(result.labels)} windows ({pace}{shots}): {summary}")
    print(f"{result.timings['frames_per_second']:.0f} frames/s")
    print(f"Annotated video: {out}")


def _check_address(host: str, port: int | None) -> None:
    """Refuse, in one line, a ``--host`` this machine cannot serve on, or a ``--port`` already taken there."""
    import socket

    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise HarError(f"--host {host}: not an address of this machine ({reason})") from None
    with socket.socket(family, kind) as probe:
        try:
            probe.bind(address)
        except OSError as error:
            if port and error.errno == errno.EADDRINUSE:
                raise HarError(f"--port {port}: already in use on {host}; choose another port") from None
            raise HarError(f"--host {host}: cannot serve on that address ({error.strerror or error})") from None


def _app(args: argparse.Namespace) -> None:
    from har.bundle import read_metadata

    read_metadata(args.model)  # a file that is not a bundle fails here, before Gradio or TensorFlow loads
    _check_address(args.host, args.port)  # before Gradio, which blames the port, once per port it tries
    os.environ.setdefault("MPLBACKEND", "Agg")  # the timeline is drawn in the server's threads, never shown
    from har.tools.app import launch

    try:
        launch(args.model, share=args.share, server_name=args.host, server_port=args.port)
    except (KeyboardInterrupt, Terminated):
        print("app stopped")


def _live(args: argparse.Namespace) -> None:
    from har.bundle import read_metadata

    read_metadata(args.model)  # a file that is not a bundle fails here, before TensorFlow loads
    if args.out is not None:
        _refuse_overwriting_inputs(args.out, args.model, args.camera, suffix=".mp4")
    from har.tools.live import run_live

    run_live(args.model, args.camera, out=args.out, max_frames=args.max_frames, stride=args.stride,
             smooth=args.smooth, cuts=not args.no_cuts)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (argparse's own prints the whole usage first)."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def _add_command(sub, name: str, run, help: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, parents=parents)
    parser.set_defaults(run=run)
    return parser


def _add_data_commands(sub) -> None:
    p = _add_command(sub, "demo-data", _demo_data, "generate the demo dataset in UCF50 layout")
    p.add_argument("out_dir", type=Path, help="folder to write <Class>/v_<Class>_gGG_cCC.avi into")
    p.add_argument("--classes", type=_whole(2, 10), default=4, help="number of classes, 2-10 (default 4)")
    p.add_argument("--groups", type=_whole(1), default=96, help="groups per class (default 96)")
    p.add_argument("--clips-per-group", type=_whole(1), default=1, help="clips per class in each group (default 1)")
    p.add_argument("--frames", type=_range, default=(40, 70), help="frames per clip, MIN-MAX (default 40-70)")
    p.add_argument("--size", type=_size, default=(160, 120), help="frame size WIDTHxHEIGHT (default 160x120)")
    p.add_argument("--seed", type=_whole(0), default=0, help="random seed; same seed, same clips (default 0)")
    p.add_argument("--layout", choices=DEMO_LAYOUTS, default="shared",
                   help="shared: a group looks the same in every class (default); ucf50: each (class, group) has its "
                        "own look")  # fmt: skip
    p = _add_command(sub, "download", _download, "download and unpack UCF50 (about 6.6 GB)")
    p.add_argument("--dest", type=Path, default=Path("data"), help="folder for the archive and UCF50/ (default data)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--url", type=_url, default=UCF50_URL,
                        help="http(s) archive URL (a mirror); default the official one")  # fmt: skip
    source.add_argument("--archive", type=Path, default=None, help="unpack this local archive instead of downloading")
    p.add_argument("--size", type=_whole(1), default=None, help="expected archive size in bytes, checked when given")
    p.add_argument("--sha256", default=None, help="expected SHA-256 of the archive, checked when given")
    p.add_argument("--keep-archive", action="store_true", help="keep the downloaded archive once unpacked")


def _add_cache_commands(sub) -> None:
    from har.features import BACKBONE_SIZE
    from har.weights import DEFAULT_BACKBONE

    clips = argparse.ArgumentParser(add_help=False)  # the arguments all three take
    clips.add_argument("data_dir", type=Path, help="dataset root with one folder per class")
    clips.add_argument("--classes", nargs="+", default=None, help="class folders to use, in label order (default all)")
    clips.add_argument("--sequence-length", type=_whole(1, 1000), default=SEQUENCE_LENGTH,
                       help="frames per clip (default 20)")  # fmt: skip
    clips.add_argument("--workers", type=_whole(1), default=None, help="decoding processes (default: one per core)")
    p = _add_command(sub, "build-dataset", _build_dataset, "extract frames of every clip into a .npz dataset cache",
                     clips)  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("data/cache.npz"), help="cache file (default data/cache.npz)")
    p.add_argument("--image-size", type=_whole(8, 1024), default=IMAGE_HEIGHT, help="square frame size (default 64)")
    p.add_argument("--allow-short", action="store_true",
                   help="keep clips shorter than the sequence by repeating frames")  # fmt: skip
    p.add_argument("--flow", action="store_true", help="also store each frame's optical flow (for --model two_stream)")
    p = _add_command(sub, "features", _features, "run every clip through an ImageNet backbone into a .npz feature "
                     "cache", clips)  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("data/features.npz"), help="cache file (default data/features.npz)")
    p.add_argument("--backbone", default=DEFAULT_BACKBONE, help=f"a keras.applications class ({DEFAULT_BACKBONE})")
    p.add_argument("--weights", type=_weights, default=None,
                   help="backbone weights: imagenet (Keras's download), none (random) or a .weights.h5 file (default: "
                        "the file in the HAR_WEIGHTS folder when set, else imagenet)")  # fmt: skip
    p.add_argument("--image-size", type=_whole(32, 1024), default=BACKBONE_SIZE,
                   help=f"square frame size (default {BACKBONE_SIZE}, what ImageNet backbones learned at)")  # fmt: skip
    p = _add_command(sub, "pose", _pose, "MoveNet's 17 body keypoints in every clip's frames, into a .npz keypoint "
                     "cache", clips)  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("data/keypoints.npz"),
                   help="cache file (default data/keypoints.npz)")  # fmt: skip
    p.add_argument("--weights", type=Path, default=None,
                   help="MoveNet's .tflite file (default: the HAR_WEIGHTS folder's, else downloaded to the cache's "
                        "folder once, checked)")  # fmt: skip


def _add_model_commands(sub) -> None:
    from har.splits import DEFAULT_SEED

    p = _add_command(sub, "train", _train, "train a model on a dataset or feature cache and save a .keras bundle")
    p.add_argument("cache", type=Path, help="dataset cache (.npz) from build-dataset, or a feature cache from features")
    p.add_argument("--model", choices=(*MODEL_NAMES, "pose"), default="lrcn",
                   help="which model (default lrcn; notebook 06 compares them: baseline is late fusion)")  # fmt: skip
    p.add_argument("--split", choices=("group", "random"), default="group", help="train/test split (default group)")
    p.add_argument("--test-size", type=_fraction, default=0.25, help="share of clips tested on (default 0.25)")
    p.add_argument("--epochs", type=_whole(1), default=50, help="most epochs; early stopping may end sooner (50)")
    p.add_argument("--batch-size", type=_whole(1), default=4, help="clips per batch (default 4)")
    p.add_argument("--patience", type=_whole(0), default=10, help="epochs without val_loss progress before stopping")
    p.add_argument("--learning-rate", type=_positive, default=1e-3, help="Adam learning rate (default 0.001)")
    p.add_argument("--seed", type=_whole(0), default=DEFAULT_SEED, help=f"seed for split and training ({DEFAULT_SEED})")
    p.add_argument("--no-download", action="store_true", help="pretrained model without ImageNet weights (offline)")
    p.add_argument("--weights", type=_weights, default=None,
                   help="on a feature cache: the weights of the backbone that made it, as for features")  # fmt: skip
    p.add_argument("--head", choices=("average", "lstm"), default="average",
                   help="on a feature cache: average the frames' features, or read them with an LSTM "
                        "(average)")  # fmt: skip
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="mirror clips left-right at random (default on; --no-augment for direction classes such as "
                        "SlideLeft)")  # fmt: skip
    p.add_argument("--upside-down", action="store_true",
                   help="also flip clips upside down at random (the demo's shapes have no up and down)")  # fmt: skip
    p.add_argument("--halve-lr-after", type=_whole(1), default=None, metavar="N",
                   help="halve the learning rate after N epochs without val_loss progress (default never)")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("models/model.keras"), help="bundle to write (.keras)")
    p = _add_command(sub, "evaluate", _evaluate, "test a model bundle on a dataset cache; write a confusion matrix")
    p.add_argument("model", type=Path, help="model bundle (.keras) from train")
    p.add_argument("cache", type=Path, help="dataset cache (.npz)")
    p.add_argument("--confusion", type=Path, default=None, help="PNG for the confusion matrix (default next to model)")


def _add_video_commands(sub) -> None:
    bundle = argparse.ArgumentParser(add_help=False)
    bundle.add_argument("model", type=Path, help="model bundle (.keras)")
    window = argparse.ArgumentParser(add_help=False)  # the sliding window's options, which predict and live share
    window.add_argument("--stride", type=_whole(1), default=1, help="classify a window every N frames (default 1)")
    window.add_argument("--smooth", type=_whole(1), default=1,
                        help="average the last N windows' probabilities (default 1)")  # fmt: skip
    window.add_argument("--no-cuts", action="store_true",
                        help="let a window reach back across a shot cut (default: it stays inside its "
                             "shot)")  # fmt: skip
    p = _add_command(sub, "predict", _predict, "label the actions in a video file, URL or webcam", bundle, window)
    p.add_argument("source", help="video file, YouTube (or other yt-dlp) URL, or webcam index such as 0")
    p.add_argument("--mode", choices=("window", "whole"), default="window",
                   help="window: label every frame and write a video; whole: one label for the video")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="annotated H.264 MP4 (default <video>.annotated.mp4)")
    p.add_argument("--top-k", type=_whole(1), default=3, help="labels listed in whole mode (default 3)")
    p.add_argument("--unsure-below", type=_probability, default=None,
                   help="below this confidence say 'unsure' (default har.predict.UNSURE_BELOW, measured)")  # fmt: skip
    p.add_argument("--max-frames", type=_whole(1), default=None, help="stop after N frames (webcam default 300)")
    p = _add_command(sub, "app", _app, "a web app to try a model: upload a video or paste a URL (needs gradio)", bundle)
    p.add_argument("--share", action="store_true", help="also open a public *.gradio.live link")
    p.add_argument("--port", type=_whole(1, 65535), default=None, help="port to serve on (default Gradio's, from 7860)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on; 0.0.0.0 for the network (127.0.0.1)")
    p = _add_command(sub, "live", _live, "label a webcam live: a line per label change, optionally a labelled video",
                     bundle, window)  # fmt: skip
    p.add_argument("--camera", type=_camera, default=0,
                   help="webcam index (default 0), or a video file: a video file stands in for the camera")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="also write the labelled frames to this H.264 MP4")
    p.add_argument("--max-frames", type=_whole(1), default=None, help="stop after N frames (default: Ctrl-C stops)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m har``: one sub-command per pipeline stage."""
    parser = _Parser(prog="python -m har", description="Human activity recognition course tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_commands in (_add_data_commands, _add_cache_commands, _add_model_commands, _add_video_commands):
        add_commands(sub)
    return parser


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM or SIGHUP, so that temporary files are cleaned up on the way out."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _report(message: str) -> None:
    with contextlib.suppress(OSError):  # a closed terminal has nowhere to show it
        print(f"error: {one_line(message)}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 is shown escaped, never a crash
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        # `kill` (SIGTERM) or a closed terminal (SIGHUP): end like Ctrl-C, deleting half-written files
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):  # Windows has no SIGHUP
                signal.signal(getattr(signal, name), _on_sigterm)
    try:
        return args.run(args) or 0
    except HarError as error:
        _report(str(error))
        return 1
    except (KeyboardInterrupt, Terminated):
        _report("interrupted; nothing half-written was kept")
        return 130
    except OSError as error:  # a full disk, a folder that is a file, no permission
        where = f"{error.filename}: " if error.filename else ""
        _report(f"{where}{error.strerror or error}")
        return 1
    except Exception as error:
        if os.environ.get("HAR_DEBUG"):
            raise
        _report(f"{type(error).__name__}: {error} (set HAR_DEBUG=1 to see the traceback)")
        return 1


def main_entry() -> None:
    """Console-script entry point (``har ...``), the same as ``python -m har ...``."""
    sys.exit(main())
