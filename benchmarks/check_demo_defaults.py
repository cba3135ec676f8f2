"""The command line's defaults, checked on the demo: train on the default demo, test on a demo made with another seed.

Run: ``.venv/bin/python benchmarks/check_demo_defaults.py [--models lrcn convlstm] [--goal 0.95]``.

Exactly what a user types, nothing tuned: ``python -m har demo-data`` (the default demo: 4 classes, 32 groups,
seed 0) and ``build-dataset``, then ``python -m har train CACHE --model M`` with every default, then
``python -m har evaluate`` on all 128 clips of ``demo-data --seed 1``, whose looks (backgrounds, colours,
actor shapes) the model has never seen. Prints each model's accuracy there and exits with 1 when one is below
``--goal``. 2 to 4 minutes per model on the 2-core CPU.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def har(*args: str) -> str:
    """Run ``python -m har ARGS`` as a user would; its standard output (exits on failure, with its last line)."""
    done = subprocess.run([sys.executable, "-m", "har", *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"python -m har {' '.join(args)} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return done.stdout


def main() -> None:
    """Command line of the check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lrcn", "convlstm"])
    parser.add_argument("--goal", type=float, default=0.95, help="the least accuracy on the other seed (0.95)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "check_demo_defaults")
    args = parser.parse_args()
    caches = {}
    for seed in (0, 1):
        folder, cache = args.out / f"demo_seed{seed}", args.out / f"demo_seed{seed}.npz"
        har("demo-data", str(folder), "--seed", str(seed))
        har("build-dataset", str(folder), "--out", str(cache))
        caches[seed] = cache
    failed = False
    for model in args.models:
        bundle = args.out / f"{model}.keras"
        start = time.perf_counter()
        trained = har("train", str(caches[0]), "--model", model, "--out", str(bundle))
        own = re.search(r"test accuracy ([\d.]+)%", trained).group(1)
        tested = har("evaluate", str(bundle), str(caches[1]))
        accuracy = float(re.search(r"^accuracy ([\d.]+)%", tested, re.MULTILINE).group(1)) / 100
        failed |= accuracy < args.goal
        verdict = "met" if accuracy >= args.goal else "MISSED"
        print(
            f"{model}: {accuracy:.1%} on the 128 clips of the seed-1 demo ({own}% on its own group split's test "
            f"clips), {time.perf_counter() - start:.0f} s; goal {args.goal:.0%}: {verdict}",
            flush=True,
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
