"""Training: the uint8 ``tf.data`` input pipeline, distribution strategy, seeds, and ``fit`` with callbacks.

The pipeline never copies the dataset: it shuffles *indices*, and each batch gathers its clips from the
uint8 array (4 bytes fewer per pixel than float32, and 4x less to move to a GPU). The model scales
pixels to [0, 1] in its first layer.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from har import TIME_JITTER
from har.backend import keras, tf
from har.bundle import bundle_metadata, save_bundle
from har.dataset import Dataset
from har.errors import HarError
from har.splits import Split, validation_split
from har.video import FLOW_CHANNELS


def window_frame_step(dataset: Dataset, indices: np.ndarray) -> int:
    """The frame step a sliding window should take for a model trained on ``dataset[indices]``: the pace it saw.

    Training sees each clip's ``T`` frames spread over the whole clip, one every ``(n - 1) / (T - 1)`` frames;
    the step is the median of that over the training clips, rounded. A window whose frames are that far apart
    sees motion at the pace the model learned. It spans ``T - 1`` such steps, longer than the shorter clips;
    a window that would reach back across a shot cut spreads its frames over the shot so far instead
    (``har.predict.Predictor.window_indices``), so it never mixes in the clip before
    (``benchmarks/bench_windows.py`` measured the choice). 1 when the cache does not know its clips' lengths
    (caches before format 2).
    """
    steps = dataset.frame_steps(indices)
    if len(steps) == 0:
        return 1
    return max(1, round(float(np.median(steps))))


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``) so runs repeat."""
    keras.utils.set_random_seed(seed)


def get_strategy() -> tf.distribute.Strategy:
    """A TPU strategy on a Colab TPU, ``MirroredStrategy`` on several GPUs, otherwise the default strategy."""
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.NotFoundError):
        pass
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def use_mixed_precision_if_supported() -> bool:
    """Switch Keras to ``mixed_float16`` on GPUs with tensor cores (compute capability 7.0+); say if it did."""
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
        if capability >= (7, 0):
            keras.mixed_precision.set_global_policy("mixed_float16")
            return True
    return False


_STRATEGY: tf.distribute.Strategy | None = None


def training_strategy() -> tf.distribute.Strategy:
    """Get this machine ready to train, once: mixed precision on GPUs that support it, and the strategy.

    Build models under ``training_strategy().scope()``; ``train_model`` compiles and fits them under the
    strategy they were built in. The notebooks and the command line both start training this way, so a
    Colab GPU with tensor cores trains in ``mixed_float16`` (the models keep a float32 softmax) and several
    GPUs or a TPU share the batches, with nothing to change in the lesson's code.
    """
    global _STRATEGY
    if _STRATEGY is None:
        if use_mixed_precision_if_supported():
            print("mixed precision: float16 compute on this GPU, float32 weights and outputs")
        _STRATEGY = get_strategy()
    return _STRATEGY


def flip_clips(clips: tf.Tensor) -> tf.Tensor:
    """Mirror each clip left-right with probability 1/2, the same way for all of its frames.

    Only for classes that look the same mirrored: it turns SlideLeft into SlideRight and a clockwise spin
    into a counter-clockwise one, so the demo dataset trains without it. Clips with optical flow (5 channels)
    have their flow's x turned round as well (``128 + d`` becomes ``128 - d``): mirrored motion goes the other way.
    """
    flip = tf.random.uniform((tf.shape(clips)[0], 1, 1, 1, 1)) < 0.5
    mirrored = tf.reverse(clips, axis=[3])
    if clips.shape[-1] == FLOW_CHANNELS:
        flow_x = tf.cast(256 - tf.cast(mirrored[..., 3:4], tf.int32), tf.uint8)  # stored as 1..255, so exact
        mirrored = tf.concat([mirrored[..., :3], flow_x, mirrored[..., 4:]], axis=-1)
    return tf.where(flip, mirrored, clips)


def jitter_time(clips: tf.Tensor, amount: float = 0.25) -> tf.Tensor:
    """Resample each clip's frames over a random part of its time span: a random speed-up or slow-down.

    Each clip keeps its frames in order, but starts up to ``amount`` of its length late and ends up to
    ``amount`` early, resampled back to ``T`` frames (some frames repeat). The model then sees each action
    at several paces, as a sliding window over a video may show it; the order of frames, which tells Grow
    from Shrink, is never reversed.
    """
    length = clips.shape[1] if clips.shape[1] is not None else tf.shape(clips)[1]
    batch = tf.shape(clips)[0]
    last = tf.cast(length - 1, tf.float32)
    cut = tf.random.uniform((batch, 2), 0.0, amount) * last
    start, end = cut[:, :1], last - cut[:, 1:]
    steps = tf.linspace(0.0, 1.0, length)[None, :]
    indices = tf.cast(tf.round(start + (end - start) * steps), tf.int32)
    return tf.gather(clips, indices, batch_dims=1)


def make_pipeline(
    frames,
    labels: np.ndarray,
    indices: np.ndarray,
    *,
    batch_size: int = 4,
    shuffle: bool = False,
    augment: bool = False,
    time_jitter: float = 0.0,
    drop_remainder: bool = False,
    seed: int = 27,
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of (uint8 clips, int labels) batches over ``frames[indices]``, prefetched.

    ``frames`` is the dataset's frames, or what ``Dataset.inputs`` gives a model reading optical flow.

    Shuffles the index list each epoch when ``shuffle``; gathers one batch at a time from the uint8 array.
    ``drop_remainder`` leaves out the last, short batch so that every batch has the same, static size,
    which lets TensorFlow build a faster graph (the way Keras batches NumPy arrays); for a shuffled
    training set no clip is left out for good, only a different few in each epoch. ``augment`` mirrors clips
    (``flip_clips``); ``time_jitter`` resamples their time span (``jitter_time``, 0 for none).
    """
    indices = np.asarray(indices, dtype=np.int64)
    drop_remainder = drop_remainder and len(indices) >= batch_size
    batch_shape = batch_size if drop_remainder else None

    def gather(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return frames[batch], labels[batch].astype(np.int64)

    def load(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        clips, targets = tf.numpy_function(gather, [batch], (tf.as_dtype(frames.dtype), tf.int64))
        clips = tf.ensure_shape(clips, (batch_shape, *frames.shape[1:]))
        if augment:
            clips = flip_clips(clips)
        if time_jitter > 0:
            clips = jitter_time(clips, time_jitter)
        return clips, tf.ensure_shape(targets, (batch_shape,))

    data = tf.data.Dataset.from_tensor_slices(indices)
    if shuffle:
        data = data.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size, drop_remainder=drop_remainder)
    return data.map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model whenever ``val_loss`` improves, atomically.

    Keras' ``ModelCheckpoint`` writes the ``.keras`` file in place, so a full disk or an interrupted
    save leaves a truncated file under the checkpoint's name; this one writes a temporary file beside it
    and renames it only when complete, so the last good checkpoint always survives.
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss"):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = float("inf")

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not value < self.best:
            return
        from har.workspace import atomic_write

        self.best = float(value)
        with atomic_write(self.path, suffix=".keras") as tmp:
            self.model.save(tmp)


class HistoryCSV(keras.callbacks.Callback):
    """Writes every epoch's figures to a CSV file, the whole file each epoch, atomically.

    Keras' ``CSVLogger`` appends in place, so a full disk leaves an empty or cut-off log; this one always leaves the
    last complete one.
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        self.rows: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        import csv

        from har.workspace import atomic_write

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
    model: keras.Model,
    dataset: Dataset,
    fit_indices: np.ndarray,
    val_indices: np.ndarray,
    *,
    epochs: int = 50,
    batch_size: int = 4,
    patience: int = 10,
    learning_rate: float = 1e-3,
    augment: bool = False,
    time_jitter: float = TIME_JITTER,
    seed: int = 27,
    out: str | os.PathLike | None = None,
    metadata: dict | None = None,
    callbacks: list | None = None,
    verbose: int | str = "auto",
) -> TrainResult:
    """Compile and fit ``model`` on ``dataset`` (Adam, sparse categorical cross-entropy, accuracy).

    EarlyStopping watches ``val_loss`` and restores the best weights. With ``out`` (a ``.keras`` path), a
    checkpoint of the best model and a CSV log go to ``<out stem>_logs/`` and the final model is saved
    at ``out`` as a bundle carrying the dataset's classes and sizes plus ``metadata``. ``callbacks`` are
    extra Keras callbacks (a learning-rate schedule, say), run after the built-in ones.
    ``augment`` mirrors clips left-right (not a feature cache's vectors, which have no left and right);
    ``time_jitter`` resamples each clip's time span (``jitter_time``).
    Bad arguments (no epochs, one class, a bundle name that is not ``.keras``) raise ``HarError`` before
    any training starts.
    """
    check_training_arguments(dataset, fit_indices, val_indices, epochs=epochs, batch_size=batch_size,
                             patience=patience, learning_rate=learning_rate, out=out,
                             time_jitter=time_jitter)  # fmt: skip
    with model.distribute_strategy.scope():  # the strategy the model was built under (training_strategy)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    built_in: list[keras.callbacks.Callback] = [
        EpochClock(),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, mode="min", restore_best_weights=True),
    ]
    files: dict[str, Path] = {}
    if out is not None:
        out = Path(out)
        logs = out.with_name(f"{out.stem}_logs")
        logs.mkdir(parents=True, exist_ok=True)
        files = {"checkpoint": logs / "checkpoint.keras", "history": logs / "history.csv"}
        built_in += [BestCheckpoint(files["checkpoint"]), HistoryCSV(files["history"])]
    inputs = dataset.inputs(model.input_shape[-1])  # the frames; with the flow for the two-stream model
    augment = augment and len(inputs.shape) == 5  # a feature cache's vectors [N, T, D] have no left and right
    train_data = make_pipeline(
        inputs,
        dataset.labels,
        fit_indices,
        batch_size=batch_size,
        shuffle=True,
        augment=augment,
        time_jitter=time_jitter,
        drop_remainder=True,
        seed=seed,
    )
    val_data = make_pipeline(inputs, dataset.labels, val_indices, batch_size=batch_size)
    fit = model.fit(
        train_data,
        validation_data=val_data,
        epochs=epochs,
        callbacks=built_in + list(callbacks or []),
        shuffle=False,
        verbose=verbose,
    )
    result = TrainResult(model, dict(fit.history), np.asarray(fit_indices), np.asarray(val_indices), files=files)
    if out is not None:
        info = bundle_metadata(
            dataset.classes, dataset.sequence_length, dataset.image_size, model=model.name, **(metadata or {})
        )
        info["epochs_run"] = len(result.history.get("loss", []))
        seconds = result.history.get("epoch_seconds", [])
        info["epoch_seconds"] = round(float(np.median(seconds)), 2) if seconds else None  # the approaches table
        steps = dataset.frame_steps(fit_indices)
        info["frame_step"] = window_frame_step(dataset, fit_indices)  # the sliding window's (har.predict)
        info["training_frame_step"] = round(float(np.median(steps)), 2) if len(steps) else None
        result.bundle = save_bundle(model, out, info)
    return result


def check_training_arguments(
    dataset: Dataset,
    fit_indices: np.ndarray,
    val_indices: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    patience: int,
    learning_rate: float,
    out: str | os.PathLike | None = None,
    time_jitter: float = 0.0,
) -> None:
    """Raise ``HarError`` for training that cannot mean anything, before any time is spent on it."""
    if epochs < 1 or batch_size < 1 or patience < 0 or not learning_rate > 0:
        raise HarError(
            f"epochs and batch size must be at least 1, patience at least 0 and the learning rate above 0 "
            f"(got epochs={epochs}, batch_size={batch_size}, patience={patience}, learning_rate={learning_rate})"
        )
    if not 0 <= time_jitter < 0.5:
        raise HarError(f"time_jitter is the share of a clip cut at each end, from 0 to below 0.5 (got {time_jitter})")
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
    model: keras.Model,
    dataset: Dataset,
    split: Split,
    *,
    validation_fraction: float = 0.2,
    max_clips: int | None = None,
    **kwargs,
) -> TrainResult:
    """``train_model`` on the training side of ``split``, validating on a part of it carved the same way.

    ``max_clips`` trains on at most that many of the training clips, and validates on at most that many, drawn at
    random (with the training seed): a quick run, as the exercises' solutions make in CI. ``None``: every clip.
    """
    inner = validation_split(split, dataset.labels, dataset.groups, validation_fraction, classes=dataset.classes)
    if max_clips is not None:
        rng = np.random.default_rng(kwargs.get("seed", 27))
        fit, val = rng.permutation(inner.train)[:max_clips], rng.permutation(inner.test)[:max_clips]
        inner = replace(inner, train=fit, test=val)
    metadata = {
        "split": split.describe(),
        "data_fingerprint": dataset.settings.get("fingerprint"),
        **kwargs.pop("metadata", {}),
    }
    return train_model(model, dataset, inner.train, inner.test, metadata=metadata, **kwargs)


def find_or_train(
    name: str, cache: str | os.PathLike, out: str | os.PathLike, *, epochs: int, seed: int = 27, **options
) -> Path:
    """The model bundle ``out`` when notebooks 04/05 saved it for this dataset, else that model trained here.

    A notebook opened alone (a new Colab runtime, say) can then go on: the model ``name`` (``har.models``,
    the layers notebooks 04 and 05 write out) is trained with the command line's recipe on the group split of
    ``cache``, for at most ``epochs`` epochs. Prints which it did and how long training took.
    """
    from har.bundle import bundle_mismatch, read_metadata, trained_on
    from har.dataset import load_dataset
    from har.models import build_metadata, build_model
    from har.splits import group_split

    out = Path(out)
    dataset = load_dataset(cache)
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
