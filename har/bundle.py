"""Model bundles: one ``.keras`` file that carries what prediction needs besides the weights.

A ``.keras`` file is a zip archive; the bundle adds ``har.json`` to it: class names in label order, sequence
length, image size, colour order, what the model was trained on, ``training_frame_step`` (the median step, in
video frames, between a training clip's sampled frames) and ``frame_step`` (the step a sliding window takes; 1
when absent, in older bundles). Saving is atomic (``save_bundle``, written in notebook 04); loading uses Keras'
safe mode (no arbitrary code from the file).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from har.errors import BundleError

if TYPE_CHECKING:
    import keras

METADATA_NAME = "har.json"
BUNDLE_FORMAT = 1


def bundle_metadata(classes: list[str], sequence_length: int, image_size: tuple[int, int], **extra) -> dict:
    """The metadata every bundle carries; ``extra`` (model name, split, data fingerprint, ...) is kept too."""
    return {
        "format": BUNDLE_FORMAT,
        "classes": list(classes),
        "sequence_length": int(sequence_length),
        "image_size": [int(image_size[0]), int(image_size[1])],
        "colour_order": "RGB",
        "input": "uint8 0-255, scaled inside the model",
        **extra,
    }


@contextmanager
def bundle_file(path: str | os.PathLike, metadata: dict) -> Iterator[Path]:
    """A temporary ``.keras`` path to save a model to (``model.save``); when the block ends well, ``metadata`` goes
    into it and it becomes ``path``, else it is deleted: a bundle is written whole or not at all (``save_bundle``)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise BundleError(f"{path}: model bundles are .keras files")
    missing = {"classes", "sequence_length", "image_size"} - set(metadata)
    if missing:
        raise BundleError(f"bundle metadata lacks {', '.join(sorted(missing))}")
    from har.files import atomic_write

    with atomic_write(path, suffix=".keras") as tmp:
        yield tmp
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(METADATA_NAME, json.dumps(metadata, indent=2))


def read_metadata(path: str | os.PathLike) -> dict:
    """Read a bundle's metadata without loading the model (cheap; no TensorFlow)."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: no such model file")
    try:
        with zipfile.ZipFile(path) as archive:
            _check_sizes(path, archive)
            if METADATA_NAME not in archive.namelist():
                raise BundleError(
                    f"{path}: a Keras file without course metadata (class names, sizes); "
                    "save models with har.bundle.save_bundle or `python -m har train`"
                )
            metadata = json.loads(archive.read(METADATA_NAME))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise BundleError(f"{path}: not a model bundle (.keras file) ({error})") from None
    if not isinstance(metadata, dict) or "classes" not in metadata:
        raise BundleError(f"{path}: its {METADATA_NAME} is not bundle metadata")
    problem = _metadata_problem(metadata)
    if problem:
        raise BundleError(f"{path}: its {METADATA_NAME} is damaged: {problem}")
    return metadata


#: The most a bundle's JSON parts may unpack to, and how much more than its packed size any part may: a damaged or
#: hostile file is refused before it is unpacked into memory (real weights hardly compress).
MAX_JSON_BYTES = 16 << 20
MAX_PACKING_RATIO = 100


def _check_sizes(path: Path, archive: zipfile.ZipFile) -> None:
    for item in archive.infolist():
        huge = item.filename.endswith(".json") and item.file_size > MAX_JSON_BYTES
        bomb = item.file_size > MAX_JSON_BYTES and item.file_size > MAX_PACKING_RATIO * max(1, item.compress_size)
        if huge or bomb:
            raise BundleError(
                f"{path}: not a model bundle: its {item.filename} would unpack to {item.file_size / 2**20:,.0f} MiB "
                f"from {item.compress_size / 2**20:,.1f} MiB"
            )


def _positive_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _metadata_problem(metadata: dict) -> str | None:
    classes = metadata.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        return "'classes' must be a list of at least 2 class names"
    if not _positive_whole(metadata.get("sequence_length")):
        return "'sequence_length' must be a positive whole number"
    size = metadata.get("image_size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        return "'image_size' must be [height, width]"
    if not _positive_whole(metadata.get("frame_step", 1)):
        return "'frame_step' (the sliding window's) must be a positive whole number"
    if not isinstance(metadata.get("split"), dict | None):
        return "'split' must be an object"
    return None


def bundle_mismatch(metadata: dict, dataset) -> str | None:
    """Why a bundle cannot be tested on a ``har.dataset.Dataset`` (other clip shape or classes), or None.

    A bundle left over from another run (a quick-mode model beside a full-mode dataset, say) can take the
    same input shape and still name other classes: its answers would be read under the wrong names.
    """
    want = (metadata["sequence_length"], *metadata["image_size"])
    have = (dataset.sequence_length, *dataset.image_size)
    if tuple(want) != tuple(have):
        return (
            f"it expects clips of {want[0]} frames of {want[1]}x{want[2]}, "
            f"the dataset holds {have[0]} frames of {have[1]}x{have[2]}"
        )
    if list(metadata["classes"]) != list(dataset.classes):
        return f"it knows classes {metadata['classes']}, the dataset has {list(dataset.classes)}"
    return None


def trained_on(metadata: dict, dataset) -> bool:
    """True when the bundle was trained on this very dataset cache (same clips and settings; flow added or not)."""
    from har.dataset import same_frames

    return same_frames(metadata.get("data_fingerprint"), dataset)


def load_bundle(path: str | os.PathLike) -> tuple[keras.Model, dict]:
    """Load a bundle: the Keras model (safe mode on) and its metadata. Raises ``BundleError`` for other files."""
    metadata = read_metadata(path)
    import har.models  # noqa: F401  (registers the course's own layers, such as Channels)
    from har.backend import keras

    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:
        reason = " ".join(str(error).split())[:300]  # Keras' messages run over many lines
        raise BundleError(f"{path}: Keras cannot load this model ({type(error).__name__}: {reason})") from None
    from har.video import FLOW_CHANNELS

    channels = model.input_shape[-1] if model.input_shape[-1] in (3, FLOW_CHANNELS) else 3  # RGB, or RGB + flow
    expected = (None, metadata["sequence_length"], *metadata["image_size"], channels)
    if tuple(model.input_shape) != expected or model.output_shape[-1] != len(metadata["classes"]):
        raise BundleError(
            f"{path}: its {METADATA_NAME} does not match the model (the model takes {tuple(model.input_shape)[1:]} "
            f"and names {model.output_shape[-1]} classes; the metadata says {expected[1:]} and "
            f"{len(metadata['classes'])} classes)"
        )
    return model, metadata


# --- Written in the notebooks (`make format` copies each `# @save` function here: edit it there) ---


# notebooks/04_convlstm.ipynb
def save_bundle(model, path, metadata):
    """Save model as one .keras file that also carries metadata (class names, sizes), written whole or not at all."""
    with bundle_file(path, metadata) as saving:  # a temporary file, given the metadata and path's name when done
        model.save(saving)
    return path
