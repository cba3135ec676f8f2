"""Hostile inputs: a disk that fills up under C writers, names in no encoding, signals from a terminal, nonsense.

Each test makes its own bad input. A full disk is a real one where the writer is C code or another process
(``media.on_a_full_disk``: a small tmpfs, or a per-file size limit where no mount is allowed); Python's own
writes are failed with ``OSError(ENOSPC)``, as the operating system fails them.
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import error_lines, run_cli
from media import on_a_full_disk, write_index_clip

from har.bundle import bundle_metadata, read_metadata, save_bundle
from har.dataset import build_dataset, load_dataset
from har.errors import BundleError, DatasetError, HarError, VideoError

PYTHON = sys.executable
#: A file name that is no UTF-8 (clips copied from old Windows machines or camera cards): Python keeps its bytes.
ODD = os.fsdecode(b"caf\xe9_\xff")


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory):
    from har.models import baseline

    folder = tmp_path_factory.mktemp("small")
    meta = bundle_metadata(["Grow", "Shrink", "Flatten", "Stretch"], 8, (64, 64))
    return save_bundle(baseline(4, 8), folder / "m.keras", meta)


# --- 1: a clip half-written when the disk fills ------------------------------------------------------


def test_demo_data_on_a_disk_that_fills_keeps_no_clip(tmp_path):
    out = tmp_path / "demo"
    done, files = on_a_full_disk([PYTHON, "-m", "har", "demo-data", str(out), "--groups", "2"], out, 40_000)
    assert done.returncode == 1 and "frames were saved (disk full?)" in done.stderr, done.stderr
    assert len(error_lines(done.stderr)) == 1, done.stderr
    assert files == {}  # not one truncated clip kept under its final name


# --- 3, 4: a clip whose name is in no encoding is a good clip -------------------------------------------


def test_a_clip_named_in_no_encoding_builds_and_predicts(tmp_path, demo_root, small_bundle):
    root = tmp_path / "d"
    shutil.copytree(demo_root, root)
    odd = root / "Grow" / f"{ODD}.avi"
    shutil.copy(root / "Grow" / "v_Grow_g01_c01.avi", odd)
    cache = tmp_path / "c.npz"
    built = run_cli("build-dataset", str(root), "--out", str(cache), "--sequence-length", "8")
    assert built.returncode == 0, built.stderr
    assert f"Grow/{ODD}.avi" in load_dataset(cache).paths and len(load_dataset(cache)) == 33
    out = tmp_path / f"{ODD}.mp4"
    labelled = run_cli("predict", str(small_bundle), str(odd), "--out", str(out))
    assert labelled.returncode == 0 and out.is_file(), labelled.stderr
    whole = run_cli("predict", str(small_bundle), str(odd), "--mode", "whole")
    assert whole.returncode == 0 and "top 3: " in whole.stdout, whole.stderr


def test_every_video_function_reads_a_clip_named_in_no_encoding(tmp_path):
    clip = write_index_clip(tmp_path / f"{ODD}.avi", 30)
    code = f"""
import sys
from pathlib import Path
from har import video
from har.predict import join_clips, show_video
clip = Path({str(clip)!r}.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape"))
assert video.video_info(clip).frame_count == 30
assert video.read_first_frame(clip).shape == (48, 64, 3)
assert video.count_decodable_frames(clip) == 30
assert video.extract_frames(clip, 8, (16, 16)).shape == (8, 16, 16, 3)
assert len(list(video.iter_frames(clip))) == 30
joined = join_clips([clip, clip], ["Grow", "Shrink"], clip.with_name(clip.stem + "_joined.mp4"))
assert joined.spans == [(0, 30), (30, 60)]
assert "video" in show_video(joined.path)._repr_html_()
print("read")
"""
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "read", done.stderr  # a crash in OpenCV: -11


# --- 5, 6: the confusion matrix ------------------------------------------------------------------------


def test_a_figure_saved_on_a_full_disk_leaves_no_empty_png(tmp_path):
    out = tmp_path / "figures"
    code = f"""
import numpy as np
from har.viz import plot_confusion_matrix, save_figure
try:  # fill the disk to the last byte, as a long run does
    with open({str(out / "filler")!r}, "wb") as handle:
        while True:
            handle.write(bytes(4096))
            handle.flush()
except OSError:
    pass
save_figure(plot_confusion_matrix(np.eye(4, dtype=int), list("abcd")), {str(out / "cm.png")!r})
"""
    done, files = on_a_full_disk([PYTHON, "-c", code], out, 8192, env={"MPLBACKEND": "Agg"})
    assert done.returncode != 0 and ("No space left" in done.stderr or "File too large" in done.stderr), done.stderr
    assert list(files) == ["filler"]  # no 0-byte cm.png beside it


def test_evaluate_never_writes_its_figure_over_an_input(tmp_path, demo_root):
    from har.models import baseline

    dataset = build_dataset(demo_root, tmp_path / "c.npz", sequence_length=8, workers=2, progress=False).dataset
    model = save_bundle(baseline(4, 8), tmp_path / "m.keras", bundle_metadata(dataset.classes, 8, (64, 64)))
    cache_bytes, model_bytes = (tmp_path / "c.npz").read_bytes(), model.read_bytes()
    for target in (tmp_path / "c.npz", model):
        refused = run_cli("evaluate", str(model), str(tmp_path / "c.npz"), "--confusion", str(target))
        assert refused.returncode == 1 and "must be a .png file" in refused.stderr, refused.stderr
        assert len(error_lines(refused.stderr)) == 1
    assert (tmp_path / "c.npz").read_bytes() == cache_bytes and model.read_bytes() == model_bytes


# --- 7, 8: a terminal closed, a terminal's Ctrl-C ---------------------------------------------------------


@pytest.mark.parametrize("stage", ["cache", "video"])
def test_a_closed_terminal_leaves_no_temporary_file(tmp_path, demo_root, small_bundle, stage):
    """SIGHUP while a file is half-written: the same clean end as SIGTERM and Ctrl-C."""
    if stage == "cache":
        patch = "import numpy as np\n"
        patch += "def savez(handle, **arrays):\n    handle.write(b'x' * 100000); os.kill(os.getpid(), signal.SIGHUP)\n"
        patch += "np.savez = savez\n"
        args = ["build-dataset", str(demo_root), "--out", str(tmp_path / "c.npz"), "--sequence-length", "6"]
    else:
        patch = "from har import predict; real = predict.H264Writer.write\n"
        patch += "def write(self, frame):\n    real(self, frame)\n"
        patch += "    if self.frames == 10: os.kill(os.getpid(), signal.SIGHUP)\n"
        patch += "predict.H264Writer.write = write\n"
        args = ["predict", str(small_bundle), str(write_index_clip(tmp_path / "v.avi", 40)), "--out",
                str(tmp_path / "labelled.mp4")]  # fmt: skip
    code = f"import os, signal, sys\n{patch}from har.tools.cli import main\nsys.exit(main({args!r}))\n"
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 130 and "interrupted" in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == (["v.avi"] if stage == "video" else [])


def _as_a_terminal_starts_it() -> None:
    """A shell starts its foreground job with SIGINT at its default and unblocked. A child inherits both across exec,
    and after a long pytest session the test process may have SIGINT blocked or ignored (once, in a full run, the
    live command never saw the Ctrl-C): start the command as a terminal would."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_in_a_terminal_keeps_the_live_video(tmp_path, small_bundle):
    """A terminal's Ctrl-C is SIGINT to the whole process group, FFmpeg and the decoding worker included."""
    camera = write_index_clip(tmp_path / "camera.avi", 6000, size=(160, 120))  # long enough to be cut short
    out = tmp_path / "webcam.mp4"
    args = [PYTHON, "-u", "-m", "har", "live", str(small_bundle), "--camera", str(camera), "--out", str(out)]
    live = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_as_a_terminal_starts_it)  # fmt: skip
    try:
        for line in live.stdout:  # labels are coming: the video is being written
            if line.startswith("frame "):
                break
        time.sleep(1)
        os.killpg(live.pid, signal.SIGINT)
        stdout, stderr = live.communicate(timeout=120)
    finally:
        if live.poll() is None:
            os.killpg(live.pid, signal.SIGKILL)
    assert live.returncode == 0 and "stopped (Ctrl-C)" in stdout and "Labelled video" in stdout, stderr
    import cv2

    kept = int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert 20 < kept < 6000, kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camera.avi", "webcam.mp4"]


# --- 9: an address the app cannot serve on ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "256.1.2.3"], "--host 256.1.2.3: not an address of this machine"),
        (["--host", "192.0.2.1"], "--host 192.0.2.1: cannot serve on that address"),  # TEST-NET: not this machine's
    ],
)
def test_app_on_an_address_it_cannot_serve_is_one_line(small_bundle, args, message):
    done = run_cli("app", str(small_bundle), *args)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert len(error_lines(done.stderr)) == 1, done.stderr


def test_app_on_a_port_in_use_is_one_line(small_bundle):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli("app", str(small_bundle), "--port", str(port))
    assert done.returncode == 1 and f"--port {port}: already in use" in done.stderr, done.stderr
    assert len(error_lines(done.stderr)) == 1, done.stderr


# --- 10: your own small dataset ----------------------------------------------------------------------------


def _own_clips(root: Path, counts: dict[str, int], demo_root: Path) -> Path:
    """Clips named as people name them (no UCF50 groups: each clip is a group of its own), as the Weizmann set."""
    sources = sorted(demo_root.rglob("*.avi"))
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            source = next(p for p in sources if p.parent.name == ("Grow" if name == "jump" else "Shrink") and
                          p.name.endswith(f"g0{i % 4 + 1}_c0{i // 4 + 1}.avi"))  # fmt: skip
            shutil.copy(source, root / name / f"daria_{name}{i + 1}.avi")
    return root


def test_a_small_dataset_of_your_own_trains_and_too_small_a_class_is_named(tmp_path, demo_root):
    root = _own_clips(tmp_path / "weizmann", {"jump": 6, "run": 4}, demo_root)
    cache = tmp_path / "w.npz"
    assert run_cli("build-dataset", str(root), "--out", str(cache), "--sequence-length", "6").returncode == 0
    trained = run_cli("train", str(cache), "--model", "baseline", "--epochs", "1", "--out", str(tmp_path / "w.keras"))
    assert trained.returncode == 0 and "test accuracy" in trained.stdout, trained.stderr
    for extra in ("run3.avi", "run4.avi"):
        (root / "run" / f"daria_{extra}").unlink()
    assert run_cli("build-dataset", str(root), "--out", str(cache), "--sequence-length", "6").returncode == 0
    refused = run_cli("train", str(cache), "--model", "baseline", "--epochs", "1", "--out", str(tmp_path / "x.keras"))
    assert refused.returncode == 1 and "class run has clips of 2 group(s)" in refused.stderr, refused.stderr
    assert "needs at least 3 groups of every class" in refused.stderr and len(error_lines(refused.stderr)) == 1


def test_a_class_of_one_group_is_named():
    from har.splits import group_split

    labels, groups = np.repeat([0, 1], 4), np.array([1, 2, 3, 4, 9, 9, 9, 9])
    with pytest.raises(DatasetError, match="class run has clips of one group only"):
        group_split(labels, groups, classes=["jump", "run"])


# --- messages that misled ------------------------------------------------------------------------------------


def _as_nobody(function) -> str:
    """``function()``'s result (or error) as text, run by a user without the rights root has (root ignores modes)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root's rights where we have them, then call
        os.close(read)
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                text = f"ok {function()}"
            except Exception as error:
                text = f"{type(error).__name__}: {error}"
            os.write(write, text.encode("utf-8", "surrogateescape"))
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read().decode("utf-8", "surrogateescape")
    os.waitpid(pid, 0)
    return text


def test_permission_denied_is_said_so(tmp_path):
    from har.dataset import discover_clips
    from har.video import video_info

    base = Path(os.environ.get("TMPDIR", "/tmp")) / f"har-perm-{os.getpid()}"  # a folder others may enter
    try:
        (base / "Grow").mkdir(parents=True)
        (base / "Shrink").mkdir()
        clip = write_index_clip(base / "Grow" / "v_Grow_g01_c01.avi", 10)
        os.chmod(base, 0o755)
        os.chmod(base / "Grow", 0o755)
        os.chmod(clip, 0o000)
        os.chmod(base / "Shrink", 0o000)
        said = _as_nobody(lambda: video_info(clip))
        assert said == f"VideoError: {clip}: permission denied (the file cannot be read)"
        said = _as_nobody(lambda: discover_clips(base))
        assert said == f"DatasetError: {base / 'Shrink'}: permission denied (the class folder cannot be read)"
    finally:
        for path in (base / "Shrink", clip):
            os.chmod(path, 0o755)
        shutil.rmtree(base)


def test_no_camera_and_an_ftp_address_are_said_so(small_bundle):
    from har.video import video_info

    with pytest.raises(VideoError, match="webcam 7: cannot be opened \\(no camera with that index"):
        video_info(7)
    done = run_cli("predict", str(small_bundle), "ftp://example.org/clip.mp4")
    assert done.returncode == 1 and "only http:// and https:// URLs are fetched" in done.stderr, done.stderr


def test_links_to_nothing_and_loops_of_links_are_reported_skips(tmp_path, demo_root):
    root = tmp_path / "d"
    shutil.copytree(demo_root, root)
    (root / "Grow" / "v_Grow_g07_c01.avi").symlink_to("gone.avi")
    (root / "Grow" / "v_Grow_g08_c01.avi").symlink_to("v_Grow_g09_c01.avi")
    (root / "Grow" / "v_Grow_g09_c01.avi").symlink_to("v_Grow_g08_c01.avi")
    skipped = dict(build_dataset(root, sequence_length=6, workers=2, progress=False).skipped)
    assert skipped == {
        "Grow/v_Grow_g07_c01.avi": "a symbolic link to nothing (gone.avi does not exist)",
        "Grow/v_Grow_g08_c01.avi": "a loop of symbolic links, no file at its end",
        "Grow/v_Grow_g09_c01.avi": "a loop of symbolic links, no file at its end",
    }


def test_messages_name_the_file_you_gave_and_long_names_work(tmp_path, demo_root, small_bundle):
    out = tmp_path / "full" / "cache.npz"
    args = [PYTHON, "-m", "har", "build-dataset", str(demo_root), "--out", str(out), "--sequence-length", "6"]
    done, files = on_a_full_disk(args, out.parent, 100_000)
    assert done.returncode == 1 and error_lines(done.stderr)[-1].startswith(f"error: {out}: "), done.stderr
    assert files == {}
    long = tmp_path / ("x" * 245 + ".npz")  # 249 bytes: legal, but not with a temporary name built from it
    assert run_cli("build-dataset", str(demo_root), "--out", str(long), "--sequence-length", "6").returncode == 0
    video = write_index_clip(tmp_path / "v.avi", 30)
    long_video = tmp_path / ("y" * 245 + ".mp4")
    labelled = run_cli("predict", str(small_bundle), str(video), "--out", str(long_video))
    assert labelled.returncode == 0 and long_video.is_file(), labelled.stderr


def test_a_full_disk_under_ffmpeg_names_the_video_and_keeps_nothing(tmp_path, small_bundle):
    video = write_index_clip(tmp_path / "v.avi", 120, size=(320, 240))
    out = tmp_path / "full" / "labelled.mp4"
    args = [PYTHON, "-m", "har", "predict", str(small_bundle), str(video), "--out", str(out)]
    done, files = on_a_full_disk(args, out.parent, 16_384)
    assert done.returncode == 1 and error_lines(done.stderr)[-1].startswith(f"error: cannot write the video {out}")
    assert ".tmp" not in done.stderr and files == {}, done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo-data", "{tmp}/d", "--classes", "1"], "must be at least 2, got 1"),
        (["demo-data", "{tmp}/d", "--classes", "11"], "must be at most 10, got 11"),
        (["demo-data", "{tmp}/d", "--frames", "70-40"], "1 <= MIN <= MAX"),
        (["demo-data", "{tmp}/d", "--size", "15x15"], "sides must be even, from 16 to 4096 pixels"),
        (["demo-data", "{tmp}/d", "--seed", "-1"], "must be at least 0, got -1"),
        (["train", "{cache}", "--seed", "-1"], "must be at least 0, got -1"),
        (["build-dataset", "{tmp}/d", "--image-size", "100000"], "must be at most 1024"),
        (["app", "{model}", "--port", "70000"], "must be at most 65535"),
        (["download", "--url", "http://[::1/UCF50.rar"], "not a valid URL"),
        (["download", "--url", "http://example.org:http/UCF50.rar"], "not a valid URL"),
        (["train", "{cache}", "--learning-rate", "inf"], "must be a number above 0, got inf"),
    ],
)
def test_nonsense_options_say_what_is_allowed(tmp_path, small_bundle, args, message):
    np.savez(tmp_path / "c.npz", frames=np.zeros((4, 4, 8, 8, 3), np.uint8), labels=np.array([0, 1, 0, 1]),
             groups=np.array([1, 1, 2, 2]), classes=np.array(["a", "b"]), paths=np.array(list("wxyz")))  # fmt: skip
    names = {"tmp": tmp_path, "cache": tmp_path / "c.npz", "model": small_bundle}
    done = run_cli(*(a.format(**names) for a in args))
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(error_lines(done.stderr)) == 1 and "HAR_DEBUG" not in done.stderr


def test_the_training_log_survives_a_full_disk(tmp_path, demo_root, monkeypatch):
    import csv

    from har.models import baseline
    from har.splits import make_split
    from har.train import train_model

    dataset = build_dataset(demo_root, sequence_length=4, workers=2, progress=False).dataset
    split = make_split("group", dataset.labels, dataset.groups)
    real = csv.DictWriter.writerows
    calls = []

    def fill_the_disk(self, rows):
        calls.append(len(rows))
        if len(calls) == 1:
            return real(self, rows)
        real(self, rows[:1])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(csv.DictWriter, "writerows", fill_the_disk)
    with pytest.raises(OSError, match="No space left"):
        train_model(baseline(len(dataset.classes), 4), dataset, split.train, split.test, epochs=3, patience=3,
                    out=tmp_path / "m.keras", verbose=0)  # fmt: skip
    rows = list(csv.DictReader((tmp_path / "m_logs" / "history.csv").open()))
    assert [row["epoch"] for row in rows] == ["0"] and float(rows[0]["loss"]) > 0  # the last whole log, not 0 bytes
    assert [p.name for p in (tmp_path / "m_logs").iterdir() if p.name.startswith(".")] == []


def test_a_bundle_that_would_unpack_to_gigabytes_is_refused_before_it_is_read(tmp_path, small_bundle):
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(small_bundle) as good, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as bad:
        for item in good.infolist():
            bad.writestr(item.filename, good.read(item))
        with bad.open("config.json.bak", "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range(1200):  # 1.2 GB of zeros, 1.2 MB packed
                member.write(block)
    start = time.perf_counter()
    with pytest.raises(BundleError, match=r"would unpack to 1,200 MiB from 1\.2 MiB"):
        read_metadata(bomb)
    assert time.perf_counter() - start < 1  # refused from the sizes in its directory, nothing unpacked


def test_the_notebook_api_raises_the_course_s_own_errors(tmp_path, demo_root, small_bundle):
    from har.bundle import load_bundle
    from har.evaluate import evaluate_model
    from har.predict import join_clips
    from har.video import extract_frames, to_model_frame

    clip = demo_root / "Grow" / "v_Grow_g01_c01.avi"
    with pytest.raises(HarError, match="at least 1 frame of at least 1x1 pixels, got 20 of 0x0"):
        extract_frames(clip, 20, (0, 0))
    with pytest.raises(HarError, match=r"would take 2,794\.0 GiB a clip"):
        extract_frames(clip, 20, (100_000, 500_000))
    with pytest.raises(HarError, match="frames need at least 1x1 pixels"):
        to_model_frame(np.zeros((8, 8, 3), np.uint8), (0, 5))
    with pytest.raises(HarError, match="join_clips needs clips"):
        join_clips([], [], tmp_path / "j.mp4")
    with pytest.raises(DatasetError, match=r"would take .* GiB, more than this machine's"):
        build_dataset(demo_root, sequence_length=1000, image_size=816, workers=1, progress=False)  # 60 GiB
    small = build_dataset(demo_root, sequence_length=8, image_size=32, workers=2, progress=False).dataset
    model, _ = load_bundle(small_bundle)
    shapes = r"takes clips of shape \(8, 64, 64, 3\), the dataset holds \(8, 32, 32, 3\)"
    with pytest.raises(HarError, match=shapes) as e:
        evaluate_model(model, small)
    assert "\n" not in str(e.value)


def test_cache_of_clips_with_odd_names_round_trips(tmp_path):
    """The settings (skipped clips, classes) are JSON: names in no encoding must survive them too."""
    from har.dataset import Dataset, save_dataset

    dataset = Dataset(np.zeros((2, 2, 4, 4, 3), np.uint8), np.array([0, 1]), np.array([1, 2]), ["a", ODD],
                      ["a/x.avi", f"{ODD}/y.avi"], settings={"skipped": [[f"{ODD}/z.avi", "empty"]]})  # fmt: skip
    again = load_dataset(save_dataset(dataset, tmp_path / "c.npz"))
    assert again.classes == ["a", ODD] and again.paths[1] == f"{ODD}/y.avi"
    assert json.loads(json.dumps(again.settings)) == {"skipped": [[f"{ODD}/z.avi", "empty"]]}
