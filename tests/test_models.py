import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from har import FLOW_MODELS
from har.errors import HarError
from har.models import (
    APPROACHES,
    MODEL_NAMES,
    baseline,
    build_metadata,
    build_model,
    convlstm,
    early_fusion,
    lrcn,
    pretrained,
    single_frame,
    slow_fusion,
)
from har.video import FLOW_CHANNELS


def convlstm_params(num_classes, sequence_length=20):
    """The tutorial's ConvLSTM, counted by hand: each ConvLSTM2D has 4 gates of 3x3 kernels on input and state."""
    total, channels = 0, 3
    for filters in (4, 8, 14, 16):
        total += 4 * filters * (9 * channels + 9 * filters + 1)
        channels = filters
    flat = sequence_length * 3 * 3 * 16  # 64 -> 62 -> 31 -> 29 -> 15 -> 13 -> 7 -> 5 -> 3
    return total + flat * num_classes + num_classes


def lrcn_params(num_classes):
    total, channels = 0, 3
    for filters in (16, 32, 64, 64):
        total += (9 * channels + 1) * filters
        channels = filters
    lstm = 4 * (32 * (64 + 32) + 32)  # 64 features per frame after pooling 64x64 down to 1x1
    return total + lstm + 32 * num_classes + num_classes


def frame_cnn_params(num_classes, channels=3):
    """The frame CNN of single frame, late and early fusion: Conv2D 16 -> 32 -> 64 (3x3), then a Dense softmax."""
    total = 0
    for filters in (16, 32, 64):
        total += (9 * channels + 1) * filters
        channels = filters
    return total + 64 * num_classes + num_classes


def slow_fusion_params(num_classes):
    total, channels = 0, 3
    for filters in (16, 32, 64, 64):
        total += (27 * channels + 1) * filters  # 3x3x3 kernels
        channels = filters
    return total + 64 * num_classes + num_classes


def test_approach_sizes():
    """Counted by hand: the three frame-based approaches share one CNN; early fusion's first layer sees 3T channels."""
    assert single_frame(4).count_params() == baseline(4).count_params() == frame_cnn_params(4) == 23_844
    assert early_fusion(4).count_params() == frame_cnn_params(4, channels=3 * 20) == 32_052
    assert early_fusion(7, 8).count_params() == frame_cnn_params(7, channels=3 * 8)
    assert slow_fusion(4).count_params() == slow_fusion_params(4) == 181_444
    assert slow_fusion(50, 12, (96, 80)).count_params() == slow_fusion_params(50)  # global pooling: any size


def test_every_model_has_an_approach():
    assert set(APPROACHES) == {*MODEL_NAMES, "pose"}
    assert list(APPROACHES)[:2] == ["single_frame", "baseline"]  # no time first


def test_bundles_record_whether_a_backbone_had_its_imagenet_weights():
    assert build_metadata("pretrained") == {"backbone_weights": "imagenet"}  # pretrained()'s default
    assert build_metadata("pretrained", weights=None) == {"backbone_weights": None}
    assert build_metadata("lrcn") == {}


def test_tutorial_sizes():
    assert convlstm(4).count_params() == convlstm_params(4) == 44_524  # the tutorial's summary
    assert lrcn(4).count_params() == lrcn_params(4) == 73_060
    assert convlstm(50).count_params() == convlstm_params(50)
    assert lrcn(50).count_params() == lrcn_params(50)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_takes_uint8_clips_and_outputs_probabilities(name):
    kwargs = {"weights": None} if name == "pretrained" else {}
    model = build_model(name, 3, 6, (64, 64), **kwargs)
    channels = FLOW_CHANNELS if name in FLOW_MODELS else 3  # the two-stream model reads flow beside the RGB
    clips = np.random.default_rng(0).integers(0, 256, (2, 6, 64, 64, channels), dtype=np.uint8)
    out = np.asarray(model(clips, training=False))
    assert model.output_shape == (None, 3) and out.shape == (2, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_baseline_is_blind_to_frame_order_and_the_others_are_not():
    clips = np.random.default_rng(1).integers(0, 256, (2, 6, 64, 64, 3), dtype=np.uint8)
    reversed_clips = clips[:, ::-1]
    keras.utils.set_random_seed(0)
    for model, blind in ((baseline(3, 6), True), (lrcn(3, 6), False), (convlstm(3, 6), False)):
        same = np.allclose(model(clips, training=False), model(reversed_clips, training=False), atol=1e-6)
        assert same == blind, model.name


def test_single_frame_sees_only_the_middle_frame():
    rng = np.random.default_rng(2)
    clips = rng.integers(0, 256, (2, 7, 64, 64, 3), dtype=np.uint8)
    other = rng.integers(0, 256, clips.shape, dtype=np.uint8)
    other[:, 3] = clips[:, 3]  # the middle of 7 frames kept, every other frame changed
    keras.utils.set_random_seed(0)
    model = single_frame(3, 7)
    np.testing.assert_allclose(model(clips, training=False), model(other, training=False), atol=1e-6)
    changed = clips.copy()
    changed[:, 3] = other[:, 2]
    assert not np.allclose(model(clips, training=False), model(changed, training=False), atol=1e-6)


def test_early_and_slow_fusion_see_the_order_of_the_frames():
    clips = np.random.default_rng(3).integers(0, 256, (2, 6, 64, 64, 3), dtype=np.uint8)
    keras.utils.set_random_seed(0)
    for model in (early_fusion(3, 6), slow_fusion(3, 6)):
        assert not np.allclose(model(clips, training=False), model(clips[:, ::-1], training=False), atol=1e-6)


def test_early_fusion_stacks_each_frame_on_its_own_channels():
    """Permute + Reshape put frame t's RGB on channels 3t..3t+2, the same pixel position everywhere."""
    model = early_fusion(3, 4, (64, 64))
    stack = keras.Model(model.inputs[0], model.get_layer("stack_frames").output)
    clips = np.random.default_rng(4).integers(0, 256, (1, 4, 64, 64, 3), dtype=np.uint8)
    stacked = np.asarray(stack(clips))
    assert stacked.shape == (1, 64, 64, 12)
    for t in range(4):
        np.testing.assert_allclose(stacked[0, :, :, 3 * t : 3 * t + 3], clips[0, t] / 255, atol=1e-6)


def test_pretrained_backbone_is_frozen_unless_fine_tuned():
    frozen = pretrained(4, 4, (64, 64), weights=None)
    tuned = pretrained(4, 4, (64, 64), weights=None, fine_tune_layers=10)
    trainable = lambda m: sum(int(np.prod(w.shape)) for w in m.trainable_weights)  # noqa: E731
    head = 1280 * 4 + 4  # a softmax on MobileNetV2's 1,280 features, averaged over the frames
    assert trainable(frozen) == head
    assert trainable(tuned) > head
    lstm = pretrained(4, 4, (64, 64), weights=None, backbone="MobileNetV3Small", head="lstm")
    assert trainable(lstm) == 4 * (64 * (576 + 64) + 64) + (64 * 4 + 4)  # an LSTM on MobileNetV3Small's 576, a Dense


def test_bad_model_requests_are_refused():
    with pytest.raises(HarError, match="unknown model 'resnet'"):
        build_model("resnet", 4)
    with pytest.raises(HarError, match="at least 64x64"):
        build_model("lrcn", 4, 20, (32, 32))  # the LRCN's pooling leaves nothing of smaller frames


def test_models_run_on_uint8_clips_without_tensorflow_log_lines():
    """A bare uint8 cast before a convolution made oneDNN log an error line (CPUs without AVX-512) in 05 and 06."""
    code = (
        "import numpy as np\n"
        "from har.models import build_model\n"
        f"for name in {MODEL_NAMES!r}:\n"
        "    kwargs = {'weights': None} if name == 'pretrained' else {}\n"
        "    clips = np.zeros((1, 4, 64, 64, 5 if name == 'two_stream' else 3), np.uint8)\n"
        "    build_model(name, 3, 4, (64, 64), **kwargs).predict_on_batch(clips)\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    assert "oneDNN" not in done.stderr and "util.cc" not in done.stderr, done.stderr[-500:]
