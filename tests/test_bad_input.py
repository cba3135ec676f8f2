"""Bad input never takes the pipeline down: crashing decoders, full disks, inputs named as outputs, nonsense.

Each test makes its own bad input. A full disk is simulated honestly where no small full disk can be had:
a writer that loses frames as OpenCV's does when the disk fills (it reports nothing), or a save that
raises ``OSError(ENOSPC)`` halfway, as the operating system does.
"""

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest
from conftest import error_lines, run_cli
from media import decoded_indices, write_bottom_up_raw_avi, write_index_clip

from har.bundle import bundle_metadata, save_bundle
from har.dataset import build_dataset, load_dataset, save_dataset
from har.errors import DatasetError, DecoderCrashError, HarError
from har.video import is_bottom_up_raw_avi, sample_frame_indices
from har.workers import FrameStream, Worker

# --- decoders that crash -----------------------------------------------------------------------------


def test_a_worker_that_dies_is_reported_and_replaced(tmp_path):
    clip = write_index_clip(tmp_path / "crash.avi", 30)
    with Worker() as worker:
        with pytest.raises(DecoderCrashError, match=r"crash.avi: the decoder crashed \(killed by SIGABRT"):
            worker.call("media:extract_or_abort", str(clip), 20, (16, 16), what=str(clip))
        good = write_index_clip(tmp_path / "good.avi", 30)
        frames = worker.call("media:extract_or_abort", str(good), 20, (16, 16))  # a new worker took over
    assert decoded_indices(frames).tolist() == sample_frame_indices(30, 20).tolist()


def test_ctrl_c_while_a_worker_answers_never_hands_its_answer_to_the_next_job():
    import signal
    import threading

    def ctrl_c():  # a real SIGINT to the main thread, which interrupts its read from the worker's pipe
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    # Python keeps SIGINT ignored when started so (a job run in the background: make test under CI), so handle it here
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        with Worker() as worker:
            threading.Timer(0.5, ctrl_c).start()
            with pytest.raises(KeyboardInterrupt):
                worker.call("time:sleep", 2)  # its answer (None) would come after the Ctrl-C
            assert worker.call("operator:add", 1, 2) == 3
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, handler)


def test_build_skips_a_clip_that_kills_its_decoder_and_reads_bottom_up_raw_avi(tmp_path, demo_root):
    root = tmp_path / "Mixed"
    shutil.copytree(demo_root, root)
    write_index_clip(root / "Grow" / "v_Grow_g09_c01_crash.avi", 40)  # kills whatever decodes it
    raw = write_bottom_up_raw_avi(root / "Shrink" / "v_Shrink_g09_c01.avi", 30)  # aborts OpenCV 4.13-5.0
    assert is_bottom_up_raw_avi(raw)
    report = build_dataset(root, workers=2, progress=False, extractor="media:extract_or_abort")
    reasons = dict(report.skipped)
    assert list(reasons) == ["Grow/v_Grow_g09_c01_crash.avi"]
    assert "the decoder crashed (killed by SIGABRT" in reasons["Grow/v_Grow_g09_c01_crash.avi"]
    dataset = report.dataset
    assert len(dataset) == 33  # the 32 demo clips and the uncompressed one
    i = dataset.paths.index("Shrink/v_Shrink_g09_c01.avi")
    assert decoded_indices(dataset.frames[i]).tolist() == sample_frame_indices(30, 20).tolist()


def test_weizmann_style_uncompressed_clips_build_train_and_predict(tmp_path):
    root = tmp_path / "weizmann"
    for name in ("Walk", "Wave"):
        for group in (1, 2, 3):
            write_bottom_up_raw_avi(root / name / f"v_{name}_g{group:02d}_c01.avi", 24 + group)
    cache = tmp_path / "w.npz"
    built = run_cli("build-dataset", str(root), "--out", str(cache), "--sequence-length", "8")
    assert built.returncode == 0, built.stderr
    assert len(load_dataset(cache)) == 6
    model = tmp_path / "w.keras"
    trained = run_cli("train", str(cache), "--model", "baseline", "--epochs", "1", "--out", str(model))
    assert trained.returncode == 0, trained.stderr
    out = tmp_path / "labelled.mp4"
    predicted = run_cli("predict", str(model), str(root / "Walk" / "v_Walk_g01_c01.avi"), "--out", str(out))
    assert predicted.returncode == 0, predicted.stderr
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 25


def test_prediction_stream_survives_a_crashing_decoder(tmp_path):
    clip = write_index_clip(tmp_path / "clip.avi", 40)
    with FrameStream(clip, chunk_size=16) as stream:
        frames = list(stream)
    assert stream.info.frame_count == 40 and len(frames) == 40
    assert decoded_indices(np.stack(frames)).tolist() == list(range(40))
    with Worker() as worker:  # what a decoder crash looks like to prediction: an error, and Python lives on
        items = worker.stream("media:frames_or_abort", str(tmp_path / "crash.avi"), what="crash.avi")
        with pytest.raises(DecoderCrashError, match=r"crash\.avi: the decoder crashed"):
            list(items)


# --- TensorFlow's start-up lines and one-line errors --------------------------------------------------


def test_commands_that_load_tensorflow_are_quiet_with_onednn_forced_on(tmp_path, demo_root):
    """On AVX-512 CPUs TensorFlow prints start-up lines whatever TF_CPP_MIN_LOG_LEVEL says; run_cli forces that."""
    cache = tmp_path / "c.npz"
    build_dataset(demo_root, cache, sequence_length=6, workers=2, progress=False)
    model = tmp_path / "m.keras"
    trained = run_cli("train", str(cache), "--model", "baseline", "--epochs", "1", "--out", str(model))
    assert trained.returncode == 0 and error_lines(trained.stderr) == [], trained.stderr
    evaluated = run_cli("evaluate", str(model), str(cache), "--confusion", str(tmp_path / "cm.png"))
    assert evaluated.returncode == 0 and error_lines(evaluated.stderr) == [], evaluated.stderr
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"junk" * 100)
    failed = run_cli("predict", str(model), str(broken), "--out", str(tmp_path / "x.mp4"))
    assert failed.returncode == 1 and error_lines(failed.stderr) == [failed.stderr.strip()]
    assert "cannot be opened as a video" in failed.stderr


def test_importing_the_models_prints_nothing_but_keeps_other_warnings():
    code = "import sys; print('kept', file=sys.stderr); import har.models"
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stderr == "kept\n", result.stderr


# --- B1: demo-data on a full disk ------------------------------------------------------------------


class LosingWriter:
    """cv2.VideoWriter on a disk that fills up after 10 frames: later frames vanish, nothing is reported."""

    def __init__(self, *args):
        self._writer = REAL_WRITER(*args)
        self._written = 0

    def write(self, frame):
        self._written += 1
        if self._written <= 10:
            self._writer.write(frame)

    def __getattr__(self, name):
        return getattr(self._writer, name)


REAL_WRITER = cv2.VideoWriter


def test_demo_data_on_a_full_disk_keeps_nothing_half_written_and_reruns_cleanly(tmp_path, monkeypatch):
    from har.demo import MANIFEST, make_demo_dataset

    out = tmp_path / "demo"
    settings = {"n_classes": 2, "groups": 2, "frames": (30, 30), "size": (64, 48), "progress": False}
    monkeypatch.setattr(cv2, "VideoWriter", LosingWriter)
    with pytest.raises(HarError, match=r"10 of 30 frames were saved \(disk full\?\)"):
        make_demo_dataset(out, **settings)
    assert [p for p in out.rglob("*") if p.is_file()] == []  # no truncated clip, no manifest
    monkeypatch.setattr(cv2, "VideoWriter", REAL_WRITER)

    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(out), "write_text", full_disk)
    with pytest.raises(OSError, match="No space left"):
        make_demo_dataset(out, **settings)
    assert not (out / MANIFEST).exists() and not list(out.glob(".*tmp"))
    monkeypatch.undo()
    (out / MANIFEST).write_text("")  # what the old code left: a 0-byte manifest
    make_demo_dataset(out, **settings)
    assert json.loads((out / MANIFEST).read_text())["groups"] == 2
    assert len(list(out.rglob("*.avi"))) == 4


# --- B2: a checkpoint written when the disk fills up -----------------------------------------------


def test_checkpoint_is_never_left_truncated(tmp_path, monkeypatch, demo_root):
    import keras

    from har.models import baseline
    from har.splits import make_split
    from har.train import train_model

    dataset = build_dataset(demo_root, sequence_length=4, workers=2, progress=False).dataset
    split = make_split("group", dataset.labels, dataset.groups)
    real_save = keras.Model.save
    saves = []

    def save_then_fill_the_disk(self, path, *args, **kwargs):
        saves.append(path)
        if len(saves) == 1:
            return real_save(self, path, *args, **kwargs)
        with open(path, "wb") as handle:  # half a file, then the disk is full
            handle.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", save_then_fill_the_disk)
    out = tmp_path / "m.keras"
    model = baseline(len(dataset.classes), 4)
    with pytest.raises(OSError, match="No space left"):
        train_model(model, dataset, split.train, split.test, epochs=5, patience=5, learning_rate=0.05, out=out,
                    verbose=0)  # fmt: skip
    logs = tmp_path / "m_logs"
    if len(saves) > 1:  # a second, better epoch tried to replace the checkpoint
        assert zipfile.is_zipfile(logs / "checkpoint.keras")  # the first, complete checkpoint survives
    assert sorted(p.name for p in logs.iterdir()) in (["checkpoint.keras", "history.csv"], ["history.csv"])
    assert not out.exists()


# --- B3: --out that names an input -----------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from har.models import baseline

    folder = tmp_path_factory.mktemp("bundle")
    return save_bundle(baseline(4, 8), folder / "m.keras", bundle_metadata(["Grow", "Shrink", "Flatten", "Stretch"],
                                                                           8, (64, 64)))  # fmt: skip


def test_out_never_overwrites_an_input(tmp_path, bundle, demo_root):
    video = write_index_clip(tmp_path / "v.avi", 30)
    before = video.read_bytes()
    for out in (video, bundle):
        result = run_cli("predict", str(bundle), str(video), "--out", str(out))
        assert result.returncode == 1 and len(error_lines(result.stderr)) == 1, result.stderr
    assert video.read_bytes() == before and zipfile.is_zipfile(bundle)
    data = tmp_path / "d"
    shutil.copytree(demo_root, data)
    clip = data / "Grow" / "v_Grow_g01_c01.avi"
    clip_bytes = clip.read_bytes()
    for out in (clip, data / "notes.npz"):
        out.parent.mkdir(exist_ok=True)
        if out.suffix == ".npz":
            out.write_bytes(b"my own numbers")
        result = run_cli("build-dataset", str(data), "--out", str(out))
        assert result.returncode == 1 and len(error_lines(result.stderr)) == 1, result.stderr
    assert clip.read_bytes() == clip_bytes and (data / "notes.npz").read_bytes() == b"my own numbers"
    cache = tmp_path / "c.npz"
    build_dataset(demo_root, cache, sequence_length=4, workers=2, progress=False)
    stamp = cache.read_bytes()
    result = run_cli("train", str(cache), "--out", str(cache))
    assert result.returncode == 1 and ".keras" in result.stderr and cache.read_bytes() == stamp


# --- B6, B8, B9: damaged files and nonsense, each one line -----------------------------------------


def _cache_with(path, **changes):
    arrays = {
        "frames": np.zeros((4, 4, 8, 8, 3), np.uint8),
        "labels": np.array([0, 1, 0, 1]),
        "groups": np.array([1, 1, 2, 2]),
        "classes": np.array(["Grow", "Shrink"]),
        "paths": np.array(["Grow/a.avi", "Shrink/b.avi", "Grow/c.avi", "Shrink/d.avi"]),
    }
    arrays.update(changes)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"labels": np.array([0, 1, 7, 1])}, "labels run from 0 to 7, but there are 2 classes"),
        ({"classes": np.array([b"Grow", b"Shrink"])}, "classes must be strings"),
        ({"labels": np.array(["0", "1", "0", "1"])}, "labels must be integers"),
        ({"settings": np.array("[1, 2]")}, "settings are not the JSON object"),
    ],
)
def test_damaged_caches_are_refused_in_one_line(tmp_path, changes, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(_cache_with(tmp_path / "c.npz", **changes))
    np.save(tmp_path / "plain.npy", np.zeros(3))
    (tmp_path / "plain.npy").rename(tmp_path / "plain.npz")
    with pytest.raises(DatasetError, match=r"not an \.npz archive"):
        load_dataset(tmp_path / "plain.npz")


def _bundle_with(path, source, **metadata):
    shutil.copy(source, path)
    with zipfile.ZipFile(source) as archive:
        info = json.loads(archive.read("har.json"))
    info.update(metadata)
    for key in [k for k, v in metadata.items() if v is None]:
        del info[key]
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for item in old.infolist():
            data = json.dumps(info).encode() if item.filename == "har.json" else old.read(item)
            new.writestr(item, data)
    return path


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"sequence_length": None}, "'sequence_length' must be a positive whole number"),
        ({"image_size": [32, 32]}, "does not match the model"),
        ({"split": [1, 2]}, "'split' must be an object"),
    ],
)
def test_damaged_bundles_are_refused_in_one_line(tmp_path, bundle, metadata, message):
    damaged = _bundle_with(tmp_path / "d.keras", bundle, **metadata)
    video = write_index_clip(tmp_path / "v.avi", 30)
    result = run_cli("predict", str(damaged), str(video), "--out", str(tmp_path / "o.mp4"))
    assert result.returncode == 1 and message in result.stderr
    assert len(error_lines(result.stderr)) == 1, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "{one}"], "training needs clips of at least 2 classes"),
        (["train", "{cache}", "--epochs", "0"], "must be at least 1, got 0"),
        (["train", "{cache}", "--epochs", "-3"], "must be at least 1, got -3"),
        (["train", "{cache}", "--test-size", "0"], "must be between 0 and 1"),
        (["train", "{cache}", "--out", "{tmp}/m.h5"], "must be a .keras file"),
        (["train", "{bad_labels}"], "labels run from 0 to 7"),
        (["build-dataset", "{tmp}/d", "--classes", "Grow", "Grow", "Shrink"], "named more than once: Grow"),
        (["build-dataset", "{tmp}/d", "--out", "{tmp}/file/c.npz"], "file is a file, not a folder"),
        (["demo-data", "{tmp}/file/demo"], "Not a directory"),
    ],
)
def test_nonsense_is_refused_in_one_line_before_any_work(tmp_path, demo_root, args, message):
    shutil.copytree(demo_root, tmp_path / "d")
    (tmp_path / "file").write_text("a file, not a folder")
    cache = _cache_with(tmp_path / "c.npz")
    one = _cache_with(tmp_path / "one.npz", labels=np.zeros(4, int), classes=np.array(["Grow"]))
    bad_labels = _cache_with(tmp_path / "bad.npz", labels=np.array([0, 1, 7, 1]))
    names = {"tmp": tmp_path, "cache": cache, "one": one, "bad_labels": bad_labels}
    result = run_cli(*(a.format(**names) for a in args))
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert len(error_lines(result.stderr)) == 1 and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "m_logs").exists() and not (tmp_path / "m.h5").exists()


def test_classes_without_a_usable_clip_are_dropped_and_reported(tmp_path, demo_root):
    root = tmp_path / "d"
    shutil.copytree(demo_root, root)
    (root / "Empty").mkdir()
    (root / "Broken").mkdir()
    (root / "Broken" / "v_Broken_g01_c01.avi").write_bytes(b"junk" * 50)
    report = build_dataset(root, workers=2, progress=False)
    assert report.dropped_classes == ["Broken"]  # a folder without videos is no class at all
    assert report.dataset.classes == ["Flatten", "Grow", "Shrink", "Stretch"]
    assert report.dataset.labels.max() == 3


def test_a_failing_ffmpeg_is_one_line_and_leaves_no_file(tmp_path, bundle):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\nhead -c 1000 >/dev/null\necho 'ffmpeg version 9' >&2\n"
                    "echo '[out#0/mp4] Error writing trailer: No space left on device' >&2\nexit 1\n")  # fmt: skip
    fake.chmod(0o755)
    video = write_index_clip(tmp_path / "v.avi", 30)
    out = tmp_path / "out" / "labelled.mp4"
    result = run_cli("predict", str(bundle), str(video), "--out", str(out), env={"IMAGEIO_FFMPEG_EXE": str(fake)})
    assert result.returncode == 1, result.stderr
    assert error_lines(result.stderr) == [
        f"error: cannot write the video {out}: [out#0/mp4] Error writing trailer: No space left on device"
    ]
    assert list(out.parent.iterdir()) == []


# --- B10: SIGTERM leaves no temporary file ----------------------------------------------------------


@pytest.mark.parametrize("stage", ["cache", "video"])
def test_sigterm_leaves_no_temporary_file(tmp_path, demo_root, bundle, stage):
    """The process is told to stop while it writes; what it had half-written goes with it."""
    if stage == "cache":
        patch = "import numpy as np; real = np.savez\n"
        patch += "def savez(handle, **arrays):\n    handle.write(b'x' * 100000); os.kill(os.getpid(), signal.SIGTERM)\n"
        patch += "np.savez = savez\n"
        args = ["build-dataset", str(demo_root), "--out", str(tmp_path / "c.npz")]
    else:
        patch = "from har import predict; real = predict.H264Writer.write\n"
        patch += "def write(self, frame):\n    real(self, frame)\n"
        patch += "    if self.frames == 10: os.kill(os.getpid(), signal.SIGTERM)\n"
        patch += "predict.H264Writer.write = write\n"
        video = write_index_clip(tmp_path / "v.avi", 40)
        args = ["predict", str(bundle), str(video), "--out", str(tmp_path / "labelled.mp4")]
    code = f"import os, signal, sys\n{patch}from har.tools.cli import main\nsys.exit(main({args!r}))\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 130 and "interrupted" in result.stderr, result.stderr
    assert len(error_lines(result.stderr)) == 1, result.stderr
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == (["v.avi"] if stage == "video" else []), left


# --- B11: files honour the umask -----------------------------------------------------------------


def test_caches_bundles_and_videos_honour_the_umask(tmp_path, demo_root):
    from har.models import baseline

    old = os.umask(0o022)
    try:
        dataset = build_dataset(demo_root, tmp_path / "c.npz", sequence_length=4, workers=2, progress=False).dataset
        save_dataset(dataset, tmp_path / "again.npz")
        save_bundle(baseline(4, 4), tmp_path / "m.keras", bundle_metadata(dataset.classes, 4, (64, 64)))
        from har.demo import write_video

        write_video(tmp_path / "v.avi", [np.zeros((48, 64, 3), np.uint8)] * 5)
    finally:
        os.umask(old)
    for name in ("c.npz", "again.npz", "m.keras", "v.avi"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
