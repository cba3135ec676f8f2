"""Check that every course notebook follows the course's template (``make test`` runs it).

``python scripts/lint_notebooks.py [NOTEBOOK ...]`` (default: every ``notebooks/NN_*.ipynb``) prints each
departure from the template with what to change, and exits 1 if there is one. Nothing is generated or
rewritten: the notebooks are the source, and this only checks what must be the same in all of them:

- the name ``NN_topic.ipynb``; a first Markdown cell with the title (``# ...``), the Colab badge of this
  notebook in this repository, a one-paragraph overview, and a line ``**Time:** ...`` giving the measured
  time of the notebook in quick mode and in full mode (where it was measured, or that it was not), and a line
  ``**Core lesson:** ... **Going further:** ...`` that tells a teacher what to keep and what a short class can skip;
- a ``## Setup`` Markdown cell followed by the Setup code cell, word for word ``SETUP_CODE`` (with
  ``with_tensorflow=True`` or ``False``): it is what makes a notebook work alone on Colab;
- exactly one code cell tagged ``parameters``, after the Setup cell, starting with ``PARAMETERS_HEAD``;
- a ``## Going further`` Markdown cell before the exercises: what goes beyond the core lesson sits under it;
- exercises at the end: ``## Exercises``, then 3-5 ``### Exercise N`` Markdown cells, each followed by its worked
  solution, a code cell tagged ``solution`` starting with ``SOLUTION_TITLE`` (hidden by ``make format``);
- no ``sys.path`` tricks, no Colab link to another copy of the repository, and a last Markdown cell with ``Next:``.

To change what every notebook shares (the Setup cell, say), change it here and in every notebook.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

REPO = "har-course/human-activity-recognition"  # GitHub owner/name
REPO_URL = f"https://github.com/{REPO}"
BRANCH = "main"
NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")

SETUP_CODE = """import os
import sys

USE_DRIVE = os.environ.get("HAR_USE_DRIVE", "1") != "0"  # on Colab: keep data/ and models/ on Google Drive
IS_COLAB = "google.colab" in sys.modules
if IS_COLAB:  # opened alone on Colab: install the course package from its repository (HAR_REPO_URL: a fork)
    import subprocess

    REPO_URL = os.environ.get("HAR_REPO_URL", "{repo_url}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", f"git+{{REPO_URL}}"], check=True)
    PACKAGES = {colab_packages}  # what Colab lacks
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *PACKAGES], check=True)

try:
    import har
except ImportError:
    raise ImportError("the course package `har` is not installed: run `make test` or `pip install -e .`") from None

from har.workspace import environment_report, use_colab_storage

if IS_COLAB:
    print(use_colab_storage(drive=USE_DRIVE))  # Drive (kept between runtimes) or /content (lost with the runtime)
print(environment_report(with_tensorflow={with_tensorflow}))"""

# What Colab lacks of the course's requirements (it ships TensorFlow, Keras, OpenCV, NumPy and the rest).
COLAB_PACKAGES = ["rarfile", "yt-dlp[default]", "deno", "imageio-ffmpeg", "gradio", "ai-edge-litert"]

PARAMETERS_HEAD = """import har
from har.workspace import quick_mode

QUICK = quick_mode()  # HAR_QUICK=1 (CI, `make demo`): the demo dataset and few epochs, minutes on a CPU
# "demo" (generated), "ucf50" (notebook 01 downloads it) or the path of your own folder of class folders
DATASET = "demo" if QUICK else "ucf50"
# Classes to use, in label order: UCF50's tutorial four; None takes every class folder (the demo, your own folder)
CLASSES = list(har.TUTORIAL_CLASSES) if DATASET == "ucf50" else None
SEQUENCE_LENGTH = 8 if QUICK else har.SEQUENCE_LENGTH  # frames per clip: the tutorial's 20; 8 on a CPU
IMAGE_SIZE = har.IMAGE_HEIGHT  # frames are IMAGE_SIZE x IMAGE_SIZE (64)
SEED = 27  # the tutorial's seed"""


#: The first line of every solution cell: on Colab, the title its hidden code shows.
SOLUTION_TITLE = "# @title Solution (double-click to show the code)"


def badge_url(name: str) -> str:
    """Where the Colab badge of notebook ``name`` (file name without ``.ipynb``) points."""
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{name}.ipynb"


def badge(name: str) -> str:
    """Markdown of the "Open in Colab" badge of notebook ``name``."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({badge_url(name)})"


def setup_code(with_tensorflow: bool) -> str:
    """The Setup code cell, word for word (``with_tensorflow``: report TensorFlow's version and the GPU)."""
    packages = json.dumps(COLAB_PACKAGES)
    return SETUP_CODE.format(repo_url=REPO_URL, with_tensorflow=with_tensorflow, colab_packages=packages)


def _diff(have: str, want: str) -> str:
    lines = difflib.unified_diff(have.splitlines(), want.splitlines(), "this notebook", "the template", lineterm="")
    return "\n".join("      " + line for line in list(lines)[2:])


def check_notebook(path: str | Path) -> list[str]:
    """The departures of one notebook from the course template, each saying what to change."""
    path = Path(path)
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as error:
        return [f"cannot read it as a notebook ({error})"]
    text = ["".join(c.get("source", "")) for c in cells]
    kinds = [c.get("cell_type") for c in cells]
    found = []
    if not NAME.match(path.name):
        found.append("name it NN_topic.ipynb (two digits for its place in the course, then lower-case words)")
    if not cells or kinds[0] != "markdown" or not text[0].startswith("# "):
        found.append("start with a Markdown cell holding the title: `# N. Title`, the Colab badge and an overview")
    else:
        if badge(path.stem) not in text[0]:
            found.append(f"put this Colab badge in the first cell, under the title:\n      {badge(path.stem)}")
        elif not text[0].split(badge(path.stem), 1)[1].strip():
            found.append("write a one-paragraph overview under the badge in the first cell: what this notebook teaches")
    if cells and kinds[0] == "markdown":
        budget = [line for line in text[0].splitlines() if line.startswith("**Time:**")]
        if len(budget) != 1 or "quick mode" not in budget[0] or "full mode" not in budget[0]:
            found.append(
                "open with the notebook's time budget in the first cell, one line starting `**Time:**` that gives "
                "its measured time in quick mode and in full mode, and where it was measured"
            )
    for repo in sorted(set(re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)", "".join(text)))):
        if repo != REPO:
            found.append(f"open notebooks of this repository in Colab ({REPO}), not of {repo}")
    setup = [i for i, t in enumerate(text) if kinds[i] == "markdown" and t.startswith("## Setup")]
    if len(setup) != 1:
        found.append("have exactly one Markdown cell starting with `## Setup`, followed by the Setup code cell")
    else:
        code = text[setup[0] + 1] if setup[0] + 1 < len(cells) and kinds[setup[0] + 1] == "code" else ""
        if code not in (setup_code(True), setup_code(False)):
            want = setup_code("with_tensorflow=True" in code)
            found.append(
                "the Setup cell (after `## Setup`) must be the course's Setup cell word for word "
                "(SETUP_CODE in scripts/lint_notebooks.py; copy it from another notebook). Change:\n"
                + _diff(code, want)
            )
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1 or kinds[tagged[0]] != "code":
        found.append(
            f"tag exactly one code cell `parameters` (found {len(tagged)} tagged cells): the cell holding every knob "
            "(JupyterLab: the property inspector, the gear in the right sidebar, under Cell Tags)"
        )
    else:
        if setup and tagged[0] < setup[0]:
            found.append("put the parameters cell after the Setup cell")
        if not text[tagged[0]].startswith(PARAMETERS_HEAD):
            head = text[tagged[0]][: len(PARAMETERS_HEAD)]
            found.append(
                "start the parameters cell with the course's shared head (PARAMETERS_HEAD in "
                "scripts/lint_notebooks.py), then this notebook's own knobs. Change:\n" + _diff(head, PARAMETERS_HEAD)
            )
    found += _exercise_problems(cells, text, kinds)
    lesson = [line for line in text[0].splitlines() if line.startswith("**Core lesson:**")] if text else []
    if len(lesson) != 1 or "**Going further:**" not in lesson[0]:
        found.append("say in the first cell what the core lesson is and what goes further, in one line starting "
                     "`**Core lesson:** ...` and holding `**Going further:** ...`")  # fmt: skip
    further = [i for i, t in enumerate(text) if kinds[i] == "markdown" and t.startswith("## Going further")]
    exercises = [i for i, t in enumerate(text) if kinds[i] == "markdown" and t.startswith("## Exercises")]
    if len(further) != 1 or not exercises or further[0] > exercises[0]:
        found.append("put what goes beyond the core lesson under one `## Going further` Markdown cell, before "
                     "`## Exercises`, so a teacher can cut a short class there")  # fmt: skip
    if "sys.path.insert" in "".join(text) or "sys.path.append" in "".join(text):
        found.append("import the course package as `har` (the Setup cell installs it) instead of changing sys.path")
    if not cells or kinds[-1] != "markdown" or "Next:" not in text[-1]:
        found.append("end with a Markdown cell saying what comes next (`Next: ...`)")
    return found


def _exercise_problems(cells: list[dict], text: list[str], kinds: list[str]) -> list[str]:
    """What is wrong with a notebook's exercises: ``## Exercises``, then 3-5 ``### Exercise`` cells, each followed by
    its solution, a code cell tagged ``solution`` that starts with ``SOLUTION_TITLE``."""
    heads = [i for i, t in enumerate(text) if kinds[i] == "markdown" and t.startswith("## Exercises")]
    tasks = [i for i, t in enumerate(text) if kinds[i] == "markdown" and t.startswith("### Exercise")]
    if len(heads) != 1 or not 3 <= len(tasks) <= 5 or any(i < heads[0] for i in tasks):
        return [
            "end with the exercises: one `## Exercises` Markdown cell, then 3 to 5 exercises, each a Markdown cell "
            f"starting `### Exercise N: ...` (found {len(heads)} and {len(tasks)}) followed by its solution"
        ]
    found = []
    for i in tasks:
        after = cells[i + 1] if i + 1 < len(cells) else {}
        tags = after.get("metadata", {}).get("tags", [])
        if after.get("cell_type") != "code" or "solution" not in tags or not text[i + 1].startswith(SOLUTION_TITLE):
            title = text[i].splitlines()[0]
            found.append(
                f"follow `{title}` with its solution: a code cell tagged `solution` whose first line is "
                f"`{SOLUTION_TITLE}` (`make format` hides its code)"
            )
    return found


def main(argv: list[str] | None = None) -> int:
    """Command line: check the notebooks named (default: all) and report what to change."""
    names = sys.argv[1:] if argv is None else argv
    paths = [Path(name) for name in names] if names else sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    failed = 0
    for path in paths:
        for problem in check_notebook(path):
            print(f"{path}: {problem}", file=sys.stderr)
            failed += 1
    if failed:
        print(f"{failed} departure(s) from the notebook template (see scripts/lint_notebooks.py)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
