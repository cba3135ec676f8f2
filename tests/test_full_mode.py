"""Full mode (UCF50, real clips): what the rehearsal found, each checked without a real dataset.

The rehearsal itself (``make rehearse``, run by ``.ci/run`` on ``../shared/ucf101_sample``) runs every
notebook in full mode; these tests pin the pieces it relies on and the defects it showed.
"""

import json

import nbformat
import numpy as np
import pytest
import rehearse
from conftest import ROOT
from run_notebooks import inject_parameters

from har.bundle import bundle_metadata, bundle_mismatch, trained_on
from har.dataset import Dataset
from har.demo import DEMO_CLASSES, MOTION_PAIRS, motion_pairs_in
from har.evaluate import Evaluation, comparison_table
from har.splits import Split, group_overlap

UCF = ["HorseRace", "PlayingPiano", "Surfing", "Archery"]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def tiny_dataset(classes, fingerprint="abc"):
    n = 2 * len(classes)
    return Dataset(
        frames=np.zeros((n, 20, 64, 64, 3), np.uint8),
        labels=np.arange(n) % len(classes),
        groups=np.arange(n) // len(classes) + 1,
        classes=list(classes),
        paths=[f"c{i}.avi" for i in range(n)],
        settings={"fingerprint": fingerprint},
    )


def test_motion_pairs_exist_only_where_both_classes_do():
    assert motion_pairs_in(DEMO_CLASSES[:4]) == list(MOTION_PAIRS[:2])
    assert motion_pairs_in(UCF) == []
    assert motion_pairs_in(["Grow", "HorseRace"]) == []  # half a pair is no pair


def test_real_data_gets_no_motion_pair_column():
    """On UCF50 the comparison has no motion-pair column (it showed a column of dashes)."""
    result = Evaluation(UCF, np.array([0, 1, 2, 3]), np.eye(4))
    table = comparison_table({"lrcn": result}, motion_pairs_in(UCF))
    assert "motion-pair" not in table and "| lrcn | 100.0% |" in table
    assert "motion-pair" in comparison_table({"lrcn": result}, MOTION_PAIRS[:1])


def test_a_leftover_bundle_of_other_classes_is_refused():
    """A quick-mode bundle (4 demo classes, same input shape) beside a full-mode dataset of 4 other classes."""
    demo_bundle = bundle_metadata(list(DEMO_CLASSES[:4]), 20, (64, 64), data_fingerprint="demo")
    real = tiny_dataset(UCF, fingerprint="real")
    problem = bundle_mismatch(demo_bundle, real)
    assert problem is not None and "Grow" in problem and "HorseRace" in problem
    assert not trained_on(demo_bundle, real)
    assert "10 frames" in bundle_mismatch(bundle_metadata(UCF, 10, (64, 64)), real)
    same = bundle_metadata(UCF, 20, (64, 64), data_fingerprint="real")
    assert bundle_mismatch(same, real) is None and trained_on(same, real)
    assert not trained_on(same, tiny_dataset(UCF, fingerprint="other clips"))
    assert not trained_on(bundle_metadata(UCF, 20, (64, 64)), tiny_dataset(UCF, fingerprint=None))


def test_ucf_groups_count_per_class():
    """Group 1 of HorseRace and group 1 of Surfing are different footage: not a leak."""
    labels, groups = np.array([0, 1, 0, 1]), np.array([1, 1, 2, 2])
    split = Split(np.array([0, 3]), np.array([1, 2]), "random", 0)  # HorseRace g1, Surfing g2 | Surfing g1, ...
    assert group_overlap(groups, split)["shared_groups"] == 2
    assert group_overlap(groups, split, labels)["shared_groups"] == 0


def test_notebook_03_counts_groups_per_class_on_real_data():
    cells = [c for c in nbformat.read(NOTEBOOKS[2], as_version=4).cells if "group_overlap(" in c.source]
    assert cells and all("labels" in c.source for c in cells), "03 must pass the labels to group_overlap on UCF50"


def test_the_rehearsal_injects_after_the_parameters_cell(tmp_path):
    data = tmp_path / "real"
    for name in ("B", "A"):
        (data / name).mkdir(parents=True)
        (data / name / f"v_{name}_g01_c01.avi").write_bytes(b"x" * 10)
    (data / "A" / "v_A_g02_c01.avi").write_bytes(b"x" * 20)
    (data / "A" / "notes.txt").write_bytes(b"x" * 99)
    changes = rehearse.overrides(data, epochs=3)
    from har.workspace import offline_video

    assert offline_video(str(data), None, tmp_path).name == "v_A_g02_c01.avi"  # a clip, not the stray file
    assert "VIDEO_URL = None" in changes["08_predict_on_youtube_videos"]
    assert "JOINED_CLIPS = min(JOINED_CLIPS, 6)" in changes["08_predict_on_youtube_videos"]
    assert f"DATASET = {str(data)!r}" in changes["*"] and "CLASSES = None" in changes["*"]
    assert "EPOCHS = min(EPOCHS, 3)" in changes["05_lrcn"] and "HEAD_EPOCHS" not in changes["05_lrcn"]  # heads: seconds
    assert all("EPOCHS = min(EPOCHS, 3)" in changes[name] for name in ("04_convlstm", "06_approaches"))
    assert set(changes) - {"*"} <= {p.stem for p in NOTEBOOKS}  # every override names a notebook that exists
    notebook = nbformat.read(NOTEBOOKS[4], as_version=4)
    inject_parameters(notebook, changes["05_lrcn"])
    tags = [c.metadata.get("tags", []) for c in notebook.cells]
    at = tags.index(["parameters"])
    assert tags[at + 1] == ["injected-parameters"] and "EPOCHS = min" in notebook.cells[at + 1].source
    namespace: dict = {"EPOCHS": 70, "HEAD_EPOCHS": 50}
    exec(changes["05_lrcn"], namespace)
    assert (namespace["EPOCHS"], namespace["HEAD_EPOCHS"]) == (3, 50)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_hold_no_demo_only_claims_in_their_prose(path):
    """Prose is shown in both modes: it must not state demo-only figures as if they held on UCF50."""
    cells = json.loads(path.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for claim in ("from 100 clips", "the figures above come from that run", "users of the tutorial report"):
        assert claim not in text, f"{path.name}: {claim!r} is true of the demo only, or has no source"


def test_the_rehearsal_catches_what_is_false_in_full_mode():
    def executed(*texts):
        outputs = [{"output_type": "stream", "name": "stdout", "text": [t]} for t in texts]
        return {"cells": [{"cell_type": "code", "source": "", "outputs": outputs}]}

    clean = executed("180 clips, 6 classes\nskipped 0 clips []\n", "LRCN test accuracy: 70.8% (48 clips of real clips)")
    assert rehearse.full_mode_problems(clean, "05_lrcn") == []
    wrong = executed("baseline 52.1%; motion-pair accuracy 0.0% (50% = chance)\n", "skipped lrcn.keras: not trained")
    problems = rehearse.full_mode_problems(wrong, "05_lrcn")
    assert len(problems) == 2 and "motion-pair accuracy 0.0%" in problems[0] and "lrcn.keras" in problems[1]
    table = {"output_type": "display_data", "data": {"text/markdown": "| model | motion-pair accuracy |"}}
    assert rehearse.full_mode_problems({"cells": [{"outputs": [table]}]}, "06")
    typed = {"cells": [*clean["cells"], {"cell_type": "markdown", "source": ["The LRCN scored 87.3 % here."]}]}
    (problem,) = rehearse.full_mode_problems(typed, "05_lrcn")  # a figure the run did not print, nor the README
    assert "types '87.3 %'" in problem


@pytest.mark.parametrize(("dataset", "classes"), [("ucf50", 4), ("demo", None), ("/content/my_actions", None)])
def test_a_folder_of_ones_own_takes_every_class(dataset, classes):
    """Full mode used the tutorial's four UCF50 classes for any dataset: a folder of one's own then failed."""
    import lint_notebooks

    head = lint_notebooks.PARAMETERS_HEAD.replace('DATASET = "demo" if QUICK else "ucf50"', f"DATASET = {dataset!r}")
    assert f"DATASET = {dataset!r}" in head
    namespace: dict = {}
    exec(head, namespace)
    assert (namespace["CLASSES"] and len(namespace["CLASSES"])) == classes
