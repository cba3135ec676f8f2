import json
import shutil
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from conftest import run_cli
from media import write_index_clip

from har.dataset import OWN_GROUP_START, build_dataset, discover_clips, load_dataset, parse_group
from har.errors import DatasetError
from har.video import count_decodable_frames, extract_frames


@pytest.fixture
def messy_root(tmp_path, demo_root):
    """The demo dataset plus what real folders hold: stray files, a corrupt, an empty and a too-short clip."""
    root = tmp_path / "Messy"
    shutil.copytree(demo_root, root)
    (root / ".DS_Store").write_bytes(b"\x00\x01")
    (root / "README.txt").write_text("notes")
    (root / "Grow" / ".DS_Store").write_bytes(b"\x00")
    (root / "Grow" / "Thumbs.db").write_bytes(b"\x00")
    (root / "Grow" / "v_Grow_g09_c01.avi").write_bytes(b"")
    (root / "Shrink" / "v_Shrink_g09_c01.avi").write_bytes(b"RIFF but not really a video" * 20)
    write_index_clip(root / "Shrink" / "v_Shrink_g09_c02.avi", 8)
    return root


def test_parse_group_reads_ucf50_names_only():
    assert parse_group("v_WalkingWithDog_g07_c03.avi") == 7
    assert parse_group("v_TaiChi_g25_c01.avi") == 25
    assert parse_group("my_holiday_video.mp4") is None
    assert parse_group("v_Swing_gXX_c01.avi") is None


def test_discover_ignores_stray_files_and_picks_classes(messy_root):
    clips, stray = discover_clips(messy_root)
    names = {c.relative for c in clips}
    assert "Grow/.DS_Store" not in names and "Grow/Thumbs.db" not in names
    assert {"README.txt", "Grow/Thumbs.db"} <= set(stray)
    assert {c.class_name for c in clips} == {"Grow", "Shrink", "Flatten", "Stretch"}
    clips, _ = discover_clips(messy_root, ["Shrink", "Grow"])
    assert clips[0].class_name == "Shrink"
    with pytest.raises(DatasetError, match="no folder for class"):
        discover_clips(messy_root, ["Grow", "Juggling"])


def test_cache_matches_the_contract(tmp_path, demo_root):
    out = tmp_path / "cache.npz"
    report = build_dataset(demo_root, out, workers=2, progress=False)
    assert report.skipped == [] and not report.reused
    with np.load(out, allow_pickle=False) as data:
        assert {"frames", "labels", "groups", "classes", "paths"} <= set(data.files)
        frames, labels, groups = data["frames"], data["labels"], data["groups"]
        classes, paths = data["classes"].tolist(), data["paths"].tolist()
        counts = data["frame_counts"]
    assert frames.dtype == np.uint8 and frames.shape == (32, 20, 64, 64, 3)
    assert np.issubdtype(labels.dtype, np.integer) and np.issubdtype(groups.dtype, np.integer)
    assert classes == sorted(classes) and len(classes) == 4
    for label, group, path in zip(labels, groups, paths, strict=True):
        assert path.startswith(classes[label] + "/")
        assert group == parse_group(path)
    i = paths.index("Flatten/v_Flatten_g02_c01.avi")
    np.testing.assert_array_equal(frames[i], extract_frames(demo_root / paths[i], 20, (64, 64)))
    # how many frames each clip really has: the time step between its sampled frames, which windows must match
    assert counts.tolist() == [count_decodable_frames(demo_root / path) for path in paths]
    loaded = load_dataset(out)
    np.testing.assert_array_equal(loaded.frame_counts, counts)
    np.testing.assert_allclose(loaded.frame_steps([i]), [(counts[i] - 1) / 19])


def test_parallel_and_serial_builds_agree(demo_root):
    serial = build_dataset(demo_root, workers=1, progress=False).dataset
    parallel = build_dataset(demo_root, workers=2, progress=False).dataset
    np.testing.assert_array_equal(serial.frames, parallel.frames)
    assert serial.paths == parallel.paths


def test_bad_clips_are_skipped_with_reasons(tmp_path, messy_root):
    report = build_dataset(messy_root, tmp_path / "c.npz", workers=2, progress=False)
    reasons = dict(report.skipped)
    assert reasons["Grow/v_Grow_g09_c01.avi"] == "the file is empty"
    assert "cannot be opened as a video" in reasons["Shrink/v_Shrink_g09_c01.avi"]
    assert "only 8 frames decode" in reasons["Shrink/v_Shrink_g09_c02.avi"]
    assert len(report.dataset) == 32 and not any("g09" in p for p in report.dataset.paths)
    kept = build_dataset(messy_root, workers=1, allow_short=True, progress=False)
    assert "Shrink/v_Shrink_g09_c02.avi" in kept.dataset.paths


def test_files_without_ucf_names_get_a_group_each(tmp_path):
    for name in ("Wave", "Clap"):
        for i in range(2):
            write_index_clip(tmp_path / "mine" / name / f"clip{i}.mp4", 25)
    dataset = build_dataset(tmp_path / "mine", workers=1, progress=False).dataset
    assert dataset.classes == ["Clap", "Wave"]
    assert sorted(dataset.groups.tolist()) == list(range(OWN_GROUP_START, OWN_GROUP_START + 4))


def test_rebuild_with_same_inputs_reuses_cache_and_new_settings_rebuild(tmp_path, demo_root):
    out = tmp_path / "cache.npz"
    build_dataset(demo_root, out, workers=1, progress=False)
    stamp = out.stat().st_mtime_ns
    again = build_dataset(demo_root, out, workers=1, progress=False)
    assert again.reused and out.stat().st_mtime_ns == stamp and len(again.dataset) == 32
    other = build_dataset(demo_root, out, workers=1, sequence_length=10, progress=False)
    assert not other.reused and load_dataset(out).frames.shape[1] == 10


def test_cache_is_written_atomically(tmp_path, demo_root, monkeypatch):
    out = tmp_path / "cache.npz"
    out.write_bytes(b"an older cache")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        build_dataset(demo_root, out, workers=1, progress=False)
    assert out.read_bytes() == b"an older cache"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.npz"]


def test_peak_memory_stays_close_to_the_uint8_array(demo_root):
    tracemalloc.start()
    dataset = build_dataset(demo_root, workers=1, progress=False).dataset
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1.25 * dataset.frames.nbytes + 4 * 2**20


def test_load_dataset_refuses_what_is_not_a_cache(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset cache"):
        load_dataset(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DatasetError, match="not a readable dataset cache"):
        load_dataset(tmp_path / "text.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DatasetError, match="missing"):
        load_dataset(tmp_path / "other.npz")


def test_cli_demo_data_then_build_dataset(tmp_path):
    data = tmp_path / "d"
    made = run_cli("demo-data", str(data), "--classes", "2", "--groups", "2", "--clips-per-group", "2")
    assert made.returncode == 0, made.stderr
    built = run_cli("build-dataset", str(data), "--out", str(tmp_path / "c.npz"), "--sequence-length", "8")
    assert built.returncode == 0, built.stderr
    with np.load(tmp_path / "c.npz", allow_pickle=False) as cache:
        assert cache["frames"].shape == (8, 8, 64, 64, 3)
        assert json.loads(str(cache["settings"]))["sequence_length"] == 8


def test_cli_demo_data_layout_ucf50_reaches_the_generator(tmp_path):
    from har.demo import MANIFEST

    data = tmp_path / "u"
    made = run_cli("demo-data", str(data), "--classes", "2", "--groups", "1", "--clips-per-group", "2",
                   "--frames", "8-8", "--size", "48x32", "--layout", "ucf50")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads((data / MANIFEST).read_text())["layout"] == "ucf50"
    assert sorted(p.name for p in (data / "Grow").iterdir()) == ["v_Grow_g01_c01.avi", "v_Grow_g01_c02.avi"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build-dataset", "/nonexistent/folder"], "no such dataset folder"),
        (["build-dataset", "{tmp}", "--classes", "Nope"], "no folder for class"),
        (["demo-data", "{tmp}/x", "--classes", "12"], "--classes: must be at most 10"),
        (["demo-data", "{tmp}/x", "--layout", "random"], "invalid choice: 'random'"),
    ],
)
def test_cli_bad_input_is_one_line_no_traceback(tmp_path, args, message):
    (tmp_path / "Wave").mkdir()
    result = run_cli(*(a.format(tmp=tmp_path) for a in args))
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["demo-data", "download", "build-dataset"])
def test_cli_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "usage" in result.stdout


def test_data_commands_do_not_import_tensorflow(tmp_path, demo_root):
    code = (
        "import sys; from har.tools.cli import main; "
        f"main(['build-dataset', {str(demo_root)!r}, '--out', {str(tmp_path / 'c.npz')!r}, '--workers', '1']); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_generate_then_build_in_one_unguarded_script(tmp_path):
    """What a notebook or a plain script does: OpenCV's threads are busy first, there is no __main__ guard."""
    script = tmp_path / "script.py"
    script.write_text(
        "from har.demo import make_demo_dataset\n"
        "from har.dataset import build_dataset\n"
        f"root = make_demo_dataset({str(tmp_path / 'd')!r}, groups=2, clips_per_group=2, progress=False)\n"
        "print(len(build_dataset(root, workers=2, progress=False).dataset))\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "16"
