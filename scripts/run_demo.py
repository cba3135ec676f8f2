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
        print("\nTest accuracy on held-out groups (group split, demo dataset), as notebook 07 measured it:\n")
        print(table.read_text().strip())
        print(READING)


#: What the closing table means, for someone who has not opened a notebook yet.
READING = """
How to read it. Each row is a model the series trained, under the name `python -m har train --model` knows it by.
The test clips come from groups of the demo that no model trained or validated on: other looks, the same actions.
Chance is one answer in as many as there are classes (the line under the table), what a model that learnt nothing
scores. Accuracy is the share of test clips whose most likely class is right; top-2 counts a clip right when its
class is among the model's two likeliest. Motion-pair accuracy looks only at the clips a model put in the right pair
(Grow or Shrink, Flatten or Stretch: the same frames, in opposite order) and gives the share also right within it:
50 % is what a model blind to the order of frames gets, which is why late fusion, which pools its frames' features over
time, stops near 50 % overall by design. The demo is a stand-in for tests; the course's figures on real video are in the
README's Results.

Start with build/notebooks/01_download_and_explore_ucf50.ipynb (executed, with its outputs), or open notebooks/ in
Jupyter (`.venv/bin/jupyter lab notebooks/`, with HAR_QUICK=1 for quick mode) and run 01 to 08 in order."""


if __name__ == "__main__":
    main()
