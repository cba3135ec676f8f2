"""The way students get the course: the Setup cell on Colab, run for real in a fresh environment.

A fresh virtual environment stands in for a Colab runtime: it already holds the course's requirements (as
Colab ships TensorFlow, OpenCV and the rest; here they are this checkout's ``.venv`` packages, seen through
a ``.pth`` file) but not ``har``. A stand-in ``google.colab`` package records what would be mounted. Each
notebook's Setup cell then runs as it is, installing the course exactly as on Colab (``pip install
git+URL``), from a local clone's ``git+file://`` URL instead of GitHub (``HAR_REPO_URL``, the cell's own
knob for forks).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

FAKE_COLAB = {
    "__init__.py": "",
    "drive.py": (
        "import json, os\n"
        "def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):\n"
        "    with open(os.environ['FAKE_COLAB_LOG'], 'a') as log:\n"
        "        log.write(json.dumps({'mount': mountpoint}) + '\\n')\n"
    ),
    "files.py": (
        "import json, os\n"
        "def upload():\n"
        "    with open(os.environ['FAKE_COLAB_LOG'], 'a') as log:\n"
        "        log.write(json.dumps({'upload': True}) + '\\n')\n"
        "    return {}\n"
    ),
}


def setup_cell(path: Path) -> str:
    """The code cell that follows the ``## Setup`` heading."""
    cells = json.loads(path.read_text())["cells"]
    heading = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("## Setup"))
    return "".join(cells[heading + 1]["source"])


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A fresh venv holding the course's requirements but not ``har``, a local clone, a fake ``google.colab``."""
    base = tmp_path_factory.mktemp("colab")
    clone = base / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    venv = base / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "colab_preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    fake = base / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    # no google/__init__.py: `google` stays a namespace package, shared with protobuf's google.protobuf
    for name, text in FAKE_COLAB.items():
        (fake / "google" / "colab" / name).write_text(text)
    return {"base": base, "clone": clone, "python": python, "fake": fake}


def run_setup(colab, notebook: Path, **env) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Run a notebook's Setup cell in the fresh venv as Colab would (``google.colab`` imported first)."""
    log = colab["base"] / f"{notebook.stem}.log"
    log.unlink(missing_ok=True)
    log.touch()
    code = "import google.colab\n" + setup_cell(notebook) + "\n"
    code += "import json, os\nimport har\nprint('RESULT', json.dumps([os.environ.get('HAR_WORKDIR'), har.__file__]))\n"
    environment = {
        key: value for key, value in os.environ.items() if key not in ("HAR_WORKDIR", "PYTHONPATH", "VIRTUAL_ENV")
    }
    environment.update(
        PYTHONPATH=str(colab["fake"]), FAKE_COLAB_LOG=str(log), HAR_REPO_URL=f"file://{colab['clone']}",
        PIP_DISABLE_PIP_VERSION_CHECK="1", TF_CPP_MIN_LOG_LEVEL="2", **env,
    )  # fmt: skip
    done = subprocess.run(
        [str(colab["python"]), "-c", code], capture_output=True, text=True, cwd=colab["base"], env=environment,
        timeout=600,
    )  # fmt: skip
    return done, [json.loads(line) for line in log.read_text().splitlines()]


# Every notebook's Setup cell is one of two texts, word for word (test_notebooks checks it): run each text once.
SETUPS: dict[str, list[Path]] = {}
for _path in NOTEBOOKS:
    SETUPS.setdefault(setup_cell(_path), []).append(_path)


@pytest.mark.parametrize(
    "notebooks", list(SETUPS.values()), ids=["+".join(p.stem[:2] for p in v) for v in SETUPS.values()]
)
def test_setup_cell_installs_the_course_and_keeps_files_on_drive(colab, notebooks):
    done, log = run_setup(colab, notebooks[0])
    assert done.returncode == 0, done.stderr[-2000:]
    workdir, har_file = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert workdir == "/content/drive/MyDrive/har" and log == [{"mount": "/content/drive"}]
    assert "on Google Drive" in done.stdout
    venv = colab["python"].parents[1]
    assert Path(har_file).is_relative_to(venv), har_file  # installed from the URL, not this checkout


def test_setup_cell_without_drive_keeps_files_in_content_and_the_course_runs(colab, tmp_path):
    done, log = run_setup(colab, NOTEBOOKS[0], HAR_USE_DRIVE="0")
    assert done.returncode == 0, done.stderr[-2000:]
    workdir, _ = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert workdir == "/content" and log == []
    assert "lost when the runtime ends" in done.stdout
    out = tmp_path / "demo"
    made = subprocess.run(
        [str(colab["python"].parent / "har"), "demo-data", str(out), "--classes", "2", "--groups", "2",
         "--frames", "20-24", "--size", "64x48"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert len(list(out.glob("*/*.avi"))) == 4


def test_the_repository_has_one_address_everywhere():
    """pyproject's Repository URL is canonical: badges, Setup cells, the README and the template use it."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import lint_notebooks as template

    canonical = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    assert canonical == template.REPO_URL
    owner_name = canonical.removeprefix("https://github.com/")
    texts = {path.name: path.read_text() for path in [ROOT / "README.md", *NOTEBOOKS]}
    for name, text in texts.items():
        for found in re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/", text):
            assert found == owner_name, f"{name}: a Colab badge opens {found}, not {owner_name}"
        for found in re.findall(r"github\.com/([\w.-]+/[\w.-]+)", text):
            if not found.startswith(("yt-dlp/", "googlecolab/")):
                assert found.removesuffix(".git") == owner_name, f"{name}: {found} is not {owner_name}"
    for path in NOTEBOOKS:
        assert f'os.environ.get("HAR_REPO_URL", "{canonical}")' in setup_cell(path), path.name
    assert sum(f"colab.research.google.com/github/{owner_name}/" in t for t in texts.values()) == len(texts)
