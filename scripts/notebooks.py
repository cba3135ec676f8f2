"""The source of the course notebooks: ``python scripts/notebooks.py`` writes ``notebooks/*.ipynb``.

Every notebook gets the same header (title, overview, Colab badge), the same Setup cell and a tagged
``parameters`` cell from here, so the repository URL and the setup live in one place. Edit a lesson
here, run the script, and commit both; ``tests/test_notebooks.py`` fails when the two drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
REPO = "har-course/human-activity-recognition"  # GitHub owner/name: the only place it is written
REPO_URL = f"https://github.com/{REPO}"
BRANCH = "main"


def badge(name: str) -> str:
    """Markdown for the "Open in Colab" badge of notebook ``name``."""
    url = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{name}.ipynb"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def setup_cell(with_tensorflow: bool) -> str:
    """The Setup cell: make ``har`` importable (alone on Colab too), then report versions and the GPU."""
    return f'''import os
import sys

IS_COLAB = "google.colab" in sys.modules
if IS_COLAB:  # opened alone on Colab: install the course package from its repository
    import subprocess

    REPO_URL = "{REPO_URL}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", f"git+{{REPO_URL}}"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "rarfile", "yt-dlp", "imageio-ffmpeg"], check=True)
    os.environ.setdefault("HAR_WORKDIR", "/content")  # data/ and models/ go under /content

try:
    import har
except ImportError:
    raise ImportError("the course package `har` is not installed: run `make test` or `pip install -e .`") from None

from har.workspace import environment_report

print(environment_report(with_tensorflow={with_tensorflow}))'''


PARAMETERS_HEAD = """import har
from har.workspace import quick_mode

QUICK = quick_mode()  # HAR_QUICK=1 (CI, `make demo`): the demo dataset and few epochs, minutes on a CPU
# "demo" (generated), "ucf50" (notebook 01 downloads it) or the path of your own folder of class folders
DATASET = "demo" if QUICK else "ucf50"
# Classes to use, in label order; None takes every class folder
CLASSES = None if DATASET == "demo" else list(har.TUTORIAL_CLASSES)
SEQUENCE_LENGTH = har.SEQUENCE_LENGTH  # frames per clip (20)
IMAGE_SIZE = har.IMAGE_HEIGHT  # frames are IMAGE_SIZE x IMAGE_SIZE (64)
SEED = 27  # the tutorial's seed"""


SETUP_TEXT = """## Setup

Makes the course package `har` importable (on Colab it installs it from the repository) and says what this
machine has."""
PARAMETERS_TEXT = """## Parameters

Every knob of this notebook. `HAR_QUICK=1` switches to quick mode: the generated demo dataset and a few epochs, so
the whole series runs in minutes on a CPU. Set `DATASET` to `"ucf50"` (or your own folder) for the real thing."""


def notebook(name: str, title: str, overview: str, with_tensorflow: bool, parameters: str, cells: list):
    """Assemble a notebook: header, Setup, parameters (tagged), then the lesson's cells."""
    head = [
        new_markdown_cell(f"# {title}\n\n{badge(name)}\n\n{overview}"),
        new_markdown_cell(SETUP_TEXT),
        new_code_cell(setup_cell(with_tensorflow)),
        new_markdown_cell(PARAMETERS_TEXT),
        new_code_cell(parameters.strip(), metadata={"tags": ["parameters"]}),
    ]
    body = [new_markdown_cell(c[3:].strip()) if c.startswith("md:") else new_code_cell(c.strip()) for c in cells]
    nb = new_notebook(cells=head + body)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "gpuType": "T4"},
        "accelerator": "GPU",
    }
    return name, nb


def lessons() -> list[tuple]:
    """The lessons of ``scripts/lessons.py`` (imported late: that module imports this one)."""
    from lessons import LESSONS

    return LESSONS


def all_notebooks():
    """Every notebook of the course, in teaching order."""
    return [notebook(*lesson) for lesson in lessons()]


def render(nb) -> str:
    """Notebook JSON as written to disk (no outputs, stable ids)."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nbformat.writes(nb) + "\n"


def write_all(folder: Path) -> list[Path]:
    """Write every notebook into ``folder`` and format their code cells with ruff, as committed."""
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, nb in all_notebooks():
        path = folder / f"{name}.ipynb"
        path.write_text(render(nb))
        paths.append(path)
    subprocess.run([sys.executable, "-m", "ruff", "format", "--quiet", *map(str, paths)], check=True)
    return paths


def main() -> None:
    """Write every notebook under notebooks/."""
    for path in write_all(ROOT / "notebooks"):
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
