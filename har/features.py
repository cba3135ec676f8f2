"""A pretrained backbone's per-frame features at its own size, cached: the pretrained approach done properly.

ImageNet CNNs learned from photographs of about 224 x 224 pixels; fed 64 x 64 frames, as the other models are, they
see little they know. But 20 frames of 224 x 224 are 3 MB a clip, and UCF50's 6,600 clips would take 20 GB. So the
frames are streamed: every clip is decoded at 224 x 224 (in worker processes, as ``har.dataset`` decodes), its 20
frames go through the frozen backbone at once, and only their features are kept: 1,280 numbers a frame for
MobileNetV2, float16, 50 KB a clip (about 330 MB for all of UCF50). The model's head, an LSTM, then trains on
the feature cache in seconds an epoch (``har.train.fit_split`` takes a ``FeatureDataset`` as it takes a dataset, without
mirroring: features cannot be mirrored), and ``assemble`` puts the backbone back in front of it: the result is
``har.models.pretrained`` at 224 x 224, a bundle that predicts on videos like every other.

The cache holds ``features`` float16 ``[N, T, D]``, ``labels``, ``groups``, ``classes``, ``paths`` and
``frame_counts`` as a dataset cache does, and ``settings``: the backbone, the size, its weights as given
(``backbone_weights``: ``"imagenet"``, None or a file's ``sha256:`` digest) and as they were (``backbone_digest``, the
SHA-256 of the weight arrays): ``save_assembled`` refuses a backbone other than the one that made the features.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from har.dataset import (
    class_names,
    clips_fingerprint,
    current_cache,
    decode_clips,
    discover_clips,
    frame_steps,
    labelled,
    print_report,
    read_cache,
    save_cache,
)
from har.errors import DatasetError
from har.weights import DEFAULT_BACKBONE, describe, weights_id

#: The size ImageNet backbones were trained at.
BACKBONE_SIZE = 224
FEATURES_FORMAT = 1


@dataclass
class FeatureDataset:
    """Per-frame backbone features of a dataset's clips, and their labels, as the feature cache stores them."""

    features: np.ndarray  # float16 [N, T, D]
    labels: np.ndarray
    groups: np.ndarray
    classes: list[str]
    paths: list[str]
    settings: dict = field(default_factory=dict)
    frame_counts: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def sequence_length(self) -> int:
        """Frames per clip (T)."""
        return int(self.features.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the frames the backbone read."""
        height, width = self.settings.get("image_size", (BACKBONE_SIZE, BACKBONE_SIZE))
        return int(height), int(width)

    def frame_steps(self, indices: np.ndarray | None = None) -> np.ndarray:
        """The time step, in video frames, between the sampled frames of each clip (as ``Dataset.frame_steps``)."""
        return frame_steps(self.frame_counts, len(self), self.sequence_length, indices)

    def inputs(self, channels: int | None = None) -> Float32View:
        """What the head is fed: the features, as float32 a batch at a time (``channels``: the model's feature size).
        float16 halves the cache; the model gets float32, since oneDNN logs an error line for float16 inputs on CPUs
        without AVX-512."""
        if channels is not None and channels != self.features.shape[-1]:
            raise DatasetError(f"a model reading {channels} features a frame; this cache has {self.features.shape[-1]}")
        return Float32View(self.features)

    def summary(self) -> str:
        """One line: clips, classes, shape and memory, and what the same frames would take as pixels."""
        n, t, d = self.features.shape
        if self.settings.get("kind") == "pose":  # har.pose's keypoint cache: the last number a frame flags a person
            person = float(np.asarray(self.features[..., -1], np.float32).mean())
            return (f"{n} clips, {len(self.classes)} classes, keypoints [{n}, {t}, {d}] float16 "
                    f"({self.features.nbytes / 2**20:.1f} MiB), MoveNet; a person found in {person:.0%} "
                    "of the frames")  # fmt: skip
        height, width = self.image_size
        pixels = n * t * height * width * 3
        return (
            f"{n} clips, {len(self.classes)} classes, features [{n}, {t}, {d}] float16 "
            f"({self.features.nbytes / 2**20:.1f} MiB; the frames at {height}x{width} would take "
            f"{pixels / 2**20:,.0f} MiB), {self.settings.get('backbone')} with "
            f"{describe(self.settings.get('backbone_weights'))}"
        )


class Float32View:
    """An array seen as float32: indexing returns float32 copies of what it picks (a batch), nothing more."""

    def __init__(self, array: np.ndarray):
        self.array, self.shape, self.dtype = array, array.shape, np.dtype(np.float32)

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index) -> np.ndarray:
        return np.asarray(self.array[index], np.float32)


@dataclass
class FeatureReport:
    """What ``extract_features`` did: the features, the clips it skipped and why, and the backbone it ran."""

    dataset: FeatureDataset
    skipped: list[tuple[str, str]]
    backbone: object  # the frame model that made the features (``frame_backbone``): ``assemble`` needs it
    reused: bool = False


def frame_backbone(backbone: str = DEFAULT_BACKBONE, image_size: int = BACKBONE_SIZE, weights="imagenet"):
    """uint8 RGB frames ``[n, H, W, 3]`` -> features ``[n, D]``: what ``har.models.pretrained`` runs on each frame."""
    from har.backend import keras
    from har.models import backbone_cnn

    cnn, to_float = backbone_cnn(backbone, (image_size, image_size), weights)
    cnn.trainable = False
    frames = keras.Input(shape=(image_size, image_size, 3), dtype="uint8", name="frame")
    return keras.Model(frames, cnn(to_float(frames)), name=f"{backbone}_features")


def extract_features(
    root: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    classes: Sequence[str] | None = None,
    sequence_length: int = 20,
    image_size: int = BACKBONE_SIZE,
    backbone: str = DEFAULT_BACKBONE,
    weights: str | None = "imagenet",
    workers: int | None = None,
    progress: bool = True,
) -> FeatureReport:
    """Run every clip's ``sequence_length`` frames, ``image_size`` square, through a frozen backbone; keep the features.

    Many parameters because it is the notebooks' one call for the cache: the clips, the backbone, the workers. Runs
    ``frame_backbone`` through ``cache_per_frame``. A cache made with random weights (``weights=None``: offline, the
    tests) is never reused, since a new backbone has other weights; a weights file counts by its content.
    """
    if sequence_length < 1 or image_size < 32:
        raise DatasetError(f"sequence length must be positive and the backbone's frames at least 32 pixels wide "
                           f"(got {sequence_length} and {image_size})")  # fmt: skip
    settings = {"format": FEATURES_FORMAT, "sequence_length": sequence_length, "image_size": [image_size, image_size],
                "backbone": backbone, "backbone_weights": weights_id(weights)}  # fmt: skip

    def load():
        cnn = frame_backbone(backbone, image_size, weights)
        return cnn, cnn.predict_on_batch, {"backbone_digest": backbone_digest(cnn)}

    return cache_per_frame(root, out, settings, load, classes=classes, workers=workers, progress=progress,
                           reuse=weights is not None)  # fmt: skip


def cache_per_frame(root, out, settings: dict, load, *, classes=None, workers=None, progress=True, reuse=True):
    """What the feature and keypoint caches share: every clip's ``settings["sequence_length"]`` frames at
    ``settings["image_size"]``, decoded on ``workers`` processes as ``har.dataset.build_dataset`` samples them, and
    ``run(frames)`` kept (``[T, D]`` numbers a clip), where ``load()`` gives ``(model, run, more settings)``.

    Memory holds one clip's frames at a time, never the dataset's. Skips clips, drops classes, writes and reuses
    ``out`` (only when ``reuse``) as ``build_dataset`` does. Returns a ``FeatureReport`` (``backbone``: the model).
    """
    clips, _stray = discover_clips(root, classes)
    settings = {**settings, "classes": class_names(clips, classes)}
    fingerprint = clips_fingerprint(clips, settings)
    pose = settings.get("kind") == "pose"
    what = "Keypoint cache" if pose else "Feature cache"
    cached = current_cache(out, load_features, fingerprint, progress=progress, what=what) if reuse else None
    model, run, more = load()
    if cached is not None:
        return FeatureReport(cached, [tuple(s) for s in cached.settings.get("skipped", [])], model, reused=True)
    features, counts, reasons = {}, np.zeros(len(clips), np.int64), {}
    desc = "Pose keypoints" if pose else "Backbone features"
    size = tuple(settings["image_size"])
    for i, result, reason in decode_clips(clips, settings["sequence_length"], size, workers=workers, progress=progress,
                                          desc=desc):  # fmt: skip
        if reason is None:
            frames, counts[i] = result
            features[i] = np.asarray(run(frames), np.float32).astype(
                np.float16
            )  # via float32, as always: rounding differs
        else:
            reasons[i] = reason
    skipped = [(clips[i].relative, reasons[i]) for i in sorted(reasons)]
    kept = np.array(sorted(features), dtype=np.int64)
    labels, groups, names, dropped = labelled(root, clips, kept, settings["classes"], skipped)
    dataset = FeatureDataset(np.stack([features[i] for i in kept]), labels, groups, names,
                             [clips[i].relative for i in kept], frame_counts=counts[kept],
                             settings={**settings, "fingerprint": fingerprint, **more, "skipped": skipped,
                                       "dropped_classes": dropped})  # fmt: skip
    if progress:
        print_report(dataset, skipped)
    if out is not None:
        save_features(dataset, out)
    return FeatureReport(dataset, skipped, model)


def save_features(dataset: FeatureDataset, path: str | os.PathLike) -> Path:
    """Write the feature cache atomically (a temporary file beside it, renamed when complete)."""
    return save_cache(dataset, path, features=dataset.features)


def load_features(path: str | os.PathLike) -> FeatureDataset:
    """Load a feature cache written by ``extract_features``; ``DatasetError`` (one line) for anything else."""
    arrays = read_cache(path, "feature cache", {"features", "labels", "groups", "classes", "paths", "settings"})
    features, labels = arrays["features"], arrays["labels"]
    if features.ndim != 3 or features.dtype != np.float16 or len(features) != len(labels):
        raise DatasetError(f"{path}: features must be float16 [N, T, D] for its {len(labels)} clips")
    return FeatureDataset(
        features=features,
        labels=labels.astype(np.int64),
        groups=arrays["groups"].astype(np.int64),
        classes=[str(c) for c in arrays["classes"]],
        paths=[str(p) for p in arrays["paths"]],
        settings=json.loads(str(arrays["settings"])),
        frame_counts=arrays.get("frame_counts"),
    )


def feature_head(num_classes: int, sequence_length: int, feature_size: int, head: str = "average"):
    """``har.models.pretrained``'s head alone, on cached features ``[T, D]`` (``head``: ``"average"`` or ``"lstm"``,
    as ``har.models.pretrained_head`` builds them)."""
    from har.backend import keras
    from har.models import pretrained_head

    features = keras.Input(shape=(sequence_length, feature_size), name="features")
    return keras.Model(features, pretrained_head(num_classes, features, head), name="pretrained_head")


def backbone_digest(model) -> str:
    """The SHA-256 of a model's weight arrays, in order: equal exactly when two backbones compute the same features."""
    import hashlib

    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def assemble(backbone, head, *, backbone_name: str | None = None):
    """``har.models.pretrained`` at the backbone's size, with ``backbone``'s weights (the frame model that made the
    features, ``FeatureReport.backbone``) and the trained ``head``'s: a clip model that predicts on videos.
    ``backbone_name``: its ``keras.applications`` class, by default read from the frame model's name."""
    from har.backend import keras
    from har.models import pretrained

    backbone_name = backbone_name or backbone.name.removesuffix("_features")
    kind = "lstm" if any(isinstance(layer, keras.layers.LSTM) for layer in head.layers) else "average"
    sequence_length, _ = head.input_shape[1:]
    size = tuple(backbone.input_shape[1:3])
    model = pretrained(head.output_shape[-1], sequence_length, size, weights=None, backbone=backbone_name, head=kind)
    cnn = next(layer for layer in backbone.layers if hasattr(layer, "layers"))  # the keras.applications model
    model.get_layer("backbone").layer.set_weights(cnn.get_weights())
    copy_head_weights(head, model.layers[3:])
    return model


def copy_head_weights(head, layers) -> None:
    """Give ``layers`` (an assembled model's head, in order) the trained ``head``'s weights, layer by layer: what
    ``assemble`` and ``har.pose.assemble_pose`` share."""
    trained = [layer for layer in head.layers if layer.weights]
    for target, source in zip([layer for layer in layers if layer.weights], trained, strict=True):
        target.set_weights(source.get_weights())


def save_assembled(model, path: str | os.PathLike, dataset: FeatureDataset, fit_indices, history: dict) -> Path:
    """Save ``assemble``'s model as a bundle, as ``har.train.train_model`` saves its own (``save_cache_bundle``), with
    the backbone's weights. ``DatasetError`` when the model's backbone is not the one that made ``dataset``'s features:
    a head trained on one backbone's features reads another's as noise."""
    made_by = dataset.settings.get("backbone_digest")
    if made_by is not None and backbone_digest(model.get_layer("backbone").layer) != made_by:
        raise DatasetError("this model's backbone has other weights than the one that made the feature cache's "
                           "features: assemble the backbone that made them (FeatureReport.backbone)")  # fmt: skip
    weights = dataset.settings.get("backbone_weights")
    return save_cache_bundle(model, path, dataset, fit_indices, history, model="pretrained", backbone_weights=weights)


def save_cache_bundle(network, path: str | os.PathLike, dataset: FeatureDataset, fit_indices, history: dict,
                      **extra) -> Path:  # fmt: skip
    """Save ``network``, whose head trained on the clips ``fit_indices`` of a feature or keypoint cache
    (``save_assembled``, ``har.pose.save_pose_bundle``) with Keras' ``history``: what ``har.train.training_metadata``
    records, the cache's fingerprint, and ``extra``."""
    from har.bundle import save_bundle
    from har.train import training_metadata

    metadata = training_metadata(dataset, fit_indices, history, features=dataset.settings.get("fingerprint"), **extra)
    return save_bundle(network, path, metadata)


def split_for_cache(split, dataset, cache: FeatureDataset):
    """``split`` (of ``dataset``'s clips) as rows of ``cache``, clip by clip (by path): a head trained on the cache
    then holds out exactly the clips the dataset's models hold out. Clips missing from the cache (skipped when it
    was made) are left out of both sides."""
    from har.splits import Split

    position = {clip: i for i, clip in enumerate(cache.paths)}

    def rows(indices) -> np.ndarray:
        return np.array([position[dataset.paths[i]] for i in indices if dataset.paths[i] in position], dtype=int)

    return Split(rows(split.train), rows(split.test), split.kind, split.seed)
