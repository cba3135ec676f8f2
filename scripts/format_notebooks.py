"""Format the course notebooks the one way they are committed (``make format``; ``--check`` for ``make test``).

``python scripts/format_notebooks.py [--check] [NOTEBOOK ...]`` (default: every ``notebooks/NN_*.ipynb``).
The notebooks are the source of the course: edit them in Jupyter or Colab, save, and run this. It

- strips outputs, execution counts, and what editors add to the metadata (Colab's and Jupyter's cell
  metadata, widget state, kernel versions), keeping cell tags (the ``parameters`` tag) and cell ids, and hides
  the code of every solution cell (tagged ``solution``) again, in Jupyter and in Colab;
- trims blank lines at the start and end of every cell;
- sorts the imports and formats the code cells with ruff, with the settings of ``pyproject.toml``;
- writes the JSON the way nbformat does (one-space indent, sorted keys, a newline at the end);
- copies every function a notebook marks ``# @save har.MODULE`` (the line right above it) to the end of that module
  of the course package, below the line ``SAVED``, in notebook order: the lesson's code is the package's, written
  once, in the notebook (d2l's ``#@save``). The command line trains the very models and recipe the notebooks teach.

Formatting a formatted notebook changes nothing. With ``--check`` nothing is written: the notebooks
that are not formatted, and the modules whose saved functions differ from the notebooks', are listed with what is
wrong, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from collections import defaultdict
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


#: The line that marks the function (or class) right under it as the course package's: ``# @save har.models``.
SAVE_MARK = re.compile(r"^# @save (har\.\w+)$")
#: Where each module's saved functions start: everything above it is written by hand, everything below by this script.
SAVED = "# --- Written in the notebooks (`make format` copies each `# @save` function here: edit it there) ---"


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


def saved_functions(paths: list[Path]) -> dict[str, list[str]]:
    """Module -> the source of every function (or class) the notebooks mark ``# @save MODULE``, in notebook order,
    each after a comment naming its notebook. Solutions are exercises, not the lesson: their marks do not count."""
    saved: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or "solution" in cell.metadata.get("tags", []):
                continue
            lines = cell.source.splitlines()
            try:
                tree = ast.parse(cell.source)
            except SyntaxError as error:
                raise FormatError(f"{path}: a code cell is not valid Python ({error})") from None
            for node in tree.body:
                first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                mark = SAVE_MARK.match(lines[first - 2].strip()) if first >= 2 else None
                if mark:
                    source = "\n".join(lines[first - 1 : node.end_lineno])
                    saved[mark.group(1)].append(f"# notebooks/{path.name}\n{source}")
    return saved


def module_path(module: str) -> Path:
    """The file of a module of the course package (``har.models`` -> ``har/models.py``)."""
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def with_saved(text: str, functions: list[str]) -> str:
    """A module's text with its saved part (below ``SAVED``) replaced by ``functions``, or removed when none."""
    head = text.split("\n" + SAVED + "\n", 1)[0].rstrip("\n") + "\n"
    return head if not functions else head + "\n\n" + SAVED + "\n\n\n" + "\n\n\n".join(functions) + "\n"


def sync_saved(paths: list[Path], *, check: bool) -> list[str]:
    """Write (or with ``check``, compare) the saved part of every module the notebooks save into, and of every
    module that has one; return what is out of step, in words."""
    saved = saved_functions(paths)
    having = {f"har.{path.stem}" for path in (ROOT / "har").glob("*.py") if SAVED in path.read_text()}
    modules = set(saved) | having
    stale = []
    for module in sorted(modules):
        path = module_path(module)
        if not path.is_file():
            raise FormatError(f"`# @save {module}`: there is no {path.relative_to(ROOT)} to save into")
        text = path.read_text(encoding="utf-8")
        wanted = with_saved(text, saved.get(module, []))
        if wanted == text:
            continue
        if check:
            stale.append(f"{path.relative_to(ROOT)}: not the notebooks' `# @save {module}` functions")
        else:
            path.write_text(wanted, encoding="utf-8")
            print(f"wrote the notebooks' saved functions into {path.relative_to(ROOT)}")
    return stale


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
    if not args.notebooks and not failed:  # the whole course: the package's saved functions come from it
        try:
            stale = sync_saved(notebook_paths([]), check=args.check)
        except FormatError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        for line in stale:
            print(line, file=sys.stderr)
        if stale:
            print(f"the package is not in step with the notebooks: {FIX}", file=sys.stderr)
            return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
