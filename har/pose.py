"""Body pose as an approach: the keypoint cache (MoveNet's keypoints of every clip, ``har.movenet``), the head that
trains on it, and MoveNet put back in front of the trained head.

The keypoint cache is a ``har.features.FeatureDataset`` whose features are ``normalise``'s 52 numbers a frame (17 x,
17 y, 17 scores and the person flag), float16, with ``settings["kind"] == "pose"``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from har.errors import DatasetError
from har.features import cache_per_frame, copy_head_weights, save_cache_bundle
from har.movenet import (  # noqa: F401  (the names the notebooks import from har.pose)
    BONES,
    CONFIDENT,
    KEYPOINTS,
    MIN_KEYPOINTS,
    MOVENET_FILE,
    MOVENET_SHA256,
    MOVENET_URL,
    POSE_FEATURES,
    POSE_SIZE,
    MoveNet,
    movenet_file,
    normalise,
)
from har.weights import weights_id


def extract_keypoints(
    root: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    classes: Sequence[str] | None = None,
    sequence_length: int = 20,
    weights: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
):
    """Every clip's ``sequence_length`` frames through MoveNet, normalised (``normalise``): the keypoint cache, built,
    reused (same clips, settings and MoveNet file) and returned as ``har.features.cache_per_frame`` does."""
    if sequence_length < 1:
        raise DatasetError(f"sequence length must be positive (got {sequence_length})")
    path = movenet_file(weights, Path(out).parent if out is not None else "models")
    settings = {"kind": "pose", "format": 1, "sequence_length": sequence_length, "image_size": [POSE_SIZE, POSE_SIZE],
                "backbone": "MoveNet", "backbone_weights": weights_id(path)}  # fmt: skip

    def load():
        movenet = MoveNet(path.read_bytes())
        return movenet, lambda frames: normalise(movenet(frames)), {}

    return cache_per_frame(root, out, settings, load, classes=classes, workers=workers, progress=progress)


def keypoint_head(num_classes: int, sequence_length: int):
    """``har.models.pose_head`` alone, on a keypoint cache's ``[T, 52]``: what trains in seconds an epoch."""
    from har.backend import keras
    from har.models import pose_head

    keypoints = keras.Input(shape=(sequence_length, POSE_FEATURES), name="keypoints")
    return keras.Model(keypoints, pose_head(num_classes, keypoints), name="pose_head")


def assemble_pose(movenet: MoveNet, head):
    """MoveNet in front of a trained ``keypoint_head``: ``har.models.pose_model``, a clip model for videos."""
    from har.models import pose_model

    model = pose_model(head.output_shape[-1], head.input_shape[1], movenet.model)
    copy_head_weights(head, model.layers)
    return model


def save_pose_bundle(model, path: str | os.PathLike, dataset, fit_indices, history: dict) -> Path:
    """Save ``assemble_pose``'s model as a bundle, as ``har.features.save_assembled`` saves the pretrained one."""
    movenet = dataset.settings.get("backbone_weights")
    return save_cache_bundle(model, path, dataset, fit_indices, history, model="pose", movenet=movenet)


def keypoint_scores(dataset) -> dict[str, float]:
    """Each class's mean MoveNet score over its clips' frames and keypoints, 0 for frames without a person: how well
    pose reads that class (a keypoint cache, ``extract_keypoints``'s dataset), from its best to its worst."""
    n = len(KEYPOINTS)
    scores = np.asarray(dataset.features[..., 2 * n : 3 * n], np.float32).mean(axis=(1, 2))
    means = {name: float(scores[dataset.labels == i].mean()) for i, name in enumerate(dataset.classes)
             if (dataset.labels == i).any()}  # fmt: skip
    return dict(sorted(means.items(), key=lambda item: -item[1]))
