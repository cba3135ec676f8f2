import json
import re

import cv2
import numpy as np
import pytest

from har.dataset import discover_clips
from har.demo import DEMO_CLASSES, MANIFEST, _actor_path, _group_look, make_demo_dataset
from har.video import count_decodable_frames, extract_frames, video_info


def test_layout_and_names_follow_ucf50(demo_root):
    classes = sorted(p.name for p in demo_root.iterdir() if p.is_dir())
    assert classes == sorted(DEMO_CLASSES[:4])
    for name in classes:
        files = sorted(p.name for p in (demo_root / name).iterdir())
        assert len(files) == 4 * 2
        for file in files:
            assert re.fullmatch(rf"v_{name}_g0[1-4]_c0[12]\.avi", file)


def test_clips_are_real_xvid_avi_files(demo_root):
    clip = demo_root / "Grow" / "v_Grow_g01_c01.avi"
    capture = cv2.VideoCapture(str(clip))
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().upper()
    capture.release()
    info = video_info(clip)
    assert fourcc in {"XVID", "FMP4"}
    assert (info.width, info.height) == (96, 72)
    assert 24 <= count_decodable_frames(clip) <= 36


def test_same_seed_same_bytes_other_seed_other_clips(tmp_path):
    kwargs = dict(n_classes=2, groups=1, clips_per_group=1, frames=(10, 10), size=(48, 32), progress=False)
    a = make_demo_dataset(tmp_path / "a", seed=3, **kwargs)
    b = make_demo_dataset(tmp_path / "b", seed=3, **kwargs)
    c = make_demo_dataset(tmp_path / "c", seed=4, **kwargs)
    clip = "Grow/v_Grow_g01_c01.avi"
    assert (a / clip).read_bytes() == (b / clip).read_bytes()
    assert (a / clip).read_bytes() != (c / clip).read_bytes()


def test_rerun_with_same_settings_writes_nothing(tmp_path):
    kwargs = dict(n_classes=2, groups=1, clips_per_group=1, frames=(10, 10), size=(48, 32), progress=False)
    root = make_demo_dataset(tmp_path / "d", **kwargs)
    clip = root / "Grow" / "v_Grow_g01_c01.avi"
    before = clip.stat().st_mtime_ns
    make_demo_dataset(root, **kwargs)
    assert clip.stat().st_mtime_ns == before


def test_a_group_shares_its_place_across_classes(demo_root):
    """Group g01 of every class is filmed in the same place: corners (background) match, other groups differ."""

    def border(name, group):
        frames = extract_frames(demo_root / name / f"v_{name}_g{group:02d}_c01.avi", 10, (72, 96)).astype(float)
        return np.concatenate([frames[:, :6].mean(axis=0), frames[:, -6:].mean(axis=0)])

    same = np.abs(border("Grow", 1) - border("Flatten", 1)).mean()
    other = np.abs(border("Grow", 1) - border("Grow", 2)).mean()
    assert same < 10 and other > 3 * same


def test_ucf50_layout_gives_each_class_and_group_its_own_look(tmp_path):
    """As in UCF50: clips of one (class, group) share a place; the same group number in another class does not."""
    root = make_demo_dataset(
        tmp_path / "u", n_classes=2, groups=2, clips_per_group=2, frames=(12, 12), size=(64, 48),
        layout="ucf50", progress=False,
    )  # fmt: skip

    def border(name, group, clip):
        frames = extract_frames(root / name / f"v_{name}_g{group:02d}_c{clip:02d}.avi", 6, (48, 64)).astype(float)
        return np.concatenate([frames[:, :4].mean(axis=0), frames[:, -4:].mean(axis=0)])

    same = np.abs(border("Grow", 1, 1) - border("Grow", 1, 2)).mean()
    other_class = np.abs(border("Grow", 1, 1) - border("Shrink", 1, 1)).mean()
    other_group = np.abs(border("Grow", 1, 1) - border("Grow", 2, 1)).mean()
    assert same < 10 and other_class > 3 * same and other_group > 3 * same
    assert json.loads((root / MANIFEST).read_text())["layout"] == "ucf50"


def test_default_layout_manifest_is_unchanged(tmp_path):
    """Demo folders made before layouts existed are still recognised as up to date."""
    root = make_demo_dataset(tmp_path / "s", n_classes=2, groups=1, frames=(8, 8), size=(48, 32), progress=False)
    assert "layout" not in json.loads((root / MANIFEST).read_text())


@pytest.mark.parametrize(
    ("forward", "backward"), [("Grow", "Shrink"), ("Flatten", "Stretch"), ("SlideLeft", "SlideRight"), ("Rise", "Fall")]
)
def test_paired_classes_show_the_same_frames_in_opposite_order(forward, backward):
    look = _group_look(0, 1, 160, 120, 2)
    a = _actor_path(forward, 30, look, np.random.default_rng(7), 160, 120)
    b = _actor_path(backward, 30, look, np.random.default_rng(7), 160, 120)
    for series_a, series_b in zip(a, b, strict=True):
        np.testing.assert_allclose(series_a, series_b[::-1])


def test_spin_pair_differs_only_in_direction():
    look = _group_look(0, 1, 160, 120, 2)
    cw = _actor_path("SpinClockwise", 30, look, np.random.default_rng(7), 160, 120)
    ccw = _actor_path("SpinCounterClockwise", 30, look, np.random.default_rng(7), 160, 120)
    for i in (0, 1, 2, 4):  # centre, size and aspect are identical
        np.testing.assert_allclose(cw[i], ccw[i])
    np.testing.assert_allclose(cw[3] - cw[3][0], -(ccw[3] - ccw[3][0]))
    assert np.all(np.diff(cw[3]) > 0)


def test_flatten_keeps_the_area_and_turns_tall_into_wide():
    look = _group_look(0, 1, 160, 120, 2)
    *_, aspect = _actor_path("Flatten", 30, look, np.random.default_rng(3), 160, 120)
    assert aspect[0] < 0.5 and aspect[-1] > 2 and np.all(np.diff(aspect) > 0)


def test_actor_really_grows_and_shrinks_in_the_video(demo_root):
    clips, _ = discover_clips(demo_root, ["Grow", "Shrink"])
    look = _group_look(0, 1, 96, 72, 2)
    colour_rgb = np.array(look["colour"][::-1], float)
    for clip in (c for c in clips if c.group == 1):
        frames = extract_frames(clip.path, 10, (72, 96)).astype(float)
        area = (np.abs(frames - colour_rgb).sum(axis=-1) < 60).sum(axis=(1, 2))
        if clip.class_name == "Grow":
            assert area[-1] > 1.5 * area[0]
        else:
            assert area[0] > 1.5 * area[-1]


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="n_classes"):
        make_demo_dataset(tmp_path / "x", n_classes=11, progress=False)
    with pytest.raises(ValueError, match="size"):
        make_demo_dataset(tmp_path / "x", size=(15, 16), progress=False)
    with pytest.raises(ValueError, match="layout"):
        make_demo_dataset(tmp_path / "x", layout="random", progress=False)
