"""``make rehearse DATA=FOLDER``: every notebook in **full mode** against a real folder laid out like UCF50.

``python scripts/rehearse.py FOLDER [--epochs 8] [--out build/rehearsal]``

This is a Colab user's full run (``HAR_QUICK=0``, UCF50's settings, the real text and code paths), with only
what cannot run here changed. Every change is in ``overrides`` below, injected after each notebook's
``parameters`` cell (papermill's convention, see ``run_notebooks.py``), so the notebooks hold no
rehearsal-only code:

- ``DATASET`` is FOLDER and ``CLASSES`` all of its classes (the tutorial's four are not all in the sample);
  notebook 01 then finds the data in place instead of downloading UCF50;
- the training epochs are capped (``--epochs``), so the run fits a CPU; early stopping still applies; the
  exercises' solutions train for one epoch on at most 32 clips; notebook 08 joins 6 clips, not 12, since the model
  notebook 07 picks may run an ImageNet backbone on every frame;
- what needs the internet is replaced by what does not: the pretrained backbone (05) and MoveNet (06) take the
  offline weights folder the Makefile passes (``HAR_WEIGHTS``), and their heads, seconds an epoch, are not capped;
  notebook 08 is given no URL, so it falls back to its own last, offline source: a real clip of FOLDER.

Executed notebooks go to ``OUT/notebooks``, data and models to ``OUT`` (a work folder of its own, so a
rehearsal never mixes with ``make demo``'s files). Exit 1 at the first notebook that fails.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from check_prose import readme_results, unchecked_figures
from run_notebooks import ROOT, run_notebooks


def overrides(data: Path, epochs: int) -> dict[str, str]:
    """What the rehearsal changes in each notebook, as code run right after its parameters cell."""
    return {
        "*": (
            f"DATASET = {str(data)!r}  # the real folder, laid out like UCF50, instead of downloading UCF50\n"
            "CLASSES = None  # every class of that folder\n"
            "SOLUTION_EPOCHS, SOLUTION_CLIPS = 1, 32  # the exercises' solutions: a smoke run"
        ),
        "03_train_test_split": f"LEAK_EPOCHS = min(LEAK_EPOCHS, {epochs})  # capped, to fit a CPU",
        "04_convlstm": f"EPOCHS = min(EPOCHS, {epochs})  # capped, to fit a CPU",
        "05_lrcn": f"EPOCHS = min(EPOCHS, {epochs})  # capped, to fit a CPU",
        "06_approaches": f"EPOCHS = min(EPOCHS, {epochs})  # capped, to fit a CPU",
        "08_predict_on_youtube_videos": (
            "VIDEO_URL = None  # offline: the notebook falls back to its last source, a real clip of the folder\n"
            "SAMPLE_VIDEO_URL = None\n"
            "JOINED_CLIPS = min(JOINED_CLIPS, 6)  # fewer, to fit a CPU: 07's pick may read 224 x 224 frames"
        ),
    }


#: What a notebook must never print in full mode on real data (each found once by an earlier reading).
FULL_MODE_CHECKS = [
    (re.compile(r"motion-pair"), "real data has no motion pairs: no motion-pair figure or column"),
    (re.compile(r"demo dataset"), "the figures of a full run are not of the demo dataset"),
    (re.compile(r"is missing: run"), "a notebook did not find what an earlier one saved"),
    (re.compile(r"skipped (?!0 clips)"), "a model bundle was not of this dataset, or a clip could not be read"),
    (re.compile(r"oneDNN"), "TensorFlow's C++ log lines do not belong in a lesson"),
    (re.compile(r"\bnot run:"), "with the offline weights folder, the pretrained and pose models run on real clips"),
]


def printed(notebook: dict) -> str:
    """Everything an executed notebook (as JSON) shows: streams, and the text of rich outputs."""
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append("".join(output["text"]))
            data = output.get("data", {})
            parts.append("".join(data.get("text/markdown", "")))
    return "\n".join(parts)


def full_mode_problems(notebook: dict, name: str) -> list[str]:
    """What an executed notebook shows that is wrong for a full run on real clips, with why."""
    found = [f"{name}: error output {o.get('ename', '')}" for c in notebook["cells"] for o in c.get("outputs", [])
             if o.get("output_type") == "error"]  # fmt: skip
    lines = printed(notebook).splitlines()
    for pattern, why in FULL_MODE_CHECKS:
        line = next((line for line in lines if pattern.search(line)), None)
        if line is not None:
            found.append(f"{name}: prints {line.strip()!r}: {why}")
    for cell, figure in unchecked_figures(notebook, readme_results()):  # scripts/check_prose.py
        found.append(f"{name}: cell {cell} types {figure!r}, printed by no cell and not in the README's results")
    return found


def main() -> None:
    """Command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a folder of class folders of real clips (UCF50 layout)")
    parser.add_argument("--epochs", type=int, default=8, help="cap on the training epochs of 03 to 06 (default 8)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "rehearsal", help="work folder of the run")
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    args = parser.parse_args()
    data = args.data.expanduser().resolve()
    if not data.is_dir():
        print(f"error: {args.data}: no such folder (real clips laid out like UCF50)", file=sys.stderr)
        sys.exit(1)
    if args.epochs < 1:
        print("error: --epochs must be at least 1", file=sys.stderr)
        sys.exit(1)
    out = args.out / "notebooks"
    print(f"Full-mode rehearsal on {data}, epochs capped at {args.epochs}; executed notebooks in {out}/", flush=True)
    start = time.perf_counter()
    try:
        timings = run_notebooks(
            args.names, out_dir=out, workdir=args.out, quick=False, overrides=overrides(data, args.epochs)
        )
    except Exception as error:  # CellExecutionError carries the failing cell and its traceback
        print(f"error: a notebook failed in full mode; its executed copy is in {out}\n{error}", file=sys.stderr)
        sys.exit(1)
    problems = [
        p for name, _ in timings for p in full_mode_problems(json.loads((out / f"{name}.ipynb").read_text()), name)
    ]
    if problems:
        print("error: the full-mode run shows what is not true of it:\n" + "\n".join(problems), file=sys.stderr)
        sys.exit(1)
    minutes = (time.perf_counter() - start) / 60
    print(f"\nThe rehearsal ran {len(timings)} notebooks in full mode in {minutes:.1f} minutes.")
    for name, seconds in timings:
        print(f"  {name}.ipynb  ({seconds:.0f} s)")
    table = args.out / "models" / "comparison.md"
    if table.is_file():
        print(f"\nTest accuracy on held-out groups (group split, {data.name}, epochs capped at {args.epochs}):\n")
        print(table.read_text())
    print(f"rehearsal: {len(timings)} passed, 0 failed")  # one line a CI log reader can count


if __name__ == "__main__":
    main()
