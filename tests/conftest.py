"""Shared fixtures: a small demo dataset made once per test session."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from har.demo import make_demo_dataset

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # the notebook source and runner (scripts/notebooks.py, run_notebooks.py)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """A small demo dataset: 4 classes x 4 groups x 2 clips of 24-36 frames at 96x72."""
    root = tmp_path_factory.mktemp("demo") / "Demo"
    return make_demo_dataset(
        root, n_classes=4, groups=4, clips_per_group=2, frames=(24, 36), size=(96, 72), progress=False
    )


#: Classes and sequence length of the untrained bundles that prediction tests use.
PLUMBING_CLASSES = ["Grow", "Shrink", "Flatten", "Stretch"]
PLUMBING_T = 8


@pytest.fixture(scope="session")
def untrained_bundles(tmp_path_factory) -> dict[str, Path]:
    """Untrained bundles of every model but the pretrained one (prediction plumbing does not care about weights)."""
    from har.bundle import bundle_metadata, save_bundle
    from har.models import build_model

    folder = tmp_path_factory.mktemp("bundles")
    meta = bundle_metadata(PLUMBING_CLASSES, PLUMBING_T, (64, 64))
    names = ("lrcn", "baseline", "convlstm", "single_frame", "early_fusion", "slow_fusion", "two_stream")
    return {
        name: save_bundle(build_model(name, 4, PLUMBING_T, (64, 64)), folder / f"{name}.keras", meta) for name in names
    }


#: The clips of ``joined_video``: (class, group, frames); a new shot starts at frames 30 and 42.
JOINED_CLIPS = (("Grow", 1, 30), ("Flatten", 2, 12), ("Shrink", 3, 40))
JOINED_CUTS = [30, 42]


@pytest.fixture(scope="session")
def joined_video(tmp_path_factory) -> Path:
    """Three 96x72 demo clips of three groups' looks one after another (``JOINED_CLIPS``), a 25 fps file."""
    from har.demo import _group_look, render_clip, write_video

    frames = []
    for name, group, n in JOINED_CLIPS:
        frames += render_clip(name, _group_look(0, group, 96, 72, 2), np.random.default_rng(group), n, 96, 72)
    return write_video(tmp_path_factory.mktemp("joined") / "joined.avi", frames, 25)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m har ARGS`` in a fresh interpreter and capture its output.

    oneDNN is forced on (``TF_ENABLE_ONEDNN_OPTS=1``): on CPUs with AVX-512 TensorFlow turns it on by
    itself and prints start-up lines, so every CLI test checks the one-line rule as those machines see it.
    """
    environment = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "har", *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=600,
        env=environment,
    )  # fmt: skip


PROGRESS_BAR = re.compile(r"^[^:]*:\s+\d+%\|")


def error_lines(stderr: str) -> list[str]:
    """The lines of stderr that are not progress bars (tqdm redraws its bar with carriage returns)."""
    return [line for line in re.split(r"[\r\n]+", stderr) if line.strip() and not PROGRESS_BAR.match(line)]
