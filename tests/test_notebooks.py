"""The notebooks: formatted as committed, shaped like the course's template, in step with `har`, and they run.

The notebooks are the source of the course; nothing generates them. ``make format`` formats them
(scripts/format_notebooks.py) and ``scripts/lint_notebooks.py`` checks what every notebook must share.
"""

import json
import re
import subprocess
import sys

import cv2
import lint_notebooks as template
import nbformat
import numpy as np
import pytest
from check_prose import readme_results, unchecked_figures
from conftest import ROOT
from run_notebooks import run_notebooks

import har

PATHS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS_SMOKE = "SOLUTION_EPOCHS = 1\nSOLUTION_CLIPS = 32"  # how CI runs the exercises' solutions
FORMAT = [sys.executable, str(ROOT / "scripts" / "format_notebooks.py")]
LINT = [sys.executable, str(ROOT / "scripts" / "lint_notebooks.py")]


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


def code_cell(notebook: dict, marker: str) -> dict:
    """The one code cell of a notebook (as JSON) whose source contains ``marker``."""
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code" and marker in "".join(c["source"])]
    assert len(cells) == 1, f"expected one code cell with {marker!r}, found {len(cells)}"
    return cells[0]


def test_the_eight_lessons_are_there_in_order():
    assert [p.stem[:3] for p in PATHS] == ["01_", "02_", "03_", "04_", "05_", "06_", "07_", "08_"]
    assert not (ROOT / "scripts" / "lessons.py").exists(), "the notebooks are the source: nothing generates them"


def test_the_notebooks_are_formatted():
    done = run([*FORMAT, "--check"])
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_follows_the_template(path):
    problems = template.check_notebook(path)
    assert not problems, f"{path.name} departs from the course template:\n" + "\n".join(problems)


def test_every_notebook_has_the_course_setup_cell():
    """The Setup cell makes a notebook work alone on Colab: it must be the same, word for word, everywhere."""
    for path in PATHS:
        text = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
        setup = text[text.index(next(t for t in text if t.startswith("## Setup"))) + 1]
        assert setup in (template.setup_code(True), template.setup_code(False)), (
            f"{path.name}: its Setup cell is not the course's: copy SETUP_CODE from scripts/lint_notebooks.py"
        )
        assert f'REPO_URL = os.environ.get("HAR_REPO_URL", "{template.REPO_URL}")' in setup


def test_the_template_check_says_what_to_change(tmp_path):
    path = tmp_path / "03_train_test_split.ipynb"
    nb = nbformat.read(PATHS[2], as_version=4)
    setup = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Setup")) + 1
    nb.cells[setup].source = nb.cells[setup].source.replace(template.REPO, "someone/a-fork")
    nb.cells[0].source = nb.cells[0].source.replace(template.REPO, "someone/a-fork")
    parameters = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    parameters.metadata = {}
    nbformat.write(nb, path)
    problems = "\n".join(template.check_notebook(path))
    assert "put this Colab badge in the first cell" in problems and template.badge(path.stem) in problems
    assert "not of someone/a-fork" in problems
    assert "Setup cell" in problems
    assert f'+    REPO_URL = os.environ.get("HAR_REPO_URL", "{template.REPO_URL}")' in problems
    assert "tag exactly one code cell `parameters`" in problems
    assert "time budget" not in problems  # the badge's fork does not touch the Time line
    nb.cells[0].source = "\n".join(line for line in nb.cells[0].source.splitlines() if "**Time:**" not in line)
    nbformat.write(nb, path)
    assert "open with the notebook's time budget" in "\n".join(template.check_notebook(path))
    done = run([*LINT, str(path)])
    assert done.returncode == 1 and "Setup cell" in done.stderr


def test_a_lesson_edited_in_jupyter_passes_after_make_format(tmp_path):
    """A teacher edits a lesson in Jupyter, saves it (outputs and all), runs the format command: it passes."""
    path = tmp_path / PATHS[3].name
    nb = nbformat.read(PATHS[3], as_version=4)
    markdown = next(c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## Training"))
    markdown.source += "\n\nOn a laptop, an epoch of the ConvLSTM takes about a minute.  \n"
    code = next(c for c in nb.cells if c.cell_type == "code" and "plot_history(" in c.source)
    code.source = (
        "from har.viz import plot_history\nimport numpy as np\nbest=int(np.argmin( result.history['val_loss'] ))\n"
    )
    code.source += "plot_history(result.history, title=f'ConvLSTM, best epoch {best + 1}');\n"
    for number, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):  # what a run leaves behind
        cell.execution_count = number + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="some output\n")]
        cell.metadata["execution"] = {"iopub.execute_input": "2025-01-01T00:00:00.000000Z"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"}
    nbformat.write(nb, path)  # as Jupyter saves

    assert run([*FORMAT, "--check", str(path)]).returncode == 1
    done = run([*FORMAT, str(path)])  # what `make format` runs, on this notebook
    assert done.returncode == 0, done.stderr
    checked = run([*FORMAT, "--check", str(path)])
    assert checked.returncode == 0, checked.stderr
    linted = run([*LINT, str(path)])
    assert linted.returncode == 0, linted.stderr
    assert template.check_notebook(path) == []

    formatted = json.loads(path.read_text())
    assert "takes about a minute." in "".join(cell_starting(formatted, "## Training")["source"])
    edited = "".join(code_cell(formatted, "plot_history(")["source"])
    assert 'best = int(np.argmin(result.history["val_loss"]))' in edited  # ruff-formatted
    assert edited.startswith("import numpy as np\n\nfrom har.viz import plot_history")  # imports sorted
    for cell in formatted["cells"]:
        assert cell.get("outputs", []) == [] and cell.get("execution_count") is None
        assert set(cell["metadata"]) <= ({"tags", "jupyter", "cellView"} if is_solution(cell) else {"tags"})
    unchanged = [c["source"] for c in json.loads(PATHS[3].read_text())["cells"]]
    assert sum(a != c["source"] for a, c in zip(unchanged, formatted["cells"], strict=True)) == 2


def is_solution(cell: dict) -> bool:
    """A worked solution of an exercise (a code cell tagged ``solution``)."""
    return "solution" in cell.get("metadata", {}).get("tags", [])


def test_solutions_stay_hidden_after_make_format(tmp_path):
    """A teacher opens a solution in Jupyter (its code shown) and saves: `make format` hides it again."""
    path = tmp_path / PATHS[4].name
    nb = nbformat.read(PATHS[4], as_version=4)
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert solutions and all(c.metadata.jupyter.source_hidden and c.metadata.cellView == "form" for c in solutions)
    solutions[0].metadata = {"tags": ["solution"], "collapsed": False}  # shown, as Jupyter saves it
    nbformat.write(nb, path)
    assert run([*FORMAT, "--check", str(path)]).returncode == 1
    assert run([*FORMAT, str(path)]).returncode == 0
    formatted = json.loads(path.read_text())
    assert formatted == json.loads(PATHS[4].read_text())


def test_every_exercise_has_a_solution_and_the_check_says_so(tmp_path):
    for path in PATHS:
        cells = json.loads(path.read_text())["cells"]
        tasks = [i for i, c in enumerate(cells) if "".join(c["source"]).startswith("### Exercise")]
        assert 3 <= len(tasks) <= 5, path.name
        assert all(is_solution(cells[i + 1]) for i in tasks), path.name
    path = tmp_path / PATHS[1].name
    nb = nbformat.read(PATHS[1], as_version=4)
    solution = next(c for c in nb.cells if "solution" in c.metadata.get("tags", []))
    solution.metadata.tags = []
    nbformat.write(nb, path)
    problems = "\n".join(template.check_notebook(path))
    assert "follow `### Exercise 1" in problems and "tagged `solution`" in problems
    nb.cells = [c for c in nb.cells if not c.source.startswith("### Exercise")]
    nbformat.write(nb, path)
    assert "end with the exercises" in "\n".join(template.check_notebook(path))


def test_every_notebook_names_its_core_lesson_and_what_goes_further(tmp_path):
    """A teacher cuts a class at `## Going further`: the template check wants it, and the line that names both."""
    for source in PATHS:
        cells = json.loads(source.read_text())["cells"]
        heads = ["".join(c["source"]).split("\n")[0] for c in cells if c["cell_type"] == "markdown"]
        assert heads.index("## Going further") < heads.index("## Exercises"), source.name
        assert "**Core lesson:**" in "".join(cells[0]["source"]), source.name
    path = tmp_path / PATHS[4].name
    nb = nbformat.read(PATHS[4], as_version=4)
    further = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Going further"))
    nb.cells.append(nb.cells.pop(further))  # after the exercises
    nb.cells[0].source = nb.cells[0].source.replace("**Core lesson:**", "The lesson:")
    nbformat.write(nb, path)
    problems = "\n".join(template.check_notebook(path))
    assert "under one `## Going further` Markdown cell, before `## Exercises`" in problems
    assert "one line starting `**Core lesson:** ...`" in problems


def cell_starting(notebook: dict, start: str) -> dict:
    """The first cell of a notebook (as JSON) whose source starts with ``start``."""
    return next(c for c in notebook["cells"] if "".join(c["source"]).startswith(start))


@pytest.mark.parametrize("damage", ["outputs", "unformatted code", "json layout"])
def test_an_unformatted_notebook_fails_the_check(tmp_path, damage):
    path = tmp_path / PATHS[0].name
    notebook = json.loads(PATHS[0].read_text())
    code = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    if damage == "outputs":
        code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hello\n"]}]
        code["execution_count"] = 1
    elif damage == "unformatted code":
        code["source"] = ["x=[1,\n", "2]\n"]
    path.write_text(json.dumps(notebook, indent=1 if damage != "json layout" else 2) + "\n")
    done = run([*FORMAT, "--check", str(path)])
    assert done.returncode == 1
    assert "not formatted" in done.stderr and "run `make format`" in done.stderr


#: What the notebooks write for the command line (`# @save`): each model, notebook 04's recipe, and its bundle.
SAVED = {
    "har.models": ["convlstm", "lrcn", "frame_cnn", "baseline", "single_frame", "early_fusion", "slow_fusion",
                   "two_stream"],
    "har.train": ["clip_batches", "fit_model"],
    "har.bundle": ["save_bundle"],
}  # fmt: skip


def test_the_package_takes_the_lessons_code_from_the_notebooks(tmp_path, monkeypatch):
    """d2l's `#@save`: the models and the recipe are written once, in the notebooks; `make format` copies each function
    marked `# @save har.MODULE` to the end of that module, and the check fails while the two differ."""
    import importlib
    import shutil

    import format_notebooks as formatter

    saved = formatter.saved_functions(PATHS)
    for module, names in SAVED.items():
        tail = formatter.module_path(module).read_text().split(formatter.SAVED)[1]
        assert [line.split("(")[0][4:] for line in tail.splitlines() if line.startswith("def ")] == names
        assert all(f"def {name}(" in "".join(saved[module]) for name in names)
        assert all(callable(getattr(importlib.import_module(module), name)) for name in names)
    assert formatter.sync_saved(PATHS, check=True) == []  # in step, as committed

    monkeypatch.setattr(formatter, "ROOT", tmp_path)  # a copy of the package, and a lesson edited in Jupyter
    shutil.copytree(ROOT / "har", tmp_path / "har")
    edited = tmp_path / PATHS[3].name
    nb = nbformat.read(PATHS[3], as_version=4)
    cell = next(c for c in nb.cells if "def convlstm(" in c.source)
    cell.source = cell.source.replace("(4, 8, 14, 16)", "(4, 8, 16, 32)")
    nbformat.write(nb, edited)
    course = [edited if p == PATHS[3] else p for p in PATHS]
    assert formatter.sync_saved(course, check=True) == [
        "har/models.py: not the notebooks' `# @save har.models` functions"
    ]
    assert formatter.sync_saved(course, check=False) == []  # what `make format` does: it writes the module
    assert "(4, 8, 16, 32)" in (tmp_path / "har" / "models.py").read_text()
    assert formatter.sync_saved(course, check=True) == []
    cell.source = cell.source.replace("# @save har.models\n", "")  # no longer saved: it leaves the package
    nbformat.write(nb, edited)
    formatter.sync_saved(course, check=False)
    assert "def convlstm(" not in (tmp_path / "har" / "models.py").read_text()


def test_the_figures_are_drawn_from_what_they_show():
    """The architecture diagram reads the model (a student's edit shows up); the tensor figure reads the clips."""
    import matplotlib.pyplot as plt

    from har.models import convlstm, lrcn, two_stream
    from har.viz import plot_model_diagram, plot_video_tensor

    def texts(figure) -> str:
        return "\n".join(t.get_text() for t in figure.axes[0].texts)

    drawn = texts(plot_model_diagram(convlstm(4)))
    assert "ConvLSTM2D: 4 filters 3×3" in drawn and "20 × 62 × 62 × 4" in drawn and "2880" in drawn
    wider = texts(plot_model_diagram(convlstm(4, sequence_length=12, image_size=(96, 96))))
    assert "12 × 94 × 94 × 4" in wider and "returns all 12 steps" in wider
    assert "on each of\nthe 20 frames" in texts(plot_model_diagram(lrcn(4)))
    drawn_at = {t.get_text(): t.get_position()[1] for t in plot_model_diagram(two_stream(4)).axes[0].texts}
    order = ["Channels 0 to 2: the RGB", "frame stream", "Channels 3 to 4: the optical flow (x, y)", "flow stream"]
    order.append("Concatenate: the branches' outputs, side by side")  # each branch drawn whole and named, then the join
    assert [drawn_at[text] for text in order] == sorted((drawn_at[text] for text in order), reverse=True)
    clips = np.random.default_rng(0).integers(0, 256, (2, 5, 16, 24, 3), dtype=np.uint8)
    figure = plot_video_tensor(clips, ["a", "b"])
    assert "(2, 5, 16, 24, 3), uint8" in figure.axes[0].get_title() and "T = 5" in texts(figure)
    plt.close("all")


def test_the_series_runs_in_quick_mode(tmp_path):
    """Every notebook, in order, each in a fresh kernel, on the demo dataset: what `make demo` does.

    Notebook 07's video URL points at 127.0.0.1, where nothing answers: it must go on with its offline video.
    """
    work = tmp_path / "work"
    overrides = {
        "*": SOLUTIONS_SMOKE,  # the exercises' solutions: one epoch, at most 32 clips
        "08_predict_on_youtube_videos": 'VIDEO_URL = "http://127.0.0.1:9/lesson.mp4"  # nothing answers',
    }
    timings = run_notebooks(out_dir=tmp_path / "executed", workdir=work, quick=True, overrides=overrides)
    assert [name for name, _ in timings] == [p.stem for p in PATHS]
    assert (work / "data" / "cache_demo_8x64.npz").is_file()  # quick mode: 8 frames a clip
    from har.weights import local_weights

    weights = local_weights("MobileNetV2") is not None  # the offline weights folder (make test passes HAR_WEIGHTS)
    from har.demo import NOT_ON_THE_DEMO

    trained = [m for m in har.MODEL_NAMES if (weights or m != "pretrained") and m not in NOT_ON_THE_DEMO]
    assert all((work / "models" / f"{model}.keras").is_file() for model in trained)
    assert not [m for m in (*NOT_ON_THE_DEMO, "pose") if (work / "models" / f"{m}.keras").exists()]  # chance by design
    table = (work / "models" / "comparison.md").read_text()
    assert all(f"| {m} |" in table for m in ("convlstm", "lrcn", "baseline", *(["pretrained"] if weights else [])))
    rows = [row.split(" | ") for row in table.splitlines()[2:] if row.startswith("| ")]
    accuracy = {row[0][2:]: float(row[1].rstrip("%")) for row in rows}
    assert accuracy["convlstm"] > 50 and accuracy["lrcn"] > 50, table  # the lessons' models learnt (chance: 25 %)
    assert "4 classes, so chance is 25.0%" in table
    approaches = (work / "models" / "approaches.md").read_text().splitlines()
    assert [row.split(" | ")[1] for row in approaches[2:]] == [m for m in har.APPROACHES if m in trained]  # in order
    assert all(re.search(r"\| \d+\.\d% \| \d+\.\d% \|$", row) for row in approaches[2:])  # no chance stand-ins
    chosen = (work / "models" / "chosen_model.txt").read_text().strip()  # 07's pick, which 08 labels videos with
    assert chosen in trained
    video = work / "data" / "videos" / f"demo_actions.{chosen}.mp4"
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 240
    capture.release()

    executed = {p.stem: json.loads((tmp_path / "executed" / p.name).read_text()) for p in PATHS}
    for name, notebook in executed.items():
        outputs = [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        assert np.all([o.get("output_type") != "error" for o in outputs]), name
        solutions = [c for c in notebook["cells"] if is_solution(c)]
        assert len(solutions) >= 3 and all(c["execution_count"] for c in solutions), name  # every solution ran
    figures = [
        ("02_frame_extraction_and_dataset", "plot_video_tensor("),  # the 5-D tensor
        ("04_convlstm", "plot_model_diagram("),  # the architecture diagrams
        ("05_lrcn", "plot_model_diagram("),
        ("06_approaches", "plot_model_diagram(slow_fusion"),  # the slow-fusion diagram
        ("06_approaches", "plot_model_diagram(two_stream"),  # the two streams, as branches
        ("06_approaches", "plot_flow("),  # a clip's frames above its optical flow
        ("06_approaches", "plot_approaches("),  # the approaches, as one chart
        ("03_train_test_split", "The same model on both splits"),  # the leak, as bars
        ("07_compare_and_evaluate", "plot_per_class_f1("),
        ("07_compare_and_evaluate", "'s mistakes"),  # the best model's mistakes as frame strips
        ("07_compare_and_evaluate", "plot_learning_curve("),  # measured on real clips, drawn in quick mode too
        ("08_predict_on_youtube_videos", "plot_label_timeline(result, truth=truth)"),
        ("08_predict_on_youtube_videos", "truth=joined.truth()"),  # the timeline of joined clips, truth under it
    ]
    for name, marker in figures:
        outputs = code_cell(executed[name], marker)["outputs"]
        assert any("image/png" in o.get("data", {}) for o in outputs), f"{name}: {marker} drew no figure"
    printed = {name: text_of(notebook) for name, notebook in executed.items()}
    assert "the same frames as frames_extraction: True" in printed["02_frame_extraction_and_dataset"]
    assert "x faster" in printed["02_frame_extraction_and_dataset"]
    assert "bytes per clip" in printed["02_frame_extraction_and_dataset"]
    assert "the speed of the tutorial's loop" in printed["08_predict_on_youtube_videos"]
    lesson = printed["08_predict_on_youtube_videos"]
    assert "the video URL failed: could not download http://127.0.0.1:9/lesson.mp4" in lesson
    assert "video from a video made offline" in lesson and "SystemExit" not in lesson
    assert "top 3:" in lesson  # the whole-video answer lists its top 3, sure or unsure
    assert re.search(r"whole clip right \d+%, late window right \d+%: ratio \d\.\d\d", lesson)
    assert re.search(r"shot cuts found: \d+ of the 11 joins, \d+ inside clips", lesson)  # 12 clips joined
    assert re.search(r"frame step \d+, stopping at cuts: False: late windows (\d\.\d\d|nan)x", lesson)  # exercise 4
    assert re.search(r"a window: 8 frames, one every \d+, so \d+ frames of video", lesson)
    assert re.search(r"early_fusion: \d+ epochs; the weights of the best, epoch \d+", printed["06_approaches"])
    assert re.search(r"resize \+ flow: \d+\.\d\d ms a frame", printed["06_approaches"])
    assert re.search(r"8 frames: [\d,]+ parameters", printed["04_convlstm"])  # the solutions' answers
    lesson = printed["04_convlstm"]  # the Keras loop: fit, evaluate, save and load
    assert re.search(r"\d+ epochs; the weights of the best, epoch \d+ \(validation loss \d\.\d+\), restored", lesson)
    assert re.search(r"ConvLSTM on \d+ test clips .* accuracy \d+\.\d%, loss \d\.\d+", lesson)
    assert re.search(r"saved convlstm.keras \(\d\.\d MiB\); loaded back, it scores \d+\.\d%", lesson)
    assert "late fusion: " in printed["05_lrcn"] and "fine_tune_layers=60: " in printed["05_lrcn"]
    assert re.search(r"LRCN: \d+\.\d% right forwards, \d+\.\d% backwards", printed["05_lrcn"])

    if weights:
        cached = r"pretrained at 224x224, average head trained on the feature cache: test accuracy \d+\.\d%"
        assert re.search(cached, printed["05_lrcn"])
        assert "the frames at 224x224 would take 441 MiB" in printed["05_lrcn"]  # the feature cache, streamed
        assert "pretrained: not run" not in printed["06_approaches"]
    else:  # no pretrained weights: not trained, and the notebooks say why instead of showing chance
        assert "pretrained at 224x224: not run: no pretrained weights here" in printed["05_lrcn"]
        assert "pretrained: not run: no pretrained weights here" in printed["06_approaches"]
    assert "pose: not run on the demo: its clips are drawn shapes, with no people" in printed["06_approaches"]
    assert f"{chosen}: the model notebook 07 chose on validation clips" in printed["08_predict_on_youtube_videos"]
    assert re.search(r"slow_fusion_2plus1: [\d,]+ weights", printed["06_approaches"])
    leak = printed["03_train_test_split"]  # the leak, measured on the demo in UCF50's layout
    assert "UCF50's layout: 192 clips, 4 classes, 16 groups" in leak
    assert re.search(r"nearest look: the random split reports [+-]\d+\.\d points more than the group split", leak)
    evaluation = printed["07_compare_and_evaluate"]
    assert re.search(rf"best on validation: {chosen}, the model notebook 08 labels videos with; on the test clips "
                     r"\d+\.\d%", evaluation)  # fmt: skip
    assert re.search(r"\w+ gets \d+ of 96 test clips wrong", evaluation)
    assert not [name for name, text in printed.items() if "triggered tf.function retracing" in text]
    results = readme_results()  # every figure the prose types is printed by a cell, or in the README's results
    assert [(name, unchecked_figures(notebook, results)) for name, notebook in executed.items()] == [
        (name, []) for name in executed
    ]


def text_of(notebook: dict) -> str:
    """Everything a notebook printed."""
    outputs = [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    return "".join("".join(o.get("text", "")) for o in outputs if o.get("output_type") == "stream")


def test_make_student_takes_the_solutions_out(tmp_path):
    """`make student`: the notebooks for a class, each solution an empty answer cell, everything else as it is."""
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "student.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    for path in PATHS:
        course, student = (nbformat.read(p, as_version=4) for p in (path, tmp_path / path.name))
        assert len(course.cells) == len(student.cells), path.name
        for ours, theirs in zip(course.cells, student.cells, strict=True):
            if is_solution(ours):
                assert "answer" in theirs.metadata["tags"] and "solution" not in theirs.metadata["tags"]
                assert theirs.source.startswith("# Your answer here") and ours.source not in theirs.source
            else:
                assert theirs.source == ours.source  # the lessons and the questions untouched
    solutions = sum(is_solution(c) for p in PATHS for c in json.loads(p.read_text())["cells"])
    assert f"{len(PATHS)} notebooks for a class in {tmp_path}/, {solutions} solutions taken out" in run.stdout
    again = subprocess.run([sys.executable, str(ROOT / "scripts" / "student.py"), "--out", str(ROOT / "notebooks")],
                           capture_output=True, text=True)  # fmt: skip
    assert again.returncode == 1 and "would overwrite the course's own notebooks" in again.stderr


def test_the_prose_check_finds_a_typed_figure():
    """A figure typed into the prose is checked against what the cells printed and what the README measured."""
    results = "## Results\n| LRCN | **70.0 % ± 9.7** | 67, 81, 62 |\nOne frame names two clips in three.\n"
    prose = (
        "**Time:** 12.5 minutes.\nIt scored 91.0 % here, 70.0 % on real clips (81 % on one split), `0.45` by "
        "default, frames of 64 × 64; 87.3 % last time; two clips in three; one in four; 7 of 12; 3.3×; 12 s."
    )
    notebook = {"cells": [
        {"cell_type": "markdown", "source": [prose]},
        {"cell_type": "code", "source": [], "outputs": [{"output_type": "stream", "text": ["accuracy 91.0%\n"]}]},
    ]}  # fmt: skip
    found = [figure for _, figure in unchecked_figures(notebook, results)]
    assert found == ["87.3 %", "3.3×", "12 s", "7 of 12", "one in four"]  # not the printed, measured, budget, code
    assert unchecked_figures(notebook, readme_results()) != []  # the README's own results do not hold these either


def test_prose_comes_in_short_cells_and_says_a_thing_once():
    """No Markdown cell over about 250 words, and no paragraph written into two notebooks (the template's Setup,
    Parameters and Exercises cells aside): a teacher cuts and edits cells, and a repeated paragraph drifts."""
    seen: dict[str, str] = {}
    for path in PATHS:
        for cell in json.loads(path.read_text())["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] != "markdown" or text.startswith(("## Setup", "## Parameters", "## Exercises")):
                continue
            assert len(text.split()) <= 260, f"{path.name}: a Markdown cell of {len(text.split())} words: {text[:60]!r}"
            for paragraph in (" ".join(p.split()) for p in text.split("\n\n")):
                if len(paragraph.split()) >= 20:
                    assert seen.setdefault(paragraph, path.name) == path.name, f"{path.name} repeats {seen[paragraph]}"
