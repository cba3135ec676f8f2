"""The models of the course, each a function of (class count, sequence length, image size).

Every model takes uint8 clips ``[batch, T, H, W, 3]`` (RGB, 0-255) and scales them itself in its first
layer, so the dataset stays uint8 all the way to the model, and a saved model cannot be fed wrongly
scaled frames. ``convlstm`` and ``lrcn`` have exactly the tutorial's layers and sizes.
"""

from __future__ import annotations

from har.backend import keras

layers = keras.layers

MODEL_NAMES = ("convlstm", "lrcn", "baseline", "pretrained")


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


def baseline(num_classes: int, sequence_length: int = 20, image_size: tuple[int, int] = (64, 64)) -> keras.Model:
    """Single-frame baseline: classify each frame on its own with a small CNN, then average the predictions.

    It sees what is in a frame but not the order of frames, so it cannot tell Grow from Shrink.
    """
    frame_classifier = keras.Sequential(
        [
            keras.Input(shape=(*image_size, 3)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dropout(0.25),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="frame_classifier",
    )
    model = keras.Sequential(name="baseline")
    model.add(_clip_input(sequence_length, image_size))
    model.add(layers.Rescaling(1 / 255, name="scale"))
    model.add(layers.TimeDistributed(frame_classifier, name="per_frame"))
    model.add(layers.GlobalAveragePooling1D(name="average_over_time", dtype="float32"))
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


def build_model(
    name: str, num_classes: int, sequence_length: int = 20, image_size: tuple[int, int] = (64, 64), **kwargs
) -> keras.Model:
    """Build one of ``MODEL_NAMES`` by name (extra keyword arguments go to ``pretrained``)."""
    builders = {"convlstm": convlstm, "lrcn": lrcn, "baseline": baseline, "pretrained": pretrained}
    if name not in builders:
        from har.errors import HarError

        raise HarError(f"unknown model {name!r} (choose from {', '.join(MODEL_NAMES)})")
    return builders[name](num_classes, sequence_length, tuple(image_size), **kwargs)
