"""``make student``: the notebooks for a class, with the exercises' solutions taken out.

``python scripts/student.py [--out build/student]`` writes every ``notebooks/NN_*.ipynb`` to OUT with each solution
(a code cell tagged ``solution``) replaced by an empty code cell for the student's own answer, outputs stripped.
The exercises' questions, the lessons and every other cell stay as they are; the course's own notebooks are not
touched. Hand OUT to the class, and the course's notebooks (with their solutions) later.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ANSWER = "# Your answer here: the exercise above says what to try.\n"


def student_copy(notebook: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """``notebook`` with its solutions replaced by empty answer cells, and how many it had."""
    removed = 0
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            answer = nbformat.v4.new_code_cell(ANSWER, metadata={"tags": ["answer"]})
            answer.id = cell.get("id", answer.id)
            notebook.cells[i] = answer
            removed += 1
        elif cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook, removed


def main() -> int:
    """Command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "student", help="where the notebooks go")
    args = parser.parse_args()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.out.resolve() == (ROOT / "notebooks").resolve():
        print("error: --out must not be notebooks/: that would overwrite the course's own notebooks", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for path in notebooks:
        notebook, removed = student_copy(nbformat.read(path, as_version=4))
        target = args.out / path.name
        partial = target.with_name(f".{target.name}.partial")
        nbformat.write(notebook, partial)
        partial.replace(target)  # never a half-written notebook under its final name
        total += removed
    print(f"{len(notebooks)} notebooks for a class in {args.out}/, {total} solutions taken out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
