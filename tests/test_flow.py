"""Optical flow and the two-stream model: computed at build time, stored beside the frames, computed again per frame
when predicting, mirrored with the clip, and read by a model with a frame stream and a flow stream."""

import numpy as np
import pytest
from conftest import run_cli

from har.dataset import Dataset, FramesWithFlow, build_dataset, load_dataset, save_dataset
from har.demo import write_video
from har.errors import DatasetError
from har.video import FLOW_CHANNELS, FLOW_UNITS, FlowMaker, ModelFrames, extract_frames, flow_pairs, iter_frames


def moving_square(n=30, step=(3, 0), size=(160, 120), seed=0):
    """BGR frames of a textured square sliding ``step`` pixels (x, y) a frame over a still, textured background."""
    rng = np.random.default_rng(seed)
    width, height = size
    background = rng.integers(40, 90, (height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    texture = rng.integers(150, 256, (5, 5, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)  # 40 x 40
    frames = []
    for i in range(n):
        frame = background.copy()
        x, y = 20 + step[0] * i, 40 + step[1] * i
        frame[y : y + 40, x : x + 40] = texture
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def square_video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("flow") / "square.avi", moving_square(), 25)


def test_flow_points_the_way_things_move():
    frames = moving_square(step=(3, 0))
    maker = FlowMaker((64, 64))
    flow = (maker.flow(maker.grey(frames[10]), maker.grey(frames[11])).astype(np.int16) - 128) / FLOW_UNITS
    # the square is at x 50-90 of 160, y 40-80 of 120 in frame 11: in model pixels x 20-36, y 21-42
    inside, outside = flow[24:40, 22:34], flow[:, 48:]
    assert inside[..., 0].mean() - outside[..., 0].mean() > 0.6  # 3 px of 160 is 1.2 model pixels to the right
    assert abs(inside[..., 1].mean() - outside[..., 1].mean()) < 0.2  # and nothing up or down
    assert abs(flow[..., 0].mean()) < 2 / FLOW_UNITS  # the mean (the camera's pan, roughly) taken out
    downwards = moving_square(n=10, step=(0, 3))  # frame 6: x 20-60, y 58-98 of 120: model x 8-24, y 31-52
    flow = (maker.flow(maker.grey(downwards[5]), maker.grey(downwards[6])).astype(np.int16) - 128) / FLOW_UNITS
    assert flow[34:50, 10:22, 1].mean() - flow[:, 48:, 1].mean() > 0.8  # 3 px of 120 is 1.6 model pixels down
    assert abs(flow[34:50, 10:22, 0].mean() - flow[:, 48:, 0].mean()) < 0.2
    assert maker.still().shape == (64, 64, 2) and (maker.still() == 128).all()


def test_each_frame_takes_the_flow_from_the_frame_before_it():
    np.testing.assert_array_equal(flow_pairs(np.array([0, 1, 5, 5, 9])), [[0, 1], [0, 1], [4, 5], [4, 5], [8, 9]])


def test_extracted_flow_is_what_prediction_computes_frame_by_frame(square_video):
    """Training reads flow from the build, prediction computes it as frames stream in: the two must agree."""
    clip = extract_frames(square_video, 8, (64, 64), flow=True)
    assert clip.shape == (8, 64, 64, FLOW_CHANNELS) and clip.dtype == np.uint8
    np.testing.assert_array_equal(clip[..., :3], extract_frames(square_video, 8, (64, 64)))
    decoded = list(iter_frames(square_video))
    convert = ModelFrames((64, 64), flow=True)
    streamed = np.concatenate([convert(decoded[i : i + 7]) for i in range(0, len(decoded), 7)])  # chunks of 7
    wanted = np.linspace(0, len(decoded) - 1, 8).round().astype(int)
    np.testing.assert_array_equal(streamed[wanted], clip)
    assert (clip[1:, ..., 3] != 128).any()  # there is motion in it
    assert ModelFrames((64, 64))(decoded[:3]).shape == (3, 64, 64, 3)  # without flow: the RGB frames only


def test_the_cache_keeps_flow_beside_the_frames_and_serves_builds_without_it(tmp_path, demo_root):
    out = tmp_path / "cache.npz"
    plain = build_dataset(demo_root, out, sequence_length=8, workers=2, progress=False).dataset
    assert plain.flow is None
    with_flow = build_dataset(demo_root, out, sequence_length=8, workers=2, flow=True, progress=False)
    assert not with_flow.reused  # a cache without flow cannot serve a request for it
    dataset = load_dataset(out)
    assert dataset.flow.shape == (*dataset.frames.shape[:-1], 2) and dataset.flow.dtype == np.uint8
    np.testing.assert_array_equal(dataset.frames, plain.frames)  # the same frames, flow beside them
    i = dataset.paths.index("Flatten/v_Flatten_g02_c01.avi")
    np.testing.assert_array_equal(dataset.flow[i], extract_frames(demo_root / dataset.paths[i], 8, flow=True)[..., 3:])
    assert "optical flow" in dataset.summary()
    again = build_dataset(demo_root, out, sequence_length=8, workers=2, progress=False)  # no flow asked for
    assert again.reused and again.dataset.flow is not None
    from har.bundle import trained_on

    assert trained_on({"data_fingerprint": plain.settings["fingerprint"]}, dataset)  # 04's models still count


def test_a_model_reading_flow_gets_frames_and_flow_joined_a_batch_at_a_time(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (6, 4, 8, 8, 3), dtype=np.uint8)
    flow = rng.integers(1, 256, (6, 4, 8, 8, 2), dtype=np.uint8)
    dataset = Dataset(frames, np.arange(6) % 2, np.arange(6), ["a", "b"], [f"{i}.avi" for i in range(6)], flow=flow)
    assert dataset.inputs(3) is frames
    joined = dataset.inputs(FLOW_CHANNELS)
    assert isinstance(joined, FramesWithFlow) and joined.shape == (6, 4, 8, 8, 5) and len(joined) == 6
    np.testing.assert_array_equal(joined[np.array([4, 1])], np.concatenate([frames, flow], -1)[[4, 1]])
    without = Dataset(frames, dataset.labels, dataset.groups, dataset.classes, dataset.paths)
    with pytest.raises(DatasetError, match="has none: build it with flow"):
        without.inputs(FLOW_CHANNELS)
    save_dataset(dataset, tmp_path / "c.npz")
    np.testing.assert_array_equal(load_dataset(tmp_path / "c.npz").flow, flow)
    bad = Dataset(frames, dataset.labels, dataset.groups, dataset.classes, dataset.paths, flow=flow[:, :2])
    save_dataset(bad, tmp_path / "bad.npz")
    with pytest.raises(DatasetError, match=r"flow must be uint8 \[N, T, H, W, 2\]"):
        load_dataset(tmp_path / "bad.npz")


def test_mirroring_turns_the_flow_round():
    import tensorflow as tf

    from har.train import flip_clips

    rng = np.random.default_rng(1)
    clips = rng.integers(1, 256, (64, 3, 6, 6, FLOW_CHANNELS), dtype=np.uint8)
    flipped = flip_clips(tf.constant(clips)).numpy()
    mirrored = clips[:, :, :, ::-1].copy()
    mirrored[..., 3] = 256 - mirrored[..., 3].astype(np.int16)  # x: 128 + d becomes 128 - d
    was_flipped = [np.array_equal(f, m) for f, m in zip(flipped, mirrored, strict=True)]
    kept = [np.array_equal(f, c) for f, c in zip(flipped, clips, strict=True)]
    assert all(a or b for a, b in zip(was_flipped, kept, strict=True)) and 10 < sum(was_flipped) < 54


def test_two_stream_reads_the_middle_frame_and_every_flow_field():
    import keras

    from har.models import two_stream

    keras.utils.set_random_seed(0)
    model = two_stream(3, 6)
    rng = np.random.default_rng(2)
    clips = rng.integers(1, 256, (2, 6, 64, 64, FLOW_CHANNELS), dtype=np.uint8)
    run = lambda x: np.asarray(model(x, training=False))  # noqa: E731
    other = clips.copy()
    other[:, [0, 1, 2, 4, 5], ..., :3] = rng.integers(0, 256, (2, 5, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_allclose(run(clips), run(other), atol=1e-6)  # RGB: only the middle frame counts
    for t in (0, 5):
        moved = clips.copy()
        moved[:, t, ..., 3:] = 128  # one flow field stilled
        assert not np.allclose(run(clips), run(moved), atol=1e-6)
    stacked = keras.Model(model.inputs[0], model.get_layer("stack_flow").output)(clips)
    np.testing.assert_allclose(
        np.asarray(stacked)[0, :, :, 2:4], (clips[0, 1, ..., 3:].astype(np.float32) - 128) / FLOW_UNITS, atol=1e-4
    )  # flow field t on channels 2t, 2t + 1, in model pixels


def test_two_stream_size_and_training_with_a_falling_loss(tmp_path, demo_root):
    from test_models import frame_cnn_params

    from har.bundle import read_metadata
    from har.models import two_stream
    from har.predict import Predictor
    from har.splits import make_split
    from har.train import set_seed, train_model

    streams = frame_cnn_params(0) + frame_cnn_params(0, channels=2 * 20)  # their convolutions (no classifier)
    assert two_stream(4).count_params() == streams + (64 + 64) * 4 + 4 == 53_012  # one softmax over both
    dataset = build_dataset(demo_root, tmp_path / "c.npz", sequence_length=8, flow=True, progress=False).dataset
    split = make_split("group", dataset.labels, dataset.groups)
    set_seed(27)
    out = tmp_path / "two_stream.keras"
    result = train_model(
        two_stream(len(dataset.classes), 8), dataset, split.train, split.test,
        epochs=6, patience=6, learning_rate=3e-3, augment=True, out=out, verbose=0,
    )  # fmt: skip
    losses = result.history["loss"]
    assert len(losses) == 6 and min(losses[-2:]) < losses[0], losses
    assert read_metadata(out)["model"] == "two_stream"
    predictor = Predictor.load(out)  # the custom layer loads in safe mode
    assert predictor.flow and not predictor.per_frame


def test_cli_builds_flow_and_refuses_a_two_stream_model_without_it(tmp_path, demo_root):
    plain, flowing = tmp_path / "plain.npz", tmp_path / "flow.npz"
    assert run_cli("build-dataset", str(demo_root), "--out", str(plain), "--sequence-length", "8").returncode == 0
    done = run_cli("train", str(plain), "--model", "two_stream", "--epochs", "1", "--out", str(tmp_path / "m.keras"))
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1
    assert "reads optical flow" in done.stderr and "--flow" in done.stderr and not (tmp_path / "m.keras").exists()
    built = run_cli("build-dataset", str(demo_root), "--out", str(flowing), "--sequence-length", "8", "--flow")
    assert built.returncode == 0 and "optical flow" in built.stdout
    assert load_dataset(flowing).flow is not None
