"""Format the course notebooks the one way they are committed (``make format``; ``--check`` for ``make test``).

``python scripts/format_notebooks.py [--check] [NOTEBOOK ...]`` (default: every ``notebooks/NN_*.ipynb``).
The notebooks are the source of the course: edit them in Jupyter or Colab, save, and run this. It

- strips outputs, execution counts, and what editors add to the metadata (Colab's and Jupyter's cell
  metadata, widget state, kernel versions), keeping cell tags (the ``parameters`` tag) and cell ids, and hides
  the code of every solution cell (tagged ``solution``) again, in Jupyter and in Colab;
- trims blank lines at the start and end of every cell;
- sorts the imports and formats the code cells with ruff, with the settings of ``pyproject.toml``;
- writes the JSON the way nbformat does (one-space indent, sorted keys, a newline at the end).

Formatting a formatted notebook changes nothing. With ``--check`` nothing is written: the notebooks
that are not formatted are listed with what is wrong, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CONFIG = ROOT / "pyproject.toml"
FIX = "run `make format` (or `python scripts/format_notebooks.py NOTEBOOK`) and commit the result"

#: The notebook metadata every course notebook carries (Colab opens it on a GPU runtime).
METADATA = {
    "accelerator": "GPU",
    "colab": {"gpuType": "T4", "provenance": []},
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
KEPT_CELL_METADATA = ("tags",)
#: What a solution cell (tagged ``solution``) carries besides its tag: its code starts hidden, in JupyterLab and
#: Jupyter Notebook (``source_hidden``) and in Colab (a form cell shows its ``# @title`` line only).
SOLUTION_METADATA = {"jupyter": {"source_hidden": True}, "cellView": "form"}
_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


class FormatError(Exception):
    """A notebook that cannot be formatted (not a notebook, or a code cell that is not valid Python)."""


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs and editor metadata, trim cells, and give every cell a unique id (in place).

    Cells keep the ids they have (Jupyter keeps them from save to save); a cell without one is numbered
    by its position, so a notebook saved without ids comes back with the same ids every time.
    """
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = nbformat.from_dict(METADATA)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        cell.source = source.strip("\n").rstrip()
        cell.metadata = nbformat.from_dict({k: cell.metadata[k] for k in KEPT_CELL_METADATA if cell.metadata.get(k)})
        if "solution" in cell.metadata.get("tags", []):
            cell.metadata.update(nbformat.from_dict(SOLUTION_METADATA))
        for key in [k for k in cell if k not in ("cell_type", "id", "metadata", "source", "attachments")]:
            del cell[key]
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell_id = cell.get("id") if isinstance(cell.get("id"), str) and _CELL_ID.match(cell.id) else None
        while cell_id is None or cell_id in seen:  # no id (Colab saves none), or a copy's: number the cell
            cell_id, index = f"cell-{index:02d}", index + 1
        cell.id = cell_id
        seen.add(cell_id)
    return nb


def _ruff(args: list[str], text: str, path: Path) -> str:
    """Run ruff on a notebook's JSON through stdin, as if it were ``path``; return what it prints."""
    command = [sys.executable, "-m", "ruff", *args, "--config", str(CONFIG), "--stdin-filename", str(path), "-"]
    done = subprocess.run(command, input=text, capture_output=True, text=True)
    if done.returncode != 0:
        raise FormatError(f"{path}: ruff cannot format it:\n{done.stderr.strip()}")
    return done.stdout


def format_text(text: str, path: Path) -> str:
    """The formatted JSON of the notebook ``text`` (read from ``path``, named in errors)."""
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises JSON, validation and version errors of several kinds
        raise FormatError(f"{path}: not a notebook nbformat can read ({error})") from None
    text = nbformat.writes(normalise(nb)) + "\n"
    text = _ruff(["check", "--quiet", "--fix", "--exit-zero", "--select", "I"], text, path)  # sort imports
    text = _ruff(["format", "--quiet"], text, path)
    return nbformat.writes(normalise(nbformat.reads(text, as_version=4))) + "\n"


def problems(text: str, formatted: str) -> list[str]:
    """What differs between a notebook and its formatted version, in words."""
    nb = nbformat.reads(text, as_version=4)
    found = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    if any(c.get("outputs") for c in code):
        found.append("it carries outputs")
    if any(c.get("execution_count") is not None for c in code):
        found.append("it carries execution counts")
    wanted = nbformat.reads(formatted, as_version=4)
    if [c.source for c in nb.cells] != [c.source for c in wanted.cells]:
        found.append("some cells are not formatted (ruff format, sorted imports, no blank lines at the ends)")
    if not found:
        found.append("its metadata or JSON layout differs from the committed form")
    return found


def notebook_paths(names: list[str]) -> list[Path]:
    """The notebooks named, or every course notebook."""
    return [Path(name) for name in names] if names else sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    """Command line: format the notebooks, or with ``--check`` say which are not formatted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to format (default: notebooks/NN_*.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is not formatted")
    args = parser.parse_args(argv)
    failed = []
    for path in notebook_paths(args.notebooks):
        try:
            text = path.read_text(encoding="utf-8")
            formatted = format_text(text, path)
        except (OSError, FormatError) as error:
            print(f"error: {error}", file=sys.stderr)
            failed.append(path)
            continue
        if formatted == text:
            continue
        if args.check:
            print(f"{path}: not formatted: {'; '.join(problems(text, formatted))}", file=sys.stderr)
            failed.append(path)
        else:
            path.write_text(formatted, encoding="utf-8")
            print(f"formatted {path}")
    if failed and args.check:
        print(f"{len(failed)} notebook(s) not formatted: {FIX}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
