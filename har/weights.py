"""Pretrained weights: Keras's ImageNet download, a file of yours, or the weights folder of an offline machine.

Wherever the course takes a backbone's weights it takes ``"imagenet"`` (Keras downloads them), ``None`` (random
weights: only the plumbing is shown) or the path of a ``.weights.h5`` file. A machine that reaches no download names
a folder of such files in ``HAR_WEIGHTS``; without one, quick mode does not run the pretrained model.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from har.errors import HarError

#: The course's backbone, a ``keras.applications`` class: MobileNetV2 read the real clips better than
#: MobileNetV3Small (the README's real-video table).
DEFAULT_BACKBONE = "MobileNetV2"
#: The environment variable naming an offline folder of pretrained files.
WEIGHTS_ENV = "HAR_WEIGHTS"
#: What such a folder holds, by the name the course asks for: backbones without their top, MobileNetV2 with its
#: ImageNet top (a frame's ImageNet labels) and the labels themselves.
FILES = {
    "MobileNetV2": "mobilenet_v2_1.0_224_no_top.weights.h5",
    "MobileNetV3Small": "mobilenet_v3_small_1.0_224_no_top.weights.h5",
    "MobileNetV2+top": "mobilenet_v2_1.0_224.weights.h5",
    "imagenet_labels": "imagenet_labels.txt",
}


def local_weights(name: str) -> Path | None:
    """The file for ``name`` (a key of ``FILES``) in the ``HAR_WEIGHTS`` folder, or None without one."""
    folder = os.environ.get(WEIGHTS_ENV)
    if not folder or name not in FILES:
        return None
    path = Path(folder).expanduser() / FILES[name]
    return path if path.is_file() else None


def course_weights(name: str, quick: bool, weights="imagenet") -> str | None:
    """The ``weights`` to give the backbone ``name``: for ``"imagenet"``, the ``HAR_WEIGHTS`` file when there is one,
    else Keras's download in full mode and None in quick mode, which never downloads; anything else as it is."""
    if weights != "imagenet":
        return weights
    if path := local_weights(name):
        return str(path)
    return None if quick else "imagenet"


def not_run_reason(weights) -> str | None:
    """Why a pretrained model is not worth training with ``weights`` (None: random weights), or None when it is."""
    if weights is None:
        return (f"not run: no pretrained weights here (quick mode never downloads; set {WEIGHTS_ENV} to a folder of "
                f"weight files, or run in full mode, where Keras downloads them)")  # fmt: skip
    return None


def check_weights(weights) -> None:
    """``HarError`` (one line) when ``weights`` is neither ``"imagenet"``, None nor an existing file."""
    if weights is None or weights == "imagenet":
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise HarError(f"weights must be 'imagenet', None or a .weights.h5 file, not {weights!r}")
    if not Path(weights).is_file():
        raise HarError(f"{weights}: no such weights file (give a .weights.h5 file, 'imagenet' or None)")


def weights_id(weights) -> str | None:
    """How a cache or a bundle records ``weights``: ``"imagenet"``, None, or ``sha256:<digest>`` of the file's bytes
    (its content, not its name: two copies are the same weights, two versions under one name are not)."""
    if weights is None or weights == "imagenet":
        return weights
    with open(weights, "rb") as file:
        return "sha256:" + hashlib.file_digest(file, "sha256").hexdigest()


def describe(weights) -> str:
    """``weights`` (as given, or as ``weights_id`` records them) in words, for a notebook's output."""
    if weights is None:
        return "random weights (not pretrained)"
    if weights == "imagenet":
        return "ImageNet weights (Keras's download)"
    if str(weights).startswith("sha256:"):
        return f"ImageNet weights from a file ({weights[:19]})"
    return f"ImageNet weights from {Path(weights).name}"
