"""Where to say "unsure": the confidence below which a prediction is flagged, measured on held-out clips.

Run: ``.venv/bin/python benchmarks/bench_unsure.py RESULTS.json [RESULTS.json ...]``, each file written by
``benchmarks/bench_real.py`` (which keeps every test clip's class probabilities), e.g. one on the real
sample and one on the demo::

    .venv/bin/python benchmarks/bench_real.py --splits 1 --models lrcn --out build/conf/real
    .venv/bin/python -m har demo-data build/conf/demo_data
    .venv/bin/python benchmarks/bench_real.py --data build/conf/demo_data --splits 1 --models lrcn \\
        --out build/conf/demo
    .venv/bin/python benchmarks/bench_unsure.py build/conf/real/results.json build/conf/demo/results.json

For every run it prints the highest threshold that at least 90 % of the correct predictions pass (their top
probability is at or above it), and, at ``har.predict.UNSURE_BELOW``, the share of correct predictions kept
and of wrong ones flagged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from har.predict import UNSURE_BELOW


def threshold_keeping(confidences: np.ndarray, share: float = 0.9) -> float:
    """The highest threshold that at least ``share`` of these confidences reach (a lower quantile)."""
    ordered = np.sort(confidences)
    return float(ordered[int(np.floor((1 - share) * len(ordered)))])


def main() -> None:
    """Command line of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+")
    args = parser.parse_args()
    print(
        "| data | model | split seed | test clips | accuracy | highest threshold 90 % of correct pass "
        f"| at {UNSURE_BELOW:.2f}: correct kept, wrong flagged |"
    )
    print("|---" * 7 + "|")
    for path in args.results:
        for run in json.loads(path.read_text()):
            if "test_probabilities" not in run:
                continue
            probabilities = np.array(run["test_probabilities"])
            right = probabilities.argmax(axis=1) == np.array(run["test_labels"])
            top = probabilities.max(axis=1)
            kept = (top[right] >= UNSURE_BELOW).mean()
            flagged = (top[~right] < UNSURE_BELOW).mean() if (~right).any() else float("nan")
            print(
                f"| {path.parent.name} | {run['model']} | {run['seed']} | {len(top)} | {right.mean():.0%} | "
                f"{threshold_keeping(top[right]):.2f} | {kept:.0%}, {flagged:.0%} |"
            )


if __name__ == "__main__":
    main()
