import subprocess
import sys

import pytest

from har import workspace
from har.errors import HarError


def test_workdir_follows_har_workdir(tmp_path, monkeypatch):
    monkeypatch.setenv("HAR_WORKDIR", str(tmp_path / "work"))
    assert workspace.workdir() == (tmp_path / "work").resolve()
    assert workspace.data_dir() == (tmp_path / "work" / "data").resolve() and workspace.data_dir().is_dir()
    assert workspace.models_dir().is_dir()


def test_without_har_workdir_the_checkout_is_used(monkeypatch):
    monkeypatch.delenv("HAR_WORKDIR", raising=False)
    assert (workspace.workdir() / "har" / "workspace.py").is_file()


@pytest.mark.parametrize(("value", "quick"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_quick_mode(monkeypatch, value, quick):
    monkeypatch.setenv("HAR_QUICK", value)
    assert workspace.quick_mode() is quick


def test_dataset_root_and_cache_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HAR_WORKDIR", str(tmp_path))
    with pytest.raises(HarError, match="run 01_download_and_explore_ucf50"):
        workspace.dataset_root("ucf50")
    with pytest.raises(HarError, match="no such dataset folder"):
        workspace.dataset_root(str(tmp_path / "mine"))
    (tmp_path / "mine").mkdir()
    assert workspace.dataset_root(str(tmp_path / "mine")) == tmp_path / "mine"
    assert workspace.cache_path("ucf50", 20, 64).name == "cache_ucf50_20x64.npz"
    assert workspace.cache_path(str(tmp_path / "Mine"), 10, 32).name == "cache_mine_10x32.npz"


def test_environment_report_without_tensorflow():
    code = (
        "import sys; from har.workspace import environment_report; print(environment_report()); "
        "assert 'tensorflow' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Python 3." in result.stdout and "GPU:" in result.stdout


def test_a_notebook_opened_alone_rebuilds_the_cache_and_the_model(tmp_path, monkeypatch, demo_root, capsys):
    """Without 02's cache or 05's bundle (a new Colab runtime), they are made on the spot, saying so."""
    from har.bundle import read_metadata
    from har.dataset import load_dataset
    from har.train import find_or_train

    monkeypatch.setenv("HAR_WORKDIR", str(tmp_path))
    cache = workspace.find_or_build_cache(str(demo_root), None, 4, 32)
    assert cache == workspace.cache_path(str(demo_root), 4, 32) and cache.is_file()
    said = capsys.readouterr().out
    assert "no dataset cache at" in said and "building it from 32 clips" in said and "built in" in said
    assert workspace.find_or_build_cache(str(demo_root), None, 4, 32) == cache
    assert "made by 02_frame_extraction_and_dataset" in capsys.readouterr().out

    out = tmp_path / "models" / "baseline.keras"
    assert find_or_train("baseline", cache, out, epochs=1) == out and out.is_file()
    assert "training one here" in capsys.readouterr().out and read_metadata(out)["classes"]
    assert find_or_train("baseline", cache, out, epochs=1) == out
    assert "made by 04_convlstm / 05_lrcn" in capsys.readouterr().out

    # notebook 06 asks for optical flow too: the same cache is built again with it, and 04/05's models still count
    assert workspace.find_or_build_cache(str(demo_root), None, 4, 32, flow=True) == cache
    assert "no optical flow at" in capsys.readouterr().out
    assert load_dataset(cache).flow is not None
    assert workspace.find_or_build_cache(str(demo_root), None, 4, 32, flow=True) == cache
    assert "made by 02_frame_extraction_and_dataset" in capsys.readouterr().out
    assert find_or_train("baseline", cache, out, epochs=1) == out
    assert "made by 04_convlstm / 05_lrcn" in capsys.readouterr().out


def test_use_colab_storage_mounts_drive_or_says_why_not(monkeypatch):
    import types

    mounted = []
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mounted.append)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.delenv("HAR_WORKDIR", raising=False)
    assert "on Google Drive" in workspace.use_colab_storage(drive=True, content="/c")
    assert mounted == ["/c/drive"] and workspace.os.environ["HAR_WORKDIR"] == "/c/drive/MyDrive/har"
    monkeypatch.delenv("HAR_WORKDIR")

    def refuse(path):
        raise ValueError("mount failed: credential propagation was unsuccessful")

    colab.drive = types.SimpleNamespace(mount=refuse)
    said = workspace.use_colab_storage(drive=True, content="/c")
    assert said.startswith("Drive not mounted (mount failed: credential")
    assert workspace.os.environ["HAR_WORKDIR"] == "/c"
    monkeypatch.delenv("HAR_WORKDIR")
    assert "lost when the runtime ends" in workspace.use_colab_storage(drive=False, content="/c")
    assert "(HAR_WORKDIR)" in workspace.use_colab_storage(drive=True, content="/c")


def test_demo_ucf50_is_the_demo_in_ucf50s_layout(tmp_path, monkeypatch):
    """Notebook 03's leak lesson: ``"demo-ucf50"`` makes its own folder and cache, apart from the default demo."""
    import json

    from har.dataset import discover_clips
    from har.demo import MANIFEST

    monkeypatch.setenv("HAR_WORKDIR", str(tmp_path))
    monkeypatch.setattr(workspace, "DEMO_UCF50", {**workspace.DEMO_UCF50, "groups": 2})  # the layout, smaller
    root = workspace.dataset_root("demo-ucf50")
    assert root == tmp_path / "data" / "demo_ucf50"
    assert json.loads((root / MANIFEST).read_text())["layout"] == "ucf50"
    clips, _ = discover_clips(root)
    per_group = {(c.class_name, c.group) for c in clips}
    assert len(clips) == 3 * len(per_group) == 3 * 4 * 2
    assert workspace.cache_path("demo-ucf50", 20, 64) != workspace.cache_path("demo", 20, 64)
    assert "UCF50's layout" in workspace.describe_dataset("demo-ucf50")
