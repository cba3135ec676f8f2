"""Figures typed into a notebook's prose that its own cells did not print and the README's results do not hold.

``python scripts/check_prose.py EXECUTED.ipynb ...`` (the notebooks a run executed: ``make test``'s quick series,
``make rehearse``'s full mode). A figure in a Markdown cell is a percentage (``97.7 %``), a ratio (``0.99×``), a time
(``91 s``, ``2.7 minutes``), a speed (``95 frames/s``), points (``11 points``), a count (``27 of 138``) or a share in
words (``two clips in three``). Each must be printed by one of that notebook's cells in this run, or be in the
README's ``## Results`` (the one place for what was measured elsewhere, with its date and command): otherwise the
prose claims a figure the reader cannot check, or one that has gone stale. Left out: the ``**Time:**`` line (the
template's measured budget, dated, with its command) and code spans (a parameter's value, not a result).
Prints one line per figure found, exits 1 if there is one.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = r"(?<![\w.])(\d+(?:,\d{3})*(?:\.\d+)?)"
FIGURE = re.compile(
    NUMBER + r"(?:\s?(?:%|×(?!\s?\d)|x\b)| (?:s|ms|minutes?|seconds?|hours?|points?)\b|\s?(?:frames|clips|windows)/s)"
)
COUNT = re.compile(NUMBER + r" of (\d+(?:,\d{3})*)\b")
WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
IN_WORDS = re.compile(rf"\b(?:{'|'.join(WORDS)}) (?:\w+ ){{0,2}}in (?:{'|'.join(WORDS[1:])})\b")


def _number(text: str) -> str:
    return text.replace(",", "")


def figures(text: str) -> list[str]:
    """The figures in ``text``, as written."""
    found = [m.group(0) for m in FIGURE.finditer(text)] + [m.group(0) for m in COUNT.finditer(text)]
    return found + [m.group(0) for m in IN_WORDS.finditer(text)]


def _numbers(text: str) -> set[str]:
    return {_number(n) for n in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", text)}


def readme_results(readme: Path = ROOT / "README.md") -> str:
    """The README's ``## Results`` section: what the course measured outside the notebooks."""
    text = readme.read_text()
    start = text.index("\n## Results")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def printed(notebook: dict) -> str:
    """Everything an executed notebook's cells printed or displayed as text."""
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            data = output.get("data", {})
            parts += ["".join(data.get(kind, "")) for kind in ("text/markdown", "text/plain")]
    return "\n".join(parts)


def prose(cell: dict) -> str:
    """A Markdown cell's text, less its ``**Time:**`` line and its code spans."""
    lines = [line for line in "".join(cell["source"]).splitlines() if not line.startswith("**Time:**")]
    return re.sub(r"`[^`]*`", "", "\n".join(lines))


def unchecked_figures(notebook: dict, results: str) -> list[tuple[int, str]]:
    """(cell index, figure) of each figure in the notebook's prose neither it printed nor ``results`` hold."""
    shown, measured = printed(notebook), readme_results_numbers(results)
    shown_numbers = _numbers(shown)
    found = []
    for i, cell in enumerate(notebook["cells"]):
        if cell.get("cell_type") != "markdown":
            continue
        for figure in figures(prose(cell)):
            if figure in shown or figure in results:
                continue
            numbers = _numbers(figure)
            if numbers and numbers <= (shown_numbers | measured):
                continue
            found.append((i, figure))
    return found


def readme_results_numbers(results: str) -> set[str]:
    """The numbers of the README results' figures, and every number of their tables (a row's ``98, 95, 100``)."""
    tables = "\n".join(line for line in results.splitlines() if line.startswith("|"))
    return {n for figure in figures(results) for n in _numbers(figure)} | _numbers(tables)


def main(paths: list[str]) -> int:
    """Command line of this script."""
    results = readme_results()
    found = 0
    for path in paths:
        for i, figure in unchecked_figures(json.loads(Path(path).read_text()), results):
            print(f"{Path(path).name}, cell {i}: {figure!r} is neither printed by a cell nor in the README's results")
            found += 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
