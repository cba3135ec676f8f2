"""The notebooks: in sync with their source, shaped like the course's template, and they run."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT
from run_notebooks import run_notebooks

import notebooks as source

PATHS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_seven_lessons_are_there_in_order():
    assert [p.stem[:2] for p in PATHS] == ["01", "02", "03", "04", "05", "06", "07"]
    assert [p.stem for p in PATHS] == [lesson[0] for lesson in source.lessons()]


def test_committed_notebooks_match_their_source(tmp_path):
    for generated in source.write_all(tmp_path):
        committed = ROOT / "notebooks" / generated.name
        assert committed.read_text() == generated.read_text(), f"run `python scripts/notebooks.py` ({generated.name})"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_template(path):
    cells = json.loads(path.read_text())["cells"]
    first = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "markdown" and first.startswith("# ")
    assert f"colab.research.google.com/github/{source.REPO}/blob/main/notebooks/{path.name}" in first
    text = ["".join(c["source"]) for c in cells]
    setup = text.index(next(t for t in text if t.startswith("## Setup")))
    assert source.REPO_URL in text[setup + 1] and "import har" in text[setup + 1]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and "QUICK = quick_mode()" in "".join(tagged[0]["source"])
    assert "sys.path.insert" not in "".join(text) and "sys.path.append" not in "".join(text)
    for cell in cells:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, "notebooks are committed without outputs"


def test_the_series_runs_in_quick_mode(tmp_path):
    """Every notebook, in order, each in a fresh kernel, on the demo dataset: what `make demo` does."""
    work = tmp_path / "work"
    timings = run_notebooks(out_dir=tmp_path / "executed", workdir=work, quick=True)
    assert [name for name, _ in timings] == [p.stem for p in PATHS]
    assert (work / "data" / "cache_demo_20x64.npz").is_file()
    for model in ("convlstm", "lrcn", "baseline", "pretrained"):
        assert (work / "models" / f"{model}.keras").is_file()
    table = (work / "models" / "comparison.md").read_text()
    assert all(f"| {m} |" in table for m in ("convlstm", "lrcn", "baseline", "pretrained"))
    video = work / "data" / "videos" / "demo_actions.lrcn.mp4"
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 240
    capture.release()
    executed = json.loads((tmp_path / "executed" / PATHS[-1].name).read_text())
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the label timeline was drawn
    assert np.all([o.get("output_type") != "error" for o in outputs])
    assert Path(tmp_path / "executed").is_dir()
