"""Quick mode's ConvLSTM and LRCN on three group splits: what notebooks 04 and 05 print, for split seeds 27, 28, 29.

Run: ``.venv/bin/python benchmarks/bench_quick.py [--seeds 27 28 29]`` (about 5 minutes a seed on a 2-core CPU).

Quick mode is what ``make demo`` and ``make test`` run: the generated demo, 8 frames a clip, at most 40 epochs with
the learning rate halved on plateaus. This runs the notebooks themselves, as ``make demo`` does (02 once, then 04 and
05 for every seed, the seed injected after their parameters cell as ``SEED``, which picks the split and the starting
weights), and reads the test accuracies they print: no copy of the notebooks' recipe to drift from them. The
pretrained model is left out (its weights and the exercises' solutions are not what is measured).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from run_notebooks import run_notebooks  # noqa: E402

#: What the notebooks print, and the model each line is about.
PRINTED = {
    "convlstm": ("04_convlstm", r"ConvLSTM on (\d+) test clips .*: accuracy (\d+\.\d)%"),
    "lrcn": ("05_lrcn", r"LRCN on (\d+) test clips .*: accuracy (\d+\.\d)%"),
    "baseline": ("05_lrcn", r"test accuracy: late fusion (\d+\.\d)%"),
}
SKIPPED = "BACKBONE_WEIGHTS = None  # the benchmark measures the ConvLSTM and the LRCN\nSOLUTION_EPOCHS = 1"


def printed(notebook: Path) -> str:
    """Everything an executed notebook printed."""
    cells = json.loads(notebook.read_text())["cells"]
    return "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])


def main() -> None:
    """Command line of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[27, 28, 29], help="split (and training) seeds")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_quick")
    args = parser.parse_args()
    run_notebooks(["02_frame_extraction_and_dataset"], out_dir=args.out / "notebooks", workdir=args.out, quick=True)
    print("| split seed | test clips | convlstm | lrcn | late fusion (baseline) | minutes |")
    print("|---|---|---|---|---|---|")
    for seed in args.seeds:
        start = time.perf_counter()
        executed = args.out / f"seed{seed}"
        run_notebooks(["04_convlstm", "05_lrcn"], out_dir=executed, workdir=args.out, quick=True,
                      overrides={"*": f"SEED = {seed}\n{SKIPPED}"})  # fmt: skip
        figures = {}
        for model, (name, pattern) in PRINTED.items():
            found = re.search(pattern, printed(executed / f"{name}.ipynb"))
            figures[model] = found.groups() if found else ("?", "?")
        clips = figures["convlstm"][0]
        cells = " | ".join(f"{figures[m][-1]}%" for m in PRINTED)
        print(f"| {seed} | {clips} | {cells} | {(time.perf_counter() - start) / 60:.1f} |", flush=True)


if __name__ == "__main__":
    main()
