"""Run the course notebooks headless, in order, each in a fresh kernel (``make demo``, the rehearsal, the tests).

``python scripts/run_notebooks.py [--out build/notebooks] [--workdir build] [--full] [NAME ...]``
Quick mode (the demo dataset, few epochs) unless ``--full``. Stops at the first notebook that fails.

``overrides`` follows papermill's convention: code injected as a new cell, tagged ``injected-parameters``,
right after the cell tagged ``parameters``, so a run can change a notebook's knobs without the notebook
holding any code for it (``scripts/rehearse.py`` uses it for the full-mode rehearsal).

Notebooks 04 and 05 need only 02's cache and nothing of each other: on two cores or more they run side by side
(``SIDE_BY_SIDE``), each in its own kernel with one TensorFlow thread (``ONE_THREAD``). Their small models keep about
one core busy anyway, and two kernels of two threads each on two cores slowed the ConvLSTM by half.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
#: Notebooks that may run at the same time: each needs only earlier notebooks' files, none the other's.
SIDE_BY_SIDE = ("04_convlstm", "05_lrcn")
#: What each kernel of a side-by-side step is given: one thread for TensorFlow's operations (and OpenMP's, oneDNN's).
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}


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
        _restore(saved)


def inject_parameters(notebook: nbformat.NotebookNode, code: str) -> None:
    """Insert ``code`` as a cell tagged ``injected-parameters`` right after the ``parameters`` cell (in place)."""
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"expected one cell tagged `parameters`, found {len(tagged)}")
    cell = nbformat.v4.new_code_cell(code, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(tagged[0] + 1, cell)


def _run(paths: list[Path], out_dir: Path | None, timeout: int, overrides: dict[str, str]) -> list[tuple[str, float]]:
    steps: list[list[Path]] = []
    for path in paths:  # consecutive notebooks of SIDE_BY_SIDE share a step, on cores of their own
        together = steps and path.stem in SIDE_BY_SIDE and all(p.stem in SIDE_BY_SIDE for p in steps[-1])
        if together and (os.cpu_count() or 1) > 1:
            steps[-1].append(path)
        else:
            steps.append([path])
    timings = []
    for step in steps:
        threads = ONE_THREAD if len(step) > 1 else {}
        saved = {name: os.environ.get(name) for name in threads}
        os.environ.update(threads)  # the kernels inherit it
        try:
            with ThreadPoolExecutor(len(step)) as pool:  # each kernel is a process of its own: the threads only wait
                runs = [pool.submit(_run_one, path, out_dir, timeout, overrides) for path in step]
                timings += [run.result() for run in runs]  # the first failure is raised, once all of the step ended
        finally:
            _restore(saved)
    return timings


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _run_one(path: Path, out_dir: Path | None, timeout: int, overrides: dict[str, str]) -> tuple[str, float]:
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
    seconds = time.perf_counter() - start
    print(f"ran {path.name} in {seconds:.0f} s", flush=True)
    return path.stem, seconds


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
