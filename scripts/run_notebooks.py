"""Run the course notebooks headless, in order, each in a fresh kernel (``make demo``, the rehearsal, the tests).

``python scripts/run_notebooks.py [--out build/notebooks] [--workdir build] [--full] [NAME ...]``
Quick mode (the demo dataset, few epochs) unless ``--full``. Stops at the first notebook that fails.

``overrides`` follows papermill's convention: code injected as a new cell, tagged ``injected-parameters``,
right after the cell tagged ``parameters``, so a run can change a notebook's knobs without the notebook
holding any code for it (``scripts/rehearse.py`` uses it for the full-mode rehearsal).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def run_notebooks(
    names: list[str] | None = None,
    *,
    out_dir: Path | None = None,
    workdir: Path | None = None,
    quick: bool = True,
    timeout: int = 1800,
    overrides: dict[str, str] | None = None,
) -> list[tuple[str, float]]:
    """Execute notebooks (all, in file order, by default); return (name, seconds) per notebook.

    ``workdir`` becomes ``HAR_WORKDIR`` (where data/ and models/ go); executed copies go to ``out_dir``.
    ``overrides`` maps a notebook's name (or ``"*"``, for every notebook, run first) to code injected after
    its parameters cell. Raises ``nbclient.exceptions.CellExecutionError`` for the first failing cell.
    """
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if names:
        paths = [p for p in paths if p.stem in names or p.name in names]
    settings = {
        "HAR_QUICK": "1" if quick else "0",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",  # figures inline, whatever the caller uses
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    if workdir is not None:
        settings["HAR_WORKDIR"] = str(Path(workdir).resolve())
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)  # kernels inherit this process's environment
    try:
        return _run(paths, out_dir, timeout, overrides or {})
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def inject_parameters(notebook: nbformat.NotebookNode, code: str) -> None:
    """Insert ``code`` as a cell tagged ``injected-parameters`` right after the ``parameters`` cell (in place)."""
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"expected one cell tagged `parameters`, found {len(tagged)}")
    cell = nbformat.v4.new_code_cell(code, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(tagged[0] + 1, cell)


def _run(paths: list[Path], out_dir: Path | None, timeout: int, overrides: dict[str, str]) -> list[tuple[str, float]]:
    timings = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        code = "\n".join(overrides[key] for key in ("*", path.stem) if overrides.get(key))
        if code:
            inject_parameters(notebook, "# Injected by the runner (papermill's convention)\n" + code)
        start = time.perf_counter()
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # not its "running over TCP" warning
        )
        try:
            client.execute()
        finally:
            if out_dir is not None:
                Path(out_dir).mkdir(parents=True, exist_ok=True)
                nbformat.write(notebook, Path(out_dir) / path.name)
        timings.append((path.stem, time.perf_counter() - start))
        print(f"ran {path.name} in {timings[-1][1]:.0f} s", flush=True)
    return timings


def main() -> None:
    """Command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "notebooks", help="where executed copies go")
    parser.add_argument("--workdir", type=Path, default=ROOT / "build", help="HAR_WORKDIR for data/ and models/")
    parser.add_argument("--full", action="store_true", help="full mode (UCF50, full epochs) instead of quick mode")
    args = parser.parse_args()
    try:
        run_notebooks(args.names, out_dir=args.out, workdir=args.workdir, quick=not args.full)
    except Exception as error:  # CellExecutionError carries the failing cell and its traceback
        print(f"error: a notebook failed; its executed copy is in {args.out}\n{error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
