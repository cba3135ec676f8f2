"""The models of the course, each a function of (class count, sequence length, image size).

Every model takes uint8 clips ``[batch, T, H, W, 3]`` (RGB, 0-255) and scales them itself in its first layer, so the
dataset stays uint8 all the way to the model, and a saved model cannot be fed wrongly scaled frames. The notebooks'
models (04-06, ``APPROACHES``) are copied to the end of this module (``# @save``). Written here: the pretrained
backbone, the pose model, and ``build_model``, which builds any of them by name for the command line.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from har import APPROACHES, MODEL_NAMES  # noqa: F401  (in har itself, so the command line knows them without TensorFlow)
from har.backend import keras, tf
from har.errors import HarError
from har.movenet import POSE_FEATURES, POSE_SIZE, MoveNet, normalise
from har.weights import DEFAULT_BACKBONE, check_weights, weights_id

layers = keras.layers


def _clip_input(sequence_length: int, image_size: tuple[int, int]) -> keras.KerasTensor:
    return keras.Input(shape=(sequence_length, *image_size, 3), dtype="uint8", name="frames")


@keras.saving.register_keras_serializable(package="har")
class Channels(layers.Layer):
    """The channels ``[start, stop)`` of its input's last axis: a clip's RGB (0-3) or its optical flow (3-5).

    Keras has no layer that slices channels, and a ``Lambda`` would not load in safe mode; this one saves and
    loads with the model (``har.bundle.load_bundle`` imports this module first).
    """

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, inputs):
        return inputs[..., self.start : self.stop]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.stop - self.start)

    def get_config(self) -> dict:
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="har")
class PoseKeypoints(layers.Layer):
    """uint8 frames ``[..., H, W, 3]`` -> MoveNet's normalised keypoints ``[..., 52]`` (``har.movenet.normalise``).

    MoveNet (a TFLite model) travels inside the bundle as this layer's saved asset, so a pose bundle predicts with
    nothing but its ``.keras`` file, and loads in safe mode. The predictor runs it once per video frame, as it runs
    per-frame layers (``per_frame``).
    """

    per_frame = True

    def __init__(self, model: bytes | None = None, **kwargs):
        super().__init__(**{**kwargs, "trainable": False})  # nothing to train; saved configs carry the flag too
        self._model, self._movenet = model, None
        self.last_keypoints = None

    def get_config(self) -> dict:
        return super().get_config()  # MoveNet itself is an asset (save_assets), not a setting

    def _run(self, frames: np.ndarray) -> np.ndarray:
        if self._movenet is None:
            self._movenet = MoveNet(self._model)
        found = self._movenet(frames.reshape(-1, *frames.shape[-3:]))
        self.last_keypoints = found  # the skeletons of the frames of the last call: live labelling draws them
        return normalise(found).reshape(*frames.shape[:-3], -1).astype(np.float32)

    def call(self, frames):
        out = tf.numpy_function(self._run, [frames], tf.float32, stateful=False)
        return tf.ensure_shape(out, (*frames.shape[:-3], POSE_FEATURES))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-3], POSE_FEATURES)

    def save_assets(self, dir_path):
        Path(dir_path, "movenet.tflite").write_bytes(self._model)

    def load_assets(self, dir_path):
        self._model, self._movenet = Path(dir_path, "movenet.tflite").read_bytes(), None


def pose_head(num_classes: int, x):
    """The pose model's head on keypoints ``x`` ``[batch, T, 52]``: LSTM 64 (the order of poses is the action),
    dropout 0.3, softmax."""
    x = layers.LSTM(64, name="lstm")(x)
    x = layers.Dropout(0.3)(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32")(x)


def pose_model(num_classes: int, sequence_length: int, movenet: bytes) -> keras.Model:
    """MoveNet on every frame (``PoseKeypoints``), then ``pose_head``: what ``har.pose.assemble_pose`` bundles."""
    clips = _clip_input(sequence_length, (POSE_SIZE, POSE_SIZE))
    x = PoseKeypoints(movenet, name="keypoints")(clips)
    return keras.Model(clips, pose_head(num_classes, x), name="pose")


#: Backbones whose own preprocessing scales pixels to [-1, 1] (the others here, EfficientNet, take 0-255).
MINUS_ONE_TO_ONE = ("MobileNetV2", "MobileNetV3Small", "MobileNetV3Large")


def backbone_cnn(backbone: str, image_size: tuple[int, int], weights, *, include_top: bool = False):
    """An ImageNet CNN of ``keras.applications`` (average-pooled features without its top), and the layer that turns
    uint8 pixels into what it expects: what ``pretrained`` runs on every frame, and ``har.features`` caches.

    ``weights``: ``"imagenet"`` (Keras's download), None (random) or a ``.weights.h5`` file, refused in one line
    (``HarError``) when it is missing or does not fit the backbone. The returned layer scales pixels to [-1, 1] for
    MobileNets: a bare cast (``Rescaling(1.0)``) would let TensorFlow fuse the uint8 input into the first
    convolution, and oneDNN then logs an error line on CPUs without AVX-512.
    """
    check_weights(weights)
    constructor = getattr(keras.applications, backbone, None)
    if constructor is None:
        raise HarError(f"unknown backbone {backbone!r}: give a keras.applications class such as {DEFAULT_BACKBONE}")
    kwargs = {"include_top": include_top, "input_shape": (*image_size, 3)}
    if not include_top:
        kwargs["pooling"] = "avg"
    if backbone.startswith("MobileNetV3"):
        kwargs["include_preprocessing"] = False  # scaled to [-1, 1] by the layer below, as its own would
    from_file = weights not in (None, "imagenet")
    cnn = constructor(weights=None if from_file else weights, **kwargs)
    if from_file:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns once per layer it could not fill: the error says it all
            try:
                cnn.load_weights(weights)
            except (ValueError, OSError, KeyError) as error:
                raise HarError(f"{weights}: these weights do not fit {backbone} "
                               f"({str(error).splitlines()[0][:120]})") from None  # fmt: skip
    minus_one = backbone in MINUS_ONE_TO_ONE
    scale = layers.Rescaling(1 / 127.5 if minus_one else 1.0, offset=-1.0 if minus_one else 0.0, name="to_float")
    return cnn, scale


def imagenet_classifier(weights="imagenet", image_size: int = 224) -> keras.Model:
    """MobileNetV2 with its ImageNet top on uint8 frames ``[n, H, W, 3]``: 1,000 class probabilities a frame, what
    the backbone knew before any training of ours (``top_labels`` names them)."""
    cnn, to_float = backbone_cnn("MobileNetV2", (image_size, image_size), weights, include_top=True)
    frames = keras.Input(shape=(image_size, image_size, 3), dtype="uint8", name="frame")
    return keras.Model(frames, cnn(to_float(frames)), name="imagenet_classifier")


def top_labels(probabilities, k: int = 5, labels_file=None) -> list[list[tuple[str, float]]]:
    """The ``k`` likeliest ImageNet classes of each row of ``probabilities`` ``[n, 1000]``, as (name, probability),
    named by ``labels_file`` (one a line after a first line ``background``, as offline folders hold them) or, without
    one, by Keras's class index (a download)."""
    probabilities = np.asarray(probabilities)
    if labels_file is not None:
        names = Path(labels_file).read_text().splitlines()[1:]
        return [[(names[i], float(row[i])) for i in np.argsort(row)[::-1][:k]] for row in probabilities]
    decoded = keras.applications.imagenet_utils.decode_predictions(probabilities, top=k)
    return [[(name.replace("_", " "), float(p)) for _, name, p in row] for row in decoded]


#: The pretrained model's heads: the frames' features averaged (a frame classifier), or read in order by an LSTM.
PRETRAINED_HEADS = ("average", "lstm")


def pretrained_head(num_classes: int, x, head: str = "average"):
    """The pretrained model's head (``PRETRAINED_HEADS``) on per-frame features ``x`` ``[batch, T, D]``, then dropout
    0.3 and a softmax; an ``"average"`` head sees what the frames show, not their order."""
    if head not in PRETRAINED_HEADS:
        raise HarError(f"unknown head {head!r} (choose from {', '.join(PRETRAINED_HEADS)})")
    x = layers.GlobalAveragePooling1D(name="average")(x) if head == "average" else layers.LSTM(64, name="lstm")(x)
    x = layers.Dropout(0.3)(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32")(x)


def pretrained(
    num_classes: int, sequence_length: int = 20, image_size: tuple[int, int] = (64, 64), *,
    weights: str | None = "imagenet", backbone: str = DEFAULT_BACKBONE, fine_tune_layers: int = 0,
    head: str = "average",
) -> keras.Model:  # fmt: skip
    """An ImageNet CNN (``keras.applications``) on each frame, frozen, then ``pretrained_head``: the step up from LRCN.

    ``weights="imagenet"`` downloads the backbone's weights (do that on Colab); ``weights=None`` builds it untrained,
    as tests and offline runs do. ``fine_tune_layers`` unfreezes that many of the backbone's last layers (fine-tune
    with a small learning rate, after training the head). ImageNet CNNs expect about 224 x 224 frames:
    ``har.features`` trains this model's head on features cached at that size.
    """
    cnn, to_float = backbone_cnn(backbone, image_size, weights)
    cnn.trainable = fine_tune_layers > 0
    if fine_tune_layers > 0:
        for layer in cnn.layers[:-fine_tune_layers]:
            layer.trainable = False
    inputs = _clip_input(sequence_length, image_size)
    x = layers.TimeDistributed(cnn, name="backbone")(to_float(inputs))
    return keras.Model(inputs, pretrained_head(num_classes, x, head), name="pretrained")


def build_metadata(name: str, **options) -> dict:
    """What a bundle records of how ``build_model(name, ..., **options)`` built the model: for the pretrained model,
    its backbone's weights (``"imagenet"``, None, or a file's ``sha256:`` digest; notebook 06 shows no accuracy for a
    backbone without ImageNet's)."""
    return {"backbone_weights": weights_id(options.get("weights", "imagenet"))} if name == "pretrained" else {}


def build_model(
    name: str, num_classes: int, sequence_length: int = 20, image_size: tuple[int, int] = (64, 64), **kwargs
) -> keras.Model:
    """Build one of ``MODEL_NAMES`` by name (extra keyword arguments go to ``pretrained``)."""
    if name not in MODEL_NAMES:
        raise HarError(f"unknown model {name!r} (choose from {', '.join(MODEL_NAMES)})")
    if name == "lrcn" and min(image_size) < 64:
        raise HarError(f"the LRCN pools frames down by 64: it needs at least 64x64 frames, got {tuple(image_size)}")
    builder = globals()[name]  # every model is built by the function of this module that bears its name
    return builder(num_classes, sequence_length, tuple(image_size), **kwargs)


# --- Written in the notebooks (`make format` copies each `# @save` function here: edit it there) ---


# notebooks/04_convlstm.ipynb
def convlstm(num_classes, sequence_length=20, image_size=(64, 64)):
    """The tutorial's ConvLSTM: four ConvLSTM2D blocks, then Flatten and a softmax layer."""
    model = keras.Sequential(name="convlstm")
    model.add(keras.Input(shape=(sequence_length, *image_size, 3), dtype="uint8", name="frames"))
    model.add(layers.Rescaling(1 / 255, name="scale"))  # uint8 pixels to [0, 1]
    for i, filters in enumerate((4, 8, 14, 16)):
        model.add(
            layers.ConvLSTM2D(
                filters, kernel_size=(3, 3), activation="tanh", recurrent_dropout=0.2, return_sequences=True
            )
        )
        model.add(layers.MaxPooling3D(pool_size=(1, 2, 2), padding="same"))  # over space, not time
        if i < 3:
            model.add(layers.TimeDistributed(layers.Dropout(0.2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(num_classes, activation="softmax", dtype="float32"))  # float32 even on mixed precision
    return model


# notebooks/05_lrcn.ipynb
def lrcn(num_classes, sequence_length=20, image_size=(64, 64)):
    """The tutorial's LRCN: a small CNN on every frame (TimeDistributed), then an LSTM over the frames."""
    model = keras.Sequential(name="lrcn")
    model.add(keras.Input(shape=(sequence_length, *image_size, 3), dtype="uint8", name="frames"))
    model.add(layers.Rescaling(1 / 255, name="scale"))  # uint8 pixels to [0, 1]
    for i, (filters, pool) in enumerate(((16, 4), (32, 4), (64, 2), (64, 2))):  # frames must be 64x64 or more
        model.add(layers.TimeDistributed(layers.Conv2D(filters, (3, 3), padding="same", activation="relu")))
        model.add(layers.TimeDistributed(layers.MaxPooling2D((pool, pool))))
        if i < 3:
            model.add(layers.TimeDistributed(layers.Dropout(0.25)))
    model.add(layers.TimeDistributed(layers.Flatten()))  # each frame: 1 x 1 x 64 -> 64 numbers
    model.add(layers.LSTM(32))
    model.add(layers.Dense(num_classes, activation="softmax", dtype="float32"))  # float32 even on mixed precision
    return model


# notebooks/05_lrcn.ipynb
def frame_cnn(image_size, channels, num_classes=None, name="frame_cnn"):
    """The small CNN of the frame-based approaches: Conv2D 16 -> 32 -> 64 and global average pooling (64 features);
    with num_classes, dropout and a softmax on top. channels: 3 for one frame, more for frames (or flow) stacked."""
    cnn = keras.Sequential(name=name)
    cnn.add(keras.Input(shape=(*image_size, channels)))
    for i, filters in enumerate((16, 32, 64)):
        cnn.add(layers.Conv2D(filters, 3, padding="same", activation="relu"))
        cnn.add(layers.MaxPooling2D(2) if i < 2 else layers.GlobalAveragePooling2D())
    if num_classes:
        cnn.add(layers.Dropout(0.25))
        cnn.add(layers.Dense(num_classes, activation="softmax"))
    return cnn


# notebooks/05_lrcn.ipynb
def baseline(num_classes, sequence_length=20, image_size=(64, 64)):
    """Late fusion: frame_cnn turns each frame into 64 features on its own (TimeDistributed), each feature keeps its
    largest value over the frames (max pooling over time), and one softmax reads them."""
    model = keras.Sequential(name="baseline")
    model.add(keras.Input(shape=(sequence_length, *image_size, 3), dtype="uint8", name="frames"))
    model.add(layers.Rescaling(1 / 255, name="scale"))
    model.add(layers.TimeDistributed(frame_cnn(image_size, 3, name="frame_features"), name="per_frame"))
    model.add(layers.GlobalMaxPooling1D(name="max_over_time"))  # the frames meet here; their order is lost
    model.add(layers.Dropout(0.25))
    model.add(layers.Dense(num_classes, activation="softmax", dtype="float32"))
    return model


# notebooks/06_approaches.ipynb
def single_frame(num_classes, sequence_length=20, image_size=(64, 64)):
    """One frame, the middle one, through frame_cnn: time plays no part."""
    middle = sequence_length // 2
    model = keras.Sequential(name="single_frame")
    model.add(keras.Input(shape=(sequence_length, *image_size, 3), dtype="uint8", name="frames"))
    model.add(layers.Rescaling(1 / 255, name="scale"))  # uint8 pixels to [0, 1]
    model.add(layers.Cropping3D(((middle, sequence_length - middle - 1), (0, 0), (0, 0)), name="middle_frame"))
    model.add(layers.Reshape((*image_size, 3), name="one_frame"))  # [1, H, W, 3] -> [H, W, 3]
    model.add(frame_cnn(image_size, 3, num_classes, "frame_classifier"))
    model.add(layers.Activation("linear", dtype="float32", name="probabilities"))  # float32 on mixed precision
    return model


# notebooks/06_approaches.ipynb
def early_fusion(num_classes, sequence_length=20, image_size=(64, 64)):
    """The frames stacked on the channel axis (H x W x 3T), one 2-D CNN over the stack."""
    model = keras.Sequential(name="early_fusion")
    model.add(keras.Input(shape=(sequence_length, *image_size, 3), dtype="uint8", name="frames"))
    model.add(layers.Rescaling(1 / 255, name="scale"))
    model.add(layers.Permute((2, 3, 1, 4), name="time_last"))  # [T, H, W, 3] -> [H, W, T, 3]
    model.add(layers.Reshape((*image_size, 3 * sequence_length), name="stack_frames"))  # -> [H, W, 3T]
    model.add(frame_cnn(image_size, 3 * sequence_length, num_classes, "stack_classifier"))
    model.add(layers.Activation("linear", dtype="float32", name="probabilities"))
    return model


# notebooks/06_approaches.ipynb
def slow_fusion(num_classes, sequence_length=20, image_size=(64, 64)):
    """A small C3D-like 3-D CNN: Conv3D 16 -> 32 -> 64 -> 64 (3x3x3), pooling space first, then space and time."""
    model = keras.Sequential(name="slow_fusion")
    model.add(keras.Input(shape=(sequence_length, *image_size, 3), dtype="uint8", name="frames"))
    model.add(layers.Rescaling(1 / 255, name="scale"))
    for filters, pool in ((16, (1, 2, 2)), (32, (2, 2, 2)), (64, (2, 2, 2)), (64, None)):
        model.add(layers.Conv3D(filters, (3, 3, 3), padding="same", activation="relu"))
        if pool:
            model.add(layers.MaxPooling3D(pool, padding="same"))
    model.add(layers.GlobalAveragePooling3D())  # the mean over time and space
    model.add(layers.Dropout(0.25))
    model.add(layers.Dense(num_classes, activation="softmax", dtype="float32"))
    return model


# notebooks/06_approaches.ipynb
def two_stream(num_classes, sequence_length=20, image_size=(64, 64)):
    """A frame stream on the middle frame and a flow stream on the stacked flow; one softmax reads both."""
    middle = sequence_length // 2
    clips = keras.Input(shape=(sequence_length, *image_size, 5), dtype="uint8", name="frames")  # RGB + flow x, y
    x = layers.Rescaling(1 / 255, name="scale")(clips)
    frame = layers.Cropping3D(((middle, sequence_length - middle - 1), (0, 0), (0, 0)), name="middle_frame")(x)
    frame = layers.Reshape((*image_size, 5), name="one_frame")(frame)
    frame = Channels(0, 3, name="rgb")(frame)
    frame = frame_cnn(image_size, 3, name="frame_stream")(frame)
    flow = Channels(3, 5, name="flow")(x)
    flow = layers.Rescaling(255 / 32, offset=-128 / 32, name="to_pixels")(flow)  # stored as 128 + 32 x pixels
    flow = layers.Permute((2, 3, 1, 4), name="time_last")(flow)  # [T, H, W, 2] -> [H, W, T, 2]
    flow = layers.Reshape((*image_size, 2 * sequence_length), name="stack_flow")(flow)
    flow = frame_cnn(image_size, 2 * sequence_length, name="flow_stream")(flow)
    both = layers.Concatenate(name="fuse")([frame, flow])  # 64 features of each stream, side by side
    both = layers.Dropout(0.25, name="dropout")(both)
    scores = layers.Dense(num_classes, activation="softmax", dtype="float32", name="classify")(both)
    return keras.Model(clips, scores, name="two_stream")
