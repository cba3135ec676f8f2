"""The models of the course, each a function of (class count, sequence length, image size).

Every model takes uint8 clips ``[batch, T, H, W, 3]`` (RGB, 0-255) and scales them itself in its first
layer, so the dataset stays uint8 all the way to the model, and a saved model cannot be fed wrongly
scaled frames. ``convlstm`` and ``lrcn`` have exactly the tutorial's layers and sizes; ``single_frame``,
``baseline`` (late fusion), ``early_fusion`` and ``slow_fusion`` are the other ways of seeing time that the
approaches notebook puts beside them (``APPROACHES``).
"""

from __future__ import annotations

from har import APPROACHES, MODEL_NAMES  # noqa: F401  (in har itself, so the command line knows them without TensorFlow)
from har.backend import keras

layers = keras.layers


def _clip_input(sequence_length: int, image_size: tuple[int, int]) -> keras.KerasTensor:
    return keras.Input(shape=(sequence_length, *image_size, 3), dtype="uint8", name="frames")


def convlstm(num_classes: int, sequence_length: int = 20, image_size: tuple[int, int] = (64, 64)) -> keras.Model:
    """The tutorial's ConvLSTM: ConvLSTM2D 4 -> 8 -> 14 -> 16 filters, each followed by 3D max pooling.

    A ConvLSTM cell is an LSTM whose gates are convolutions: it keeps a spatial memory of the clip.
    Dropout (0.2, per frame) follows every block but the last; then Flatten and a softmax Dense.
    """
    model = keras.Sequential(name="convlstm")
    model.add(_clip_input(sequence_length, image_size))
    model.add(layers.Rescaling(1 / 255, name="scale"))
    for i, filters in enumerate((4, 8, 14, 16)):
        model.add(
            layers.ConvLSTM2D(
                filters, kernel_size=(3, 3), activation="tanh", recurrent_dropout=0.2, return_sequences=True
            )
        )
        model.add(layers.MaxPooling3D(pool_size=(1, 2, 2), padding="same"))
        if i < 3:
            model.add(layers.TimeDistributed(layers.Dropout(0.2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(num_classes, activation="softmax", dtype="float32"))
    return model


def lrcn(num_classes: int, sequence_length: int = 20, image_size: tuple[int, int] = (64, 64)) -> keras.Model:
    """The tutorial's LRCN: a small CNN on every frame (TimeDistributed), then an LSTM over the frame features.

    Conv2D 16 -> 32 -> 64 -> 64 (3x3, same, relu) with max pooling 4, 4, 2, 2 and dropout 0.25 after the
    first three; the per-frame features are flattened and read in order by an LSTM of 32 units.
    The poolings divide the frame by 64, so frames must be at least 64x64.
    """
    if min(image_size) < 64:
        from har.errors import HarError

        raise HarError(f"the LRCN pools frames down by 64: it needs at least 64x64 frames, got {image_size}")
    model = keras.Sequential(name="lrcn")
    model.add(_clip_input(sequence_length, image_size))
    model.add(layers.Rescaling(1 / 255, name="scale"))
    for i, (filters, pool) in enumerate(((16, 4), (32, 4), (64, 2), (64, 2))):
        model.add(layers.TimeDistributed(layers.Conv2D(filters, (3, 3), padding="same", activation="relu")))
        model.add(layers.TimeDistributed(layers.MaxPooling2D((pool, pool))))
        if i < 3:
            model.add(layers.TimeDistributed(layers.Dropout(0.25)))
    model.add(layers.TimeDistributed(layers.Flatten()))
    model.add(layers.LSTM(32))
    model.add(layers.Dense(num_classes, activation="softmax", dtype="float32"))
    return model


def _frame_cnn(image_size: tuple[int, int], channels: int, num_classes: int, name: str) -> keras.Sequential:
    """The small 2-D CNN of the frame-based approaches: Conv2D 16 -> 32 -> 64, global pooling, softmax.

    ``channels`` is 3 for one frame (single frame, late fusion) and 3 T for frames stacked on the channel axis
    (early fusion): the same layers, so those approaches differ only in what reaches the first convolution.
    """
    return keras.Sequential(
        [
            keras.Input(shape=(*image_size, channels)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dropout(0.25),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name=name,
    )


def baseline(num_classes: int, sequence_length: int = 20, image_size: tuple[int, int] = (64, 64)) -> keras.Model:
    """Late fusion, the course's baseline: classify each frame on its own with a small CNN, average the predictions.

    The frames are fused only at the very end, by averaging: it sees what is in every frame but not the order of
    the frames, so it cannot tell Grow from Shrink.
    """
    model = keras.Sequential(name="baseline")
    model.add(_clip_input(sequence_length, image_size))
    model.add(layers.Rescaling(1 / 255, name="scale"))
    model.add(layers.TimeDistributed(_frame_cnn(image_size, 3, num_classes, "frame_classifier"), name="per_frame"))
    model.add(layers.GlobalAveragePooling1D(name="average_over_time", dtype="float32"))
    return model


def single_frame(num_classes: int, sequence_length: int = 20, image_size: tuple[int, int] = (64, 64)) -> keras.Model:
    """Single frame: the late-fusion baseline's CNN on one frame of the clip, the middle one; time plays no part.

    What a photograph of the action gives away. The clip's other frames are cropped away in the first layer
    (``Cropping3D`` on the time axis), so the model still takes whole clips like every other.
    """
    middle = sequence_length // 2
    model = keras.Sequential(name="single_frame")
    model.add(_clip_input(sequence_length, image_size))
    model.add(layers.Rescaling(1 / 255, name="scale"))  # first: oneDNN logs an error on uint8 tensor ops elsewhere
    model.add(layers.Cropping3D(((middle, sequence_length - middle - 1), (0, 0), (0, 0)), name="middle_frame"))
    model.add(layers.Reshape((*image_size, 3), name="one_frame"))
    model.add(_frame_cnn(image_size, 3, num_classes, "frame_classifier"))
    model.add(layers.Activation("linear", dtype="float32", name="probabilities"))  # float32 on mixed precision
    return model


def early_fusion(num_classes: int, sequence_length: int = 20, image_size: tuple[int, int] = (64, 64)) -> keras.Model:
    """Early fusion: the T frames stacked on the channel axis (``H x W x 3T``), one 2-D CNN over the stack.

    Time is fused in the very first convolution, which sees every frame at once and can compare them pixel
    by pixel; after it, the network no longer knows which frame was which.
    """
    model = keras.Sequential(name="early_fusion")
    model.add(_clip_input(sequence_length, image_size))
    model.add(layers.Rescaling(1 / 255, name="scale"))
    model.add(layers.Permute((2, 3, 1, 4), name="time_last"))  # [T, H, W, 3] -> [H, W, T, 3]
    model.add(layers.Reshape((*image_size, 3 * sequence_length), name="stack_frames"))
    model.add(_frame_cnn(image_size, 3 * sequence_length, num_classes, "stack_classifier"))
    model.add(layers.Activation("linear", dtype="float32", name="probabilities"))
    return model


def slow_fusion(num_classes: int, sequence_length: int = 20, image_size: tuple[int, int] = (64, 64)) -> keras.Model:
    """Slow fusion: a small C3D-like 3-D CNN, whose 3x3x3 kernels widen their reach in time layer by layer.

    Conv3D 16 -> 32 -> 64 -> 64 (3x3x3, same, relu); the first pooling halves space only (1, 2, 2), the next two
    space and time (2, 2, 2): the first layers see 3 frames, the last ones the whole clip. Global average
    pooling, dropout 0.25, softmax.
    """
    model = keras.Sequential(name="slow_fusion")
    model.add(_clip_input(sequence_length, image_size))
    model.add(layers.Rescaling(1 / 255, name="scale"))
    for filters, pool in ((16, (1, 2, 2)), (32, (2, 2, 2)), (64, (2, 2, 2)), (64, None)):
        model.add(layers.Conv3D(filters, (3, 3, 3), padding="same", activation="relu"))
        if pool:
            model.add(layers.MaxPooling3D(pool, padding="same"))
    model.add(layers.GlobalAveragePooling3D())
    model.add(layers.Dropout(0.25))
    model.add(layers.Dense(num_classes, activation="softmax", dtype="float32"))
    return model


def pretrained(
    num_classes: int,
    sequence_length: int = 20,
    image_size: tuple[int, int] = (64, 64),
    *,
    weights: str | None = "imagenet",
    backbone: str = "MobileNetV3Small",
    fine_tune_layers: int = 0,
) -> keras.Model:
    """An ImageNet CNN from ``keras.applications`` on every frame (frozen), then an LSTM: the step up from LRCN.

    ``weights="imagenet"`` downloads the backbone's weights (do that on Colab); ``weights=None`` builds it
    untrained, which is what tests and offline runs use. ``fine_tune_layers`` unfreezes that many of the
    backbone's last layers (fine-tune with a small learning rate, after training the head).
    """
    constructor = getattr(keras.applications, backbone)
    kwargs = {"include_top": False, "weights": weights, "input_shape": (*image_size, 3), "pooling": "avg"}
    if backbone.startswith("MobileNetV3"):
        kwargs["include_preprocessing"] = False  # scaled to [-1, 1] below, as its own preprocessing would
    cnn = constructor(**kwargs)
    cnn.trainable = fine_tune_layers > 0
    if fine_tune_layers > 0:
        for layer in cnn.layers[:-fine_tune_layers]:
            layer.trainable = False
    inputs = _clip_input(sequence_length, image_size)
    # uint8 -> float32: for MobileNetV3 in [-1, 1], its own preprocessing, done here because a bare cast
    # (Rescaling(1.0)) lets TensorFlow fuse the uint8 input into the first convolution, and oneDNN then logs an
    # error line on CPUs without AVX-512. Other backbones get 0-255 pixels, as EfficientNet expects.
    mobilenet = backbone.startswith("MobileNetV3")
    x = layers.Rescaling(1 / 127.5 if mobilenet else 1.0, offset=-1.0 if mobilenet else 0.0, name="to_float")(inputs)
    x = layers.TimeDistributed(cnn, name="backbone")(x)
    x = layers.LSTM(64)(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="pretrained")


def build_metadata(name: str, **options) -> dict:
    """What a bundle records of how ``build_model(name, ..., **options)`` built the model.

    For the pretrained model, its backbone's weights (``"imagenet"``, ``pretrained``'s default, or ``None`` when
    built without them): notebook 06 shows no accuracy for a backbone that never had ImageNet's weights.
    """
    return {"backbone_weights": options.get("weights", "imagenet")} if name == "pretrained" else {}


def build_model(
    name: str, num_classes: int, sequence_length: int = 20, image_size: tuple[int, int] = (64, 64), **kwargs
) -> keras.Model:
    """Build one of ``MODEL_NAMES`` by name (extra keyword arguments go to ``pretrained``)."""
    builders = {
        "convlstm": convlstm,
        "lrcn": lrcn,
        "baseline": baseline,
        "pretrained": pretrained,
        "single_frame": single_frame,
        "early_fusion": early_fusion,
        "slow_fusion": slow_fusion,
    }
    if name not in builders:
        from har.errors import HarError

        raise HarError(f"unknown model {name!r} (choose from {', '.join(MODEL_NAMES)})")
    return builders[name](num_classes, sequence_length, tuple(image_size), **kwargs)
