"""``make demo``: the whole series, headless, in quick mode on the demo dataset, into ``build/``.

Prints where the executed notebooks, the annotated video and the models are, and the accuracy table.
"""

from __future__ import annotations

import sys
import time

from run_notebooks import ROOT, run_notebooks

BUILD = ROOT / "build"


def main() -> None:
    """Run every notebook in quick mode and report what came out."""
    start = time.perf_counter()
    out = BUILD / "notebooks"
    try:
        timings = run_notebooks(out_dir=out, workdir=BUILD, quick=True)
    except Exception as error:
        print(f"error: a notebook failed; its executed copy is in {out}\n{error}", file=sys.stderr)
        sys.exit(1)
    minutes = (time.perf_counter() - start) / 60
    print(f"\nThe course ran in {minutes:.1f} minutes (quick mode, demo dataset).")
    print(f"Executed notebooks: {out}/")
    for name, seconds in timings:
        print(f"  {name}.ipynb  ({seconds:.0f} s)")
    for video in sorted((BUILD / "data" / "videos").glob("*.*.mp4")):  # <video>.<model>.mp4, not the source
        print(f"Annotated video:    {video}")
    print(f"Model bundles:      {BUILD / 'models'}/")
    table = BUILD / "models" / "comparison.md"
    if table.is_file():
        print("\nTest accuracy on held-out groups (group split, demo dataset):\n")
        print(table.read_text())


if __name__ == "__main__":
    main()
