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


def test_require_names_the_notebook_to_run_first(tmp_path):
    with pytest.raises(HarError, match="run 02_frame_extraction_and_dataset first"):
        workspace.require(tmp_path / "cache.npz", "02_frame_extraction_and_dataset")
    (tmp_path / "cache.npz").write_bytes(b"x")
    assert workspace.require(tmp_path / "cache.npz", "02") == tmp_path / "cache.npz"


def test_environment_report_without_tensorflow():
    code = (
        "import sys; from har.workspace import environment_report; print(environment_report()); "
        "assert 'tensorflow' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Python 3." in result.stdout and "GPU:" in result.stdout
