"""Training: the seed, the distribution strategy, and the plumbing around the recipe notebook 04 teaches.

The recipe (``clip_batches``, ``fit_model``) is written in notebook 04 and copied to the end of this module
(``# @save``, d2l's way). Here: what it needs around it (mirroring, an atomic checkpoint, the seconds of an epoch)
and ``train_model``/``fit_split``, which run it on a dataset and save a bundle, as the command line does.
"""

from __future__ import annotations

import csv
import functools
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from har.backend import keras, tf  # before tqdm.keras, which would import TensorFlow without hiding its start-up lines

# isort: split
from tqdm.auto import tqdm
from tqdm.keras import TqdmCallback

from har.bundle import bundle_metadata, bundle_mismatch, read_metadata, save_bundle, trained_on
from har.dataset import Dataset, load_dataset
from har.errors import HarError
from har.files import atomic_write
from har.models import build_metadata, build_model
from har.splits import DEFAULT_SEED, Split, group_split, validation_split
from har.video import FLOW_CHANNELS


def window_frame_step(dataset: Dataset, indices: np.ndarray) -> int:
    """The frame step a sliding window should take for a model trained on ``dataset[indices]``: the pace it saw.

    Training spreads each clip's ``T`` frames over the whole clip (``Dataset.frame_steps``); the median step of the
    training clips, rounded, lets a window see motion at the pace the model learned (``benchmarks/bench_windows.py``
    compares the choices). 1 when the cache does not know its clips' lengths (caches before format 2).
    """
    steps = dataset.frame_steps(indices)
    return max(1, round(float(np.median(steps)))) if len(steps) else 1


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``) so runs repeat."""
    keras.utils.set_random_seed(seed)


def get_strategy() -> tf.distribute.Strategy:
    """``MirroredStrategy`` on several GPUs (each trains on a share of every batch), otherwise the default strategy."""
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def use_mixed_precision_if_supported() -> bool:
    """Switch Keras to ``mixed_float16`` on GPUs with tensor cores (compute capability 7.0+); say if it did."""
    for gpu in tf.config.list_physical_devices("GPU"):
        if tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)) >= (7, 0):
            keras.mixed_precision.set_global_policy("mixed_float16")
            return True
    return False


@functools.cache
def training_strategy() -> tf.distribute.Strategy:
    """Get this machine ready to train, once: mixed precision on GPUs that support it, and ``get_strategy``.

    Build models under ``training_strategy().scope()``; ``fit_model`` compiles them under the strategy they were
    built in. The notebooks and the command line both start this way, so a Colab GPU with tensor cores trains in
    ``mixed_float16`` (the models keep a float32 softmax) and several GPUs share the batches, with nothing to change.
    """
    if use_mixed_precision_if_supported():
        print("mixed precision: float16 compute on this GPU, float32 weights and outputs")
    return get_strategy()


def flip_clips(clips: tf.Tensor, axis: int = 3) -> tf.Tensor:
    """Flip each clip with probability 1/2, every frame alike: left-right (``axis=3``) or upside down (``axis=2``).

    Only for classes that keep their name when flipped (mirroring turns SlideLeft into SlideRight). Clips with
    optical flow (5 channels) have the flow's x (or y) turned round as well: flipped motion goes the other way.
    """
    flip = tf.random.uniform((tf.shape(clips)[0], 1, 1, 1, 1)) < 0.5
    flipped = tf.reverse(clips, axis=[axis])
    if clips.shape[-1] == FLOW_CHANNELS:
        c = 3 if axis == 3 else 4  # the flow's x for a left-right flip, its y for an upside-down one
        turned = tf.cast(256 - tf.cast(flipped[..., c : c + 1], tf.int32), tf.uint8)  # stored as 1..255, so exact
        flipped = tf.concat([flipped[..., :c], turned, flipped[..., c + 1 :]], axis=-1)
    return tf.where(flip, flipped, clips)


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model whenever ``val_loss`` improves, whole or not at all: Keras' ``ModelCheckpoint`` writes in
    place, so a full disk or an interrupted save would leave a truncated file where the last good one was."""

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss"):
        super().__init__()
        self.path, self.monitor, self.best = Path(path), monitor, float("inf")

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value < self.best:
            self.best = float(value)
            with atomic_write(self.path, suffix=".keras") as tmp:
                self.model.save(tmp)


class HistoryCSV(keras.callbacks.Callback):
    """Writes every epoch's figures to a CSV file, the whole file each epoch, atomically: Keras' ``CSVLogger``
    appends in place, so a full disk would leave a cut-off log."""

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path, self.rows = Path(path), []

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        columns = list(dict.fromkeys(key for row in self.rows for key in row))
        with atomic_write(self.path, suffix=".csv") as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(self.rows)


class EpochClock(keras.callbacks.Callback):
    """Records seconds per epoch in the history (``epoch_seconds``)."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


@dataclass
class TrainResult:
    """What ``train_model`` returns: the trained model (best weights), its history and where files went."""

    model: keras.Model
    history: dict[str, list[float]]
    fit_indices: np.ndarray
    val_indices: np.ndarray
    bundle: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)


def train_model(
    model: keras.Model, dataset: Dataset, fit_indices: np.ndarray, val_indices: np.ndarray, *, epochs: int = 50,
    batch_size: int = 4, patience: int = 10, learning_rate: float = 1e-3, halve_lr_after: int | None = None,
    augment: bool = False, upside_down: bool = False, seed: int = DEFAULT_SEED, out: str | os.PathLike | None = None,
    metadata: dict | None = None, callbacks: list | None = None, verbose: int | str = "auto",
) -> TrainResult:  # fmt: skip
    """Notebook 04's recipe on ``dataset``: ``clip_batches`` of the clips ``fit_indices`` (flipped as ``augment`` and
    ``upside_down`` ask, but never a feature cache's vectors) and ``val_indices``, then ``fit_model``.

    Many parameters because they are the command line's training options, which the notebooks pass by name too.
    With ``out`` (a ``.keras`` path), a checkpoint of the best model and a CSV log go to ``log_files(out)``, and the
    final model is saved at ``out`` as a bundle (``training_metadata`` plus ``metadata``). Bad arguments raise
    ``HarError`` before any training starts.
    """
    check_training_arguments(dataset, fit_indices, val_indices, epochs=epochs, batch_size=batch_size,
                             patience=patience, learning_rate=learning_rate, out=out)  # fmt: skip
    files = {} if out is None else log_files(Path(out))
    extra = [HistoryCSV(files["history"])] if files else []
    extra += callbacks or []
    if verbose == 2:  # a log, as Keras' verbose=2: a line an epoch on stdout, where a bar would fill stderr

        def log(epoch, logs):
            print(", ".join([f"epoch {epoch + 1}/{epochs}", *(f"{k} {v:.4g}" for k, v in logs.items())]), flush=True)

        extra.append(keras.callbacks.LambdaCallback(on_epoch_end=log))
    inputs = dataset.inputs(model.input_shape[-1])  # the frames; with the flow for the two-stream model
    frames = len(inputs.shape) == 5  # a feature cache's vectors [N, T, D] have no left and right
    train_data = clip_batches(inputs, dataset.labels, fit_indices, batch_size, training=True, mirror=augment and frames,
                              upside_down=upside_down and frames, seed=seed)  # fmt: skip
    validation_data = clip_batches(inputs, dataset.labels, val_indices, batch_size)
    history = fit_model(model, train_data, validation_data, epochs=epochs, patience=patience,
                        learning_rate=learning_rate, halve_lr_after=halve_lr_after, checkpoint=files.get("checkpoint"),
                        callbacks=extra, progress=verbose not in (0, 2))  # fmt: skip
    result = TrainResult(model, dict(history.history), np.asarray(fit_indices), np.asarray(val_indices), files=files)
    if out is not None:
        info = training_metadata(dataset, fit_indices, result.history, model=model.name, **(metadata or {}))
        result.bundle = save_bundle(model, out, info)
    return result


def log_files(out: Path) -> dict[str, Path]:
    """Where training towards the bundle ``out`` keeps its checkpoint and CSV log: ``<out stem>_logs/`` (made)."""
    logs = out.with_name(f"{out.stem}_logs")
    logs.mkdir(parents=True, exist_ok=True)
    return {"checkpoint": logs / "checkpoint.keras", "history": logs / "history.csv"}


def training_metadata(dataset, fit_indices: np.ndarray, history: dict, **extra) -> dict:
    """What a bundle carries of its training: the dataset's classes, sizes and fingerprint (``har.bundle.trained_on``),
    the epochs run and their median seconds (notebook 06's table), and the pace of the training clips, which the
    sliding window keeps (``frame_step``); and ``extra``."""
    steps, seconds = dataset.frame_steps(fit_indices), history.get("epoch_seconds", [])
    return bundle_metadata(
        dataset.classes, dataset.sequence_length, dataset.image_size, **extra,
        data_fingerprint=dataset.settings.get("fingerprint"), epochs_run=len(history.get("loss", [])),
        epoch_seconds=round(float(np.median(seconds)), 2) if seconds else None,
        frame_step=window_frame_step(dataset, fit_indices),
        training_frame_step=round(float(np.median(steps)), 2) if len(steps) else None,
    )  # fmt: skip


def describe_fit(history: dict, epochs: int) -> str:
    """One line on how training ended: which epoch's weights early stopping restored, and whether the cap of
    ``epochs`` ended it first, the validation loss still falling at the last epoch (more epochs would help)."""
    losses = history["val_loss"]
    best, ran = int(np.argmin(losses)) + 1, len(losses)
    line = f"{ran} epochs; the weights of the best, epoch {best} (validation loss {losses[best - 1]:.3f}), restored"
    if ran < epochs:
        return line + ": early stopping ended it"
    if best == ran:
        return line + f": the cap of {epochs} epochs ended it while the validation loss still fell (raise EPOCHS)"
    return line + f": the cap of {epochs} epochs ended it, before early stopping would have"


def check_training_arguments(
    dataset: Dataset, fit_indices: np.ndarray, val_indices: np.ndarray, *, epochs: int, batch_size: int,
    patience: int, learning_rate: float, out: str | os.PathLike | None = None,
) -> None:  # fmt: skip
    """Raise ``HarError`` for training that cannot mean anything, before any time is spent on it."""
    if epochs < 1 or batch_size < 1 or patience < 0 or not learning_rate > 0:
        raise HarError(
            f"epochs and batch size must be at least 1, patience at least 0 and the learning rate above 0 "
            f"(got epochs={epochs}, batch_size={batch_size}, patience={patience}, learning_rate={learning_rate})"
        )
    if out is not None and Path(out).suffix != ".keras":
        raise HarError(f"{out}: model bundles are .keras files (Keras 3 does not save .h5 bundles)")
    trained = np.unique(dataset.labels[np.asarray(fit_indices, dtype=np.int64)])
    if len(trained) < 2:
        raise HarError(
            f"training needs clips of at least 2 classes, the training set has {len(trained)} "
            f"({', '.join(dataset.classes[i] for i in trained) or 'none'})"
        )
    if len(val_indices) == 0:
        raise HarError("no clips left for validation: the dataset is too small to split")


def fit_split(
    model: keras.Model, dataset: Dataset, split: Split, *, validation_fraction: float = 0.2,
    max_clips: int | None = None, **kwargs,
) -> TrainResult:  # fmt: skip
    """``train_model`` on the training side of ``split``, validating on a part of it carved the same way.

    ``max_clips`` trains and validates on at most that many clips each, drawn with the training seed: a quick run,
    as the exercises' solutions make in CI.
    """
    inner = validation_split(split, dataset.labels, dataset.groups, validation_fraction, classes=dataset.classes)
    if max_clips is not None:
        rng = np.random.default_rng(kwargs.get("seed", DEFAULT_SEED))
        inner = replace(
            inner, train=rng.permutation(inner.train)[:max_clips], test=rng.permutation(inner.test)[:max_clips]
        )
    metadata = {"split": split.describe(), **kwargs.pop("metadata", {})}
    return train_model(model, dataset, inner.train, inner.test, metadata=metadata, **kwargs)


def find_or_train(
    name: str, cache: str | os.PathLike, out: str | os.PathLike, *, epochs: int, seed: int = DEFAULT_SEED, **options
) -> Path:
    """The model bundle ``out`` when notebooks 04/05 saved it for this dataset, else that model trained here.

    So a notebook opened alone (a new Colab runtime, say) can go on: the model ``name`` is trained with the command
    line's recipe on the group split of ``cache``, for at most ``epochs`` epochs. Prints which it did.
    """
    out, dataset = Path(out), load_dataset(cache)
    if out.is_file():
        metadata = read_metadata(out)
        if not bundle_mismatch(metadata, dataset) and trained_on(metadata, dataset):
            print(f"model: {out} (made by 04_convlstm / 05_lrcn)")
            return out
        print(f"{out} was trained on other data: training {name} again")
    print(f"no {name} model for this dataset: training one here, as notebooks 04/05 do (at most {epochs} epochs)")
    start = time.perf_counter()
    split = group_split(dataset.labels, dataset.groups, seed=seed, classes=dataset.classes)
    set_seed(seed)
    with training_strategy().scope():
        model = build_model(name, len(dataset.classes), dataset.sequence_length, dataset.image_size, **options)
    result = fit_split(model, dataset, split, epochs=epochs, seed=seed, out=out, verbose=0, augment=True,
                       metadata=build_metadata(name, **options))  # fmt: skip
    print(f"trained in {time.perf_counter() - start:.0f} s ({len(result.history['loss'])} epochs) -> {out}")
    return out


# --- Written in the notebooks (`make format` copies each `# @save` function here: edit it there) ---


# notebooks/04_convlstm.ipynb
def clip_batches(clips, labels, indices, batch_size, *, training=False, mirror=False, upside_down=False, seed=27):
    """(clips, labels) batches of clips[indices] as a tf.data pipeline that gathers one batch at a time from the
    uint8 array. Training batches are shuffled each epoch and all of batch_size clips; mirror and upside_down flip
    clips at random, left-right and upside down."""
    indices = np.asarray(indices, dtype=np.int64)
    data = tf.data.Dataset.from_tensor_slices(indices)
    if training:
        data = data.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    size = batch_size if training and len(indices) >= batch_size else None  # None: the last batch may be short
    data = data.batch(batch_size, drop_remainder=size is not None)

    def gather(batch):  # runs in NumPy: only this batch's clips leave the array
        return clips[batch], labels[batch].astype(np.int64)

    def load(batch):
        x, y = tf.numpy_function(gather, [batch], (tf.as_dtype(clips.dtype), tf.int64))
        x, y = tf.ensure_shape(x, (size, *clips.shape[1:])), tf.ensure_shape(y, (size,))
        if mirror:
            x = flip_clips(x)  # left-right
        if upside_down:
            x = flip_clips(x, axis=2)
        return x, y

    return data.map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


# notebooks/04_convlstm.ipynb
def fit_model(model, train_data, validation_data, *, epochs, patience, learning_rate, halve_lr_after=None,
              checkpoint=None, callbacks=(), progress=True):  # fmt: skip
    """The course's recipe: Adam on the cross-entropy; early stopping on the validation loss, the best epoch's
    weights restored and, with checkpoint (a .keras path), saved there as training goes; the learning rate halved
    after halve_lr_after epochs without progress (None: never); a progress bar of the epochs. Returns Keras' History.
    Many parameters because each is one knob of the recipe, which the notebooks and the command line set by name."""
    with model.distribute_strategy.scope():  # the strategy the model was built in: Adam's variables live there too
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
    watch = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
        EpochClock(),  # the seconds of each epoch, in the history: notebook 06 compares them
    ]
    if halve_lr_after:
        watch.append(keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=halve_lr_after))
    if checkpoint is not None:
        watch.append(BestCheckpoint(checkpoint))
    if progress:  # one bar, the epochs, with the last epoch's figures beside it (Keras' own log is a line an epoch)
        watch.append(TqdmCallback(verbose=0, tqdm_class=tqdm, desc=f"training {model.name}"))
    return model.fit(
        train_data,
        validation_data=validation_data,
        epochs=epochs,
        callbacks=[*watch, *callbacks],
        shuffle=False,  # clip_batches shuffles the training clips itself
        verbose=0,
    )
