"""Where the course keeps its files, and what the notebooks' Setup and parameters cells need.

Files live under one work folder, the same for every notebook whatever folder it runs from:
``HAR_WORKDIR`` when set (``make demo`` points it at ``build/``); otherwise the checkout ``har`` was
installed from (its ``data/`` and ``models/`` folders); otherwise the current folder.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from har import __version__
from har.dataset import build_dataset, discover_clips
from har.demo import DEMO_VIDEO, make_demo_dataset, make_demo_video
from har.errors import HarError
from har.files import atomic_write, honour_umask, temporary_beside  # noqa: F401  (importable from here, as they were)


def workdir() -> Path:
    """The folder that holds ``data/`` and ``models/``."""
    if os.environ.get("HAR_WORKDIR"):
        return Path(os.environ["HAR_WORKDIR"]).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "data").is_dir():
        return checkout
    return Path.cwd()


def data_dir() -> Path:
    """``<workdir>/data``: datasets, caches and videos (created if missing)."""
    path = workdir() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """``<workdir>/models``: trained model bundles (created if missing)."""
    path = workdir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def quick_mode() -> bool:
    """True when ``HAR_QUICK=1``: notebooks use the demo dataset and few epochs (CI, ``make demo``)."""
    return os.environ.get("HAR_QUICK", "0").lower() in ("1", "true", "yes")


#: ``"demo-ucf50"``, the demo in UCF50's layout (notebook 03's leak lesson): a look per (class, group), three clips
#: of each, so a random split leaks.
DEMO_UCF50 = {"groups": 16, "clips_per_group": 3, "layout": "ucf50"}


def dataset_root(dataset: str) -> Path:
    """The folder of a dataset: ``"demo"`` or ``"demo-ucf50"`` (generated if missing), ``"ucf50"`` or your own."""
    if dataset == "demo":
        return make_demo_dataset(data_dir() / "demo")
    if dataset == "demo-ucf50":
        return make_demo_dataset(data_dir() / "demo_ucf50", **DEMO_UCF50)
    if dataset.lower() == "ucf50":
        root = data_dir() / "UCF50"
        if not root.is_dir():
            raise HarError(f"{root} is missing: run 01_download_and_explore_ucf50 (or `python -m har download`)")
        return root
    root = Path(dataset).expanduser()
    if not root.is_dir():
        raise HarError(f"{root}: no such dataset folder (expected one sub-folder of videos per class)")
    return root


def describe_dataset(dataset: str) -> str:
    """A few words saying which data a figure was measured on: the demo, UCF50, or the folder's name."""
    if dataset == "demo":
        return "the generated demo dataset"
    if dataset == "demo-ucf50":
        return "the generated demo dataset in UCF50's layout"
    if dataset.lower() == "ucf50":
        return "UCF50"
    return f"real clips of {Path(dataset).name}"


def cache_path(dataset: str, sequence_length: int, image_size: int, kind: str = "") -> Path:
    """Where notebook 02 writes the dataset cache later notebooks load; with ``kind`` (``"features"``,
    ``"keypoints"``), the cache of that kind beside it (notebooks 05 and 06 write those, 06 and 07 read them)."""
    name = dataset if dataset in ("demo", "demo-ucf50", "ucf50") else Path(dataset).name
    return data_dir() / f"cache_{name.lower()}_{sequence_length}x{image_size}{'.' + kind if kind else ''}.npz"


def chosen_model_file() -> Path:
    """Where notebook 07 writes the name of the model it chose on validation clips, and notebook 08 reads it."""
    return models_dir() / "chosen_model.txt"


def _has_flow(path: Path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as data:
            return "flow" in data.files
    except (OSError, ValueError):
        return False


def find_or_build_cache(dataset: str, classes, sequence_length: int, image_size: int, *, flow: bool = False) -> Path:
    """The dataset cache notebook 02 writes or, when it is missing, that cache built here and now (saying so).

    So a notebook opened alone (a new Colab runtime without Drive, say) goes on; UCF50 itself is downloaded first
    when it is not in ``data/`` either. ``flow``: the cache must hold optical flow too (the two-stream model); one
    without it is built again with it, in place.
    """
    path = cache_path(dataset, sequence_length, image_size)
    if path.is_file() and (not flow or _has_flow(path)):
        print(f"dataset cache: {path} (made by 02_frame_extraction_and_dataset)")
        return path
    start = time.perf_counter()
    if dataset.lower() == "ucf50" and not (data_dir() / "UCF50").is_dir():
        print("UCF50 is not in data/ either: downloading and unpacking it first, as notebook 01 does (6.6 GB)")
        from har.download import fetch_ucf50

        fetch_ucf50(data_dir())
    root = dataset_root(dataset)
    clips, _ = discover_clips(root, classes)
    guess = len(clips) / (25 * (os.cpu_count() or 1))  # clips/s per core: benchmarks/bench_extraction.py measures it
    what = "optical flow" if path.is_file() else "dataset cache"
    print(
        f"no {what} at {path}: building it from {len(clips)} clips of {root}, as notebook 02 does"
        f"{' with flow' if flow else ''} (about {max(guess, 1):.0f} s on {os.cpu_count()} cores)"
    )
    build_dataset(root, path, classes=classes, sequence_length=sequence_length, image_size=image_size, flow=flow)
    print(f"built in {time.perf_counter() - start:.0f} s")
    return path


def offline_video(dataset: str, classes, videos_dir: str | os.PathLike) -> Path:
    """A video to label that needs no internet, notebook 08's last fallback when no video can be downloaded.

    For ``"demo"``, the demo video (``har.demo.make_demo_video``) in ``videos_dir``; otherwise the longest clip (by
    file size) of the first of ``classes`` in the dataset's folder, so the model sees an action it knows.
    """
    if dataset == "demo":
        path = Path(videos_dir) / DEMO_VIDEO
        return path if path.is_file() else make_demo_video(path)
    clips, _ = discover_clips(dataset_root(dataset), list(classes) if classes else None)
    first = [c.path for c in clips if c.class_name == clips[0].class_name]
    return max(first, key=lambda p: (p.stat().st_size, p.name))


def use_colab_storage(drive: bool = True, *, content: str = "/content") -> str:
    """On Colab, choose where ``data/`` and ``models/`` live, and return a line saying where.

    With ``drive``, the work folder is ``MyDrive/har`` on Google Drive (mounted at ``<content>/drive``), kept between
    runtimes so a notebook opened alone finds what another one made; without it, or when mounting fails,
    ``<content>``, lost with the runtime. A ``HAR_WORKDIR`` set beforehand wins.
    """
    if os.environ.get("HAR_WORKDIR"):
        return f"data/ and models/ are in {os.environ['HAR_WORKDIR']} (HAR_WORKDIR)"
    if drive:
        try:
            from google.colab import drive as colab_drive

            colab_drive.mount(f"{content}/drive")
        except Exception as error:  # declined, timed out, or not on Colab
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            os.environ["HAR_WORKDIR"] = content
            return f"Drive not mounted ({reason}): data/ and models/ are in {content}, lost when the runtime ends"
        os.environ["HAR_WORKDIR"] = f"{content}/drive/MyDrive/har"
        return (
            f"data/ and models/ are on Google Drive, in {os.environ['HAR_WORKDIR']}: they stay when the runtime "
            "ends (USE_DRIVE = False, or HAR_USE_DRIVE=0, keeps them in /content instead)"
        )
    os.environ["HAR_WORKDIR"] = content
    return f"data/ and models/ are in {content}, lost when the runtime ends (USE_DRIVE = True keeps them on Drive)"


def environment_report(with_tensorflow: bool = False) -> str:
    """Versions of Python, har, OpenCV (and TensorFlow/Keras), and whether a GPU is present."""
    lines = [f"Python {platform.python_version()}, har {__version__}, OpenCV {cv2.__version__}"]
    if with_tensorflow:
        from har.backend import keras, tf

        lines.append(f"TensorFlow {tf.__version__}, Keras {keras.__version__} ({keras.backend.backend()} backend)")
        has_gpu = bool(tf.config.list_physical_devices("GPU"))
    else:
        has_gpu = shutil.which("nvidia-smi") is not None
    hint = " (Colab: Runtime > Change runtime type > GPU)" if "google.colab" in sys.modules else ""
    no_gpu = f"GPU: none. Fine for this notebook's quick mode; full training wants a GPU{hint}."
    lines.append("GPU: found; training will use it." if has_gpu else no_gpu)
    return "\n".join(lines)
