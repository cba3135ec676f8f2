"""From a folder of clips (one sub-folder per class) to the dataset cache: one ``.npz`` of uint8 frames.

The cache holds ``frames`` uint8 ``[N, T, H, W, 3]`` (RGB), ``labels`` int ``[N]``, ``groups`` int ``[N]``, ``classes``
str ``[K]``, ``paths`` str ``[N]`` (relative to the dataset root) and ``frame_counts`` int ``[N]`` (the frames each clip
really has, 0 where unknown); a cache built with ``flow=True`` also holds ``flow`` uint8 ``[N, T, H, W, 2]``, each
frame's optical flow for the two-stream model (``har.video.FlowMaker``: 2 bytes a pixel where float32 flow would take
8). It loads with ``numpy.load(path, allow_pickle=False)``. Frames stay uint8: all 50 UCF50 classes at 20x64x64 take
about 1.6 GB, where float32 would take four times that. Scaling to [0, 1] is the model's job.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from har.errors import DatasetError
from har.video import FLOW_CHANNELS, FLOW_MAX_SIDE, FLOW_UNITS, VIDEO_EXTENSIONS, check_clip_shape
from har.workers import run_in_workers

CACHE_FORMAT = 2  # 2: per-clip frame counts (frame_counts)
_UCF_NAME = re.compile(r"^v_(?P<cls>.+)_g(?P<group>\d+)_c(?P<clip>\d+)$", re.IGNORECASE)
#: Files whose names do not follow UCF naming get a group of their own, numbered from here.
OWN_GROUP_START = 100_000


@dataclass
class Dataset:
    """Frames and labels of a dataset, as stored in the cache."""

    frames: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    classes: list[str]
    paths: list[str]
    settings: dict = field(default_factory=dict)
    frame_counts: np.ndarray | None = None  # frames each clip has (0: unknown); None for caches before format 2
    flow: np.ndarray | None = None  # uint8 [N, T, H, W, 2] optical flow (built with flow=True), else None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def sequence_length(self) -> int:
        """Frames per clip (T)."""
        return int(self.frames.shape[1])

    def frame_steps(self, indices: np.ndarray | None = None) -> np.ndarray:
        """The time step, in video frames, between the sampled frames of each clip (of ``indices``, or all):
        ``sample_frame_indices`` spreads ``T`` frames over the whole clip, so a clip of ``n`` frames is seen one frame
        every ``(n - 1) / (T - 1)``. Clips of unknown length (count 0) are left out."""
        return frame_steps(self.frame_counts, len(self), self.sequence_length, indices)

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of every frame."""
        return int(self.frames.shape[2]), int(self.frames.shape[3])

    def summary(self) -> str:
        """One line: clips, classes, groups, shape and memory."""
        flow = "" if self.flow is None else f", optical flow {self.flow.nbytes / 2**20:.1f} MiB"
        return (
            f"{len(self)} clips, {len(self.classes)} classes, {len(np.unique(self.groups))} groups, "
            f"frames {tuple(self.frames.shape)} uint8 ({self.frames.nbytes / 2**20:.1f} MiB{flow})"
        )

    def inputs(self, channels: int = 3):
        """What a model taking clips of ``channels`` channels is fed: the frames (3), or a ``FramesWithFlow`` view (5);
        ``DatasetError`` when the cache has no flow."""
        if channels == 3:
            return self.frames
        if channels != FLOW_CHANNELS:
            raise DatasetError(f"a model reading {channels} channels per frame: the dataset has 3 (RGB) or 5 (flow)")
        if self.flow is None:
            raise DatasetError(
                "this model reads optical flow, and the dataset cache has none: build it with flow "
                "(build_dataset(..., flow=True), or `python -m har build-dataset --flow`)"
            )
        return FramesWithFlow(self.frames, self.flow)


class FramesWithFlow:
    """Frames ``[N, T, H, W, 3]`` and flow ``[N, T, H, W, 2]`` seen as one array ``[N, T, H, W, 5]``.

    Indexing with clip indices returns those clips joined (a copy of the batch only); ``shape``, ``dtype`` and
    ``len`` are those of the joined array. What ``Dataset.inputs(5)`` gives the pipeline and the evaluation.
    """

    def __init__(self, frames: np.ndarray, flow: np.ndarray):
        self.frames, self.flow = frames, flow
        self.shape = (*frames.shape[:-1], frames.shape[-1] + flow.shape[-1])
        self.dtype = frames.dtype

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index) -> np.ndarray:
        return np.concatenate([self.frames[index], self.flow[index]], axis=-1)


def frame_steps(frame_counts, n: int, sequence_length: int, indices: np.ndarray | None = None) -> np.ndarray:
    """``Dataset.frame_steps`` for any cache that knows its clips' frame counts (``None``: none known)."""
    counts = np.zeros(n, np.int64) if frame_counts is None else np.asarray(frame_counts)
    counts = counts if indices is None else counts[np.asarray(indices, dtype=np.int64)]
    counts = counts[counts > 0]
    return (counts - 1) / max(1, sequence_length - 1)


@dataclass(frozen=True)
class Clip:
    """One video file found under a dataset root."""

    path: Path
    relative: str
    class_name: str
    group: int | None  # the UCF50 group when the name follows UCF naming


@dataclass
class BuildReport:
    """What ``build_dataset`` did: the dataset, which clips it skipped and why, and whether it reused the cache."""

    dataset: Dataset
    skipped: list[tuple[str, str]]
    stray: list[str]
    reused: bool = False
    dropped_classes: list[str] = field(default_factory=list)


def parse_group(filename: str) -> int | None:
    """Return the UCF50 group of ``v_<Class>_gGG_cCC.avi`` (``GG`` as int), or None for other names."""
    match = _UCF_NAME.match(Path(filename).stem)
    return int(match.group("group")) if match else None


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name.startswith("__")


def discover_clips(root: str | os.PathLike, classes: Sequence[str] | None = None) -> tuple[list[Clip], list[str]]:
    """Find the clips of a dataset laid out as ``root/<Class>/<clip>``.

    Returns the clips (sorted by class, then name) and the stray files ignored on the way (files that are
    not videos, hidden files such as ``.DS_Store``, files at the top level). ``classes`` picks and orders
    classes; an unknown class name raises ``DatasetError``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    folders = {p.name: p for p in root.iterdir() if p.is_dir() and not _is_hidden(p)}
    stray = sorted(str(p.relative_to(root)) for p in root.iterdir() if p.is_file() and not _is_hidden(p))
    if classes is None:
        names = sorted(folders)
    else:
        names = list(classes)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise DatasetError(f"class(es) named more than once: {', '.join(twice)} (each class is one label)")
        missing = [n for n in names if n not in folders]
        if missing:
            raise DatasetError(f"{root}: no folder for class(es) {', '.join(missing)}")
    clips = []
    for name in names:
        if not os.access(folders[name], os.R_OK | os.X_OK):
            raise DatasetError(f"{folders[name]}: permission denied (the class folder cannot be read)")
        for path in sorted(folders[name].rglob("*")):
            if not path.is_file() and not path.is_symlink():  # a link to nothing is a clip the build reports
                continue
            relative = path.relative_to(root).as_posix()
            if _is_hidden(path) or path.suffix.lower() not in VIDEO_EXTENSIONS:
                stray.append(relative)
                continue
            clips.append(Clip(path, relative, name, parse_group(path.name)))
    if not clips:
        raise DatasetError(f"{root}: no video clips found (expected {root}/<Class>/<clip>.avi)")
    return clips, stray


def assign_groups(clips: Sequence[Clip]) -> np.ndarray:
    """Group ids for clips: the UCF50 group number, or a group of its own for names without one.

    UCF50 group numbers are kept as they are across classes, so holding out group 7 holds out group 7
    of every class: that is the dataset authors' leave-one-group-out protocol.
    """
    groups = np.empty(len(clips), dtype=np.int64)
    own = OWN_GROUP_START
    for i, clip in enumerate(clips):
        if clip.group is None:
            groups[i] = own
            own += 1
        else:
            groups[i] = clip.group
    return groups


def clips_fingerprint(clips: Sequence[Clip], settings: dict) -> str:
    """A digest of ``settings`` and of every clip's path, size and modification time: equal exactly when a cache made
    from these clips with these settings can be reused."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for clip in clips:
        try:
            stat = clip.path.stat()
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:  # a link to nothing: the build skips it, with its reason
            size = mtime = -1
        # surrogateescape: a file name that is not UTF-8 is hashed as the bytes it is on disk
        digest.update(f"{clip.relative}\0{clip.class_name}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def same_frames(fingerprint: str | None, dataset: Dataset) -> bool:
    """True when ``fingerprint`` (a bundle's ``data_fingerprint``) names this dataset's frames, flow or no flow."""
    settings = dataset.settings
    return fingerprint is not None and fingerprint in (
        settings.get("fingerprint"),
        settings.get("fingerprint_without_flow"),
    )


def current_cache(out, load, fingerprint: str, keys=("fingerprint",), progress: bool = True, what: str = "Cache"):
    """The cache at ``out`` (read by ``load``) when one of its ``keys`` settings is ``fingerprint`` (said when
    ``progress``: "``what`` ``out`` is up to date"), else None."""
    try:
        cached = load(out) if out is not None and Path(out).is_file() else None
    except DatasetError:
        return None
    if cached is None or all(cached.settings.get(key) != fingerprint for key in keys):
        return None
    if progress:
        print(f"{what} {out} is up to date: {cached.summary()}")
    return cached


def class_names(clips: Sequence[Clip], classes: Sequence[str] | None) -> list[str]:
    """The classes asked for, or (None) those of the clips found, in their order."""
    return list(dict.fromkeys(c.class_name for c in clips)) if classes is None else list(classes)


def build_dataset(
    root: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    classes: Sequence[str] | None = None,
    sequence_length: int = 20,
    image_size: int | tuple[int, int] = 64,
    workers: int | None = None,
    allow_short: bool = False,
    progress: bool = True,
    extractor: str = "har.video:extract_frames",
    flow: bool = False,
) -> BuildReport:
    """Extract ``sequence_length`` frames from every clip under ``root`` and (with ``out``) cache them.

    Many parameters because it is the notebooks' and command line's one call for a dataset. Decodes on
    ``workers`` processes (``decode_clips``): a decoder that crashes on a clip costs that clip only. Unreadable clips
    and clips shorter than the sequence (unless ``allow_short``) are skipped with their reason, classes left without
    clips dropped. Peak memory stays close to the cache's size. The cache is written atomically, and loaded instead
    when ``out`` holds one of the same files and settings. ``extractor`` (``"module:function"``, called like
    ``har.video.extract_frames``): a plug-in decoder, or a test's. ``flow`` adds each frame's optical flow.
    """
    image_size = (int(image_size), int(image_size)) if isinstance(image_size, int) else tuple(map(int, image_size))
    check_clip_shape(sequence_length, image_size, 5 if flow else 3)
    clips, stray = discover_clips(root, classes)
    settings = {"format": CACHE_FORMAT, "classes": class_names(clips, classes), "sequence_length": sequence_length,
                "image_size": list(image_size), "allow_short": allow_short, "colour_order": "RGB"}  # fmt: skip
    if flow:
        settings["flow"] = {"method": "DIS fast", "max_side": FLOW_MAX_SIDE, "units_per_pixel": FLOW_UNITS}
    fingerprint = clips_fingerprint(clips, settings)
    without_flow = clips_fingerprint(clips, {k: v for k, v in settings.items() if k != "flow"})
    # A cache with flow serves a request without it: the same frames, and the flow left unused.
    keys = ("fingerprint",) if flow else ("fingerprint", "fingerprint_without_flow")
    cached = current_cache(out, load_dataset, fingerprint, keys, progress)
    if cached is not None:
        skipped = [tuple(s) for s in cached.settings.get("skipped", [])]
        return BuildReport(cached, skipped, stray, True, list(cached.settings.get("dropped_classes", [])))
    frames, flows, counts, kept, skipped = _extract(clips, settings, workers=workers, extractor=extractor,
                                                    progress=progress)  # fmt: skip
    labels, groups, names, dropped = labelled(root, clips, kept, settings["classes"], skipped)
    settings.update(fingerprint=fingerprint, fingerprint_without_flow=without_flow, skipped=skipped,
                    dropped_classes=dropped)  # fmt: skip
    dataset = Dataset(frames, labels, groups, names, [clips[i].relative for i in kept], settings, counts, flows)
    if progress:
        print_report(dataset, skipped, dropped)
    if out is not None:
        save_dataset(dataset, out)
    return BuildReport(dataset, skipped, stray, dropped_classes=dropped)


def print_report(dataset, skipped: list[tuple[str, str]], dropped: Sequence[str] = ()) -> None:
    """Print the clips a build skipped (and why), the classes it left out, and the dataset's summary."""
    for relative, reason in skipped:
        print(f"skipped {relative}: {reason}")
    if dropped:
        print(f"left out class(es) without a usable clip: {', '.join(dropped)}")
    print(dataset.summary())


def _extract(clips: Sequence[Clip], settings: dict, *, workers, extractor: str, progress: bool):
    """Decode every clip on worker processes into arrays preallocated as uint8 (flow apart): the frames, the flow
    (None without), the kept clips' frame counts, the kept clips' indices, and (clip, reason) of the skipped ones."""
    length, size, flow = settings["sequence_length"], tuple(settings["image_size"]), "flow" in settings
    need = len(clips) * length * size[0] * size[1] * (5 if flow else 3)
    if need > _memory():
        raise DatasetError(f"{len(clips)} clips of {length} frames of {size[0]}x{size[1]} would take "
                           f"{need / 2**30:,.1f} GiB, more than this machine's {_memory() / 2**30:,.0f} GiB: "
                           "use fewer classes, frames or pixels")  # fmt: skip
    frames = np.empty((len(clips), length, *size, 3), dtype=np.uint8)
    flows = np.empty((len(clips), length, *size, 2), dtype=np.uint8) if flow else None
    counts, reasons = np.zeros(len(clips), dtype=np.int64), {}
    flow_kwargs = {"flow": True} if flow else {}
    decoded = decode_clips(clips, length, size, workers=workers, extractor=extractor, progress=progress,
                           allow_short=settings["allow_short"], **flow_kwargs)  # fmt: skip
    for i, result, reason in decoded:
        if reason is not None:
            reasons[i] = reason
            continue
        if isinstance(result, tuple):  # (frames, frames decoded); a plug-in may give frames only
            result, counts[i] = result
        frames[i] = result[..., :3]
        if flows is not None:
            flows[i] = result[..., 3:]
    kept = np.array([i for i in range(len(clips)) if i not in reasons], dtype=np.int64)
    flows = None if flows is None else _compact(flows, kept)
    return _compact(frames, kept), flows, counts[kept], kept, [(clips[i].relative, reasons[i]) for i in sorted(reasons)]


def decode_clips(clips: Sequence[Clip], length: int, size, *, workers, progress: bool, desc="Extracting frames",
                 extractor="har.video:extract_frames", **kwargs):  # fmt: skip
    """(index, result, None) or (index, None, reason) of every clip, decoded on ``workers`` processes (default: one per
    core) with a progress bar: ``extractor(path, length, size, with_count=True, **kwargs)``, tried once more with FFmpeg
    when the decoder crashes."""
    jobs = [(str(c.path), length, size) for c in clips]
    outcomes = run_in_workers(extractor, jobs, kwargs={"with_count": True, **kwargs}, what=[c.relative for c in clips],
                              workers=workers or os.cpu_count() or 1, retry_kwargs={"backend": "ffmpeg"})  # fmt: skip
    for i, result, error in tqdm(outcomes, total=len(clips), desc=desc, unit="clip", disable=not progress):
        reason = None if error is None else str(error).removeprefix(f"{clips[i].path}: ")
        yield i, result, None if reason is None else reason.removeprefix(f"{clips[i].relative}: ")


def _memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def _compact(array: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """``array[kept]`` (``kept`` increasing) without a second copy: the kept rows moved down in place."""
    for new, old in enumerate(kept):
        if new != old:
            array[new] = array[old]
    return array[: len(kept)]


def labelled(root, clips: Sequence[Clip], kept: np.ndarray, class_names: list[str], skipped: Sequence = ()):
    """Labels, groups, classes and the classes left out, of the ``clips`` at ``kept`` (those that could be read).

    A class without a single usable clip would be a label no model can learn: it is left out (and listed). No clip
    read (``skipped`` says why), or fewer than two classes left, raise ``DatasetError``.
    """
    if not len(kept):
        raise DatasetError(
            f"{root}: none of the {len(clips)} clips could be read" + (f" ({skipped[0][1]}, ...)" if skipped else "")
        )
    present = {clips[i].class_name for i in kept}
    dropped = [name for name in class_names if name not in present]
    class_names = [name for name in class_names if name in present]
    if len(class_names) < 2:
        raise DatasetError(
            f"{root}: clips of at least 2 classes are needed, usable clips were found for "
            f"{', '.join(class_names)} only" + (f" (no usable clip in {', '.join(dropped)})" if dropped else "")
        )
    label_of = {name: i for i, name in enumerate(class_names)}
    labels = np.array([label_of[clips[i].class_name] for i in kept], dtype=np.int64)
    return labels, assign_groups(clips)[kept], class_names, dropped


def save_dataset(dataset: Dataset, path: str | os.PathLike) -> Path:
    """Write the cache atomically: to a temporary file in the same folder, renamed only when complete."""
    flow = {} if dataset.flow is None else {"flow": dataset.flow}
    return save_cache(dataset, path, frames=dataset.frames, **flow)


def save_cache(dataset, path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Write a cache atomically: ``arrays`` (the frames and flow, or the features of ``har.features``) and what every
    cache holds of its clips, ``dataset``'s labels, groups, classes, paths, frame counts (when known) and settings."""
    from har.files import atomic_write

    counts = {} if dataset.frame_counts is None else {"frame_counts": np.asarray(dataset.frame_counts, np.int64)}
    with atomic_write(path) as tmp, tmp.open("wb") as handle:
        np.savez(
            handle,
            **arrays,
            labels=dataset.labels,
            groups=dataset.groups,
            classes=np.array(dataset.classes, dtype=str),
            paths=np.array(dataset.paths, dtype=str),
            **counts,
            settings=np.array(json.dumps(dataset.settings)),
        )
    return Path(path)


def read_cache(path: str | os.PathLike, what: str, required: set[str], hint: str = "") -> dict[str, np.ndarray]:
    """The arrays of a cache file (``what``: "dataset cache", ...), or ``DatasetError`` in one line: no such file
    (``hint`` says how to make one), not an ``.npz`` archive, damaged, or without one of the ``required`` arrays."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such {what}{hint}")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise DatasetError(f"{path}: not a {what} (a single array, not an .npz archive)")
        with data:
            missing = required - set(data.files)
            if missing:
                raise DatasetError(f"{path}: not a {what} (missing {', '.join(sorted(missing))})")
            return {name: data[name] for name in data.files}
    except DatasetError:
        raise
    except (OSError, ValueError, EOFError, KeyError, AttributeError, zipfile.BadZipFile) as error:
        reason = " ".join(str(error).split())
        raise DatasetError(f"{path}: not a readable {what} ({reason})") from None


def cache_holds(path: str | os.PathLike, name: str) -> bool:
    """True when ``path`` is an ``.npz`` cache holding an array ``name`` (``"features"``: a feature cache); False for
    anything else, which the loaders then explain."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return name in data.files
    except Exception:  # not a readable archive: the loader says why, in one line
        return False


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Load a dataset cache written by ``build_dataset``; ``DatasetError`` (one line) if it is not one: every field is
    checked against the cache contract (see the module docstring), so a damaged or foreign file fails here with a
    reason, not later inside TensorFlow."""
    required = {"frames", "labels", "groups", "classes", "paths"}
    arrays = read_cache(path, "dataset cache", required, " (build it with `python -m har build-dataset`)")
    return _checked_dataset(Path(path), arrays)


def _checked_dataset(path: Path, arrays: dict[str, np.ndarray]) -> Dataset:
    frames = arrays["frames"]
    if frames.dtype != np.uint8 or frames.ndim != 5 or frames.shape[-1] != 3:
        raise DatasetError(f"{path}: frames must be uint8 [N, T, H, W, 3], got {frames.dtype} {frames.shape}")
    for name in ("labels", "groups"):
        if arrays[name].ndim != 1 or not np.issubdtype(arrays[name].dtype, np.integer):
            raise DatasetError(f"{path}: {name} must be integers [N], got {arrays[name].dtype} {arrays[name].shape}")
    for name in ("classes", "paths"):
        if arrays[name].ndim != 1 or arrays[name].dtype.kind != "U":
            raise DatasetError(f"{path}: {name} must be strings [N], got {arrays[name].dtype} {arrays[name].shape}")
    labels, classes = arrays["labels"].astype(np.int64), [str(c) for c in arrays["classes"]]
    if not len(labels) == len(arrays["groups"]) == len(arrays["paths"]) == len(frames):
        raise DatasetError(f"{path}: frames, labels, groups and paths differ in length")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise DatasetError(
            f"{path}: labels run from {labels.min()} to {labels.max()}, but there are {len(classes)} classes"
        )
    counts = arrays.get("frame_counts")
    if counts is not None and (counts.shape != labels.shape or not np.issubdtype(counts.dtype, np.integer)):
        raise DatasetError(f"{path}: frame_counts must be integers [N], got {counts.dtype} {counts.shape}")
    flow = arrays.get("flow")
    if flow is not None and (flow.dtype != np.uint8 or flow.shape != (*frames.shape[:-1], 2)):
        raise DatasetError(f"{path}: flow must be uint8 [N, T, H, W, 2] like its frames, got {flow.dtype} {flow.shape}")
    settings: dict = {}
    if "settings" in arrays:
        try:
            settings = json.loads(str(arrays["settings"]))
        except ValueError:
            settings = None
        if not isinstance(settings, dict):
            raise DatasetError(f"{path}: its settings are not the JSON object a dataset cache holds")
    return Dataset(
        frames=frames,
        labels=labels,
        groups=arrays["groups"].astype(np.int64),
        classes=classes,
        paths=[str(p) for p in arrays["paths"]],
        settings=settings,
        frame_counts=None if counts is None else counts.astype(np.int64),
        flow=flow,
    )
