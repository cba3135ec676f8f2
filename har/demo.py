"""The demo dataset: synthetic action clips in UCF50's layout, ``<Class>/v_<Class>_gGG_cCC.avi`` (XviD).

Every group has its own look (background, scenery, colours, the actor's shape), as UCF50's groups share actor,
place and camera. By default (``layout="shared"``) the look depends only on the group number, so a look says nothing
about the class: a model can only tell classes apart by what the actor *does*. ``layout="ucf50"`` gives each (class,
group) a look of its own, as UCF50 does: a random split then leaks, which notebook 03 measures.

The classes come in pairs that differ **only in motion** (Grow vs Shrink, ...): any frame of one could be a frame of
the other, only the sequence tells them apart. That makes the demo a fair test of models that use time.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import cv2
import numpy as np

from har import DEMO_LAYOUTS
from har.errors import ArgumentError, HarError
from har.files import atomic_write
from har.video import count_decodable_frames, opencv_name, video_info

#: Demo classes, in the order ``n_classes`` takes them; each consecutive pair differs only in motion.
#: The first four change a property of the whole actor (size, aspect), which every model here can read;
#: spinning and sliding need a model that keeps track of where things are (ConvLSTM does, LRCN hardly).
DEMO_CLASSES = (
    "Grow", "Shrink", "Flatten", "Stretch", "SpinClockwise", "SpinCounterClockwise", "SlideLeft", "SlideRight",
    "Rise", "Fall",
)  # fmt: skip

#: The pairs of ``DEMO_CLASSES`` that differ only in motion: a model blind to frame order is at chance in each.
MOTION_PAIRS = tuple(zip(DEMO_CLASSES[::2], DEMO_CLASSES[1::2], strict=True))
MANIFEST = ".har-demo.json"
#: The frame rate of the demo's clips and video, UCF50's.
DEMO_FPS = 25.0
#: Pixels of background around the frame, room for the hand-held camera's shake.
_MARGIN = 2

#: The models whose input cannot tell the demo's classes apart by design, and why: quick mode does not train them
#: (notebooks 06 and 07 say so), where a figure of theirs would only show chance.
NOT_ON_THE_DEMO = {
    "single_frame": "not run on the demo: it reads the middle frame, and the middle frames of the demo's classes look "
    "alike by design (each pair meets halfway), so one frame can only guess",
    "two_stream": "not run on the demo: its frame stream reads the middle frame, alike in every class, and its flow "
    "between consecutive frames is mostly the demo's jittering camera (the flow figure shows it)",
    "pose": "not run on the demo: its clips are drawn shapes, with no people for MoveNet to find",
}


def motion_pairs_in(classes) -> list[tuple[str, str]]:
    """The ``MOTION_PAIRS`` whose two classes are both in ``classes``: none for UCF50 or other real data."""
    present = set(classes)
    return [(a, b) for a, b in MOTION_PAIRS if a in present and b in present]


# Actor shapes: polygons of radius about 1 with no rotational symmetry, so any turn of the actor shows
# and its direction is never ambiguous (a square turned by 80 degrees looks turned by -10).
SHAPES = {
    "arrow": np.array([[1, 0], [0.1, -0.8], [0.1, -0.3], [-1, -0.3], [-1, 0.3], [0.1, 0.3], [0.1, 0.8]]),
    "ell": np.array([[-0.7, -1], [-0.1, -1], [-0.1, 0.4], [0.8, 0.4], [0.8, 1], [-0.7, 1]]),
    "chevron": np.array([[1, 0], [-0.8, -0.7], [-0.4, 0], [-0.8, 0.7]]),
    "tee": np.array([[-1, -1], [1, -1], [1, -0.5], [0.3, -0.5], [0.3, 1], [-0.3, 1], [-0.3, -0.5], [-1, -0.5]]),
    "flag": np.array([[-0.7, -1], [0.9, -0.55], [-0.4, -0.1], [-0.4, 1], [-0.7, 1]]),
    "key": np.array([[-1, -0.5], [-0.2, -0.5], [-0.2, -0.15], [1, -0.15], [1, 0.15], [0.6, 0.15], [0.6, 0.5],
                     [0.35, 0.5], [0.35, 0.15], [-0.2, 0.15], [-0.2, 0.5], [-1, 0.5]]),
}  # fmt: skip


def _group_look(seed: int, group: int, width: int, height: int, margin: int, class_index: int | None = None) -> dict:
    """Background, actor shape, colour, size and speed shared by every clip of one group (of one class, if given)."""
    rng = np.random.default_rng([seed, 1, group] if class_index is None else [seed, 4, class_index, group])
    top, bottom = rng.integers(20, 140, size=(2, 3))
    ramp = np.linspace(0, 1, height + 2 * margin)[:, None, None]
    background = (top * (1 - ramp) + bottom * ramp).repeat(width + 2 * margin, axis=1)
    background = np.ascontiguousarray(background.astype(np.uint8))
    scenery = background.copy()
    for _ in range(rng.integers(3, 7)):  # static scenery: the "place" of the group, muted so the actor stands out
        colour = tuple(int(c) for c in rng.integers(0, 160, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(width // 10, width // 3)), int(rng.integers(height // 10, height // 3))
        if rng.random() < 0.5:
            cv2.rectangle(scenery, (x, y), (x + w, y + h), colour, -1)
        else:
            cv2.ellipse(scenery, (x, y), (w // 2, h // 2), 0, 0, 360, colour, -1)
    background = cv2.GaussianBlur(cv2.addWeighted(scenery, 0.35, background, 0.65, 0), (5, 5), 0)
    mean = background.reshape(-1, 3).mean(axis=0)
    while True:  # a bright actor that stands out from the place
        colour = rng.integers(150, 256, 3)
        if np.abs(colour - mean).sum() > 300:
            break
    shape_names = sorted(SHAPES)
    return {
        "background": background,
        "shape": SHAPES[shape_names[rng.integers(len(shape_names))]],
        "colour": tuple(int(c) for c in colour),
        "radius": float(rng.uniform(0.26, 0.32) * min(width, height)),
        "angle": float(rng.uniform(0, 2 * np.pi)),
        "speed": float(rng.uniform(0.8, 1.2)),
    }


def _actor_path(name: str, n: int, look: dict, rng: np.random.Generator, width: int, height: int):
    """Per-frame centre (x, y), radius, angle and aspect (width / height stretch) of the actor in one clip."""
    t = np.linspace(0.0, 1.0, n)
    cx = width / 2 + rng.uniform(-0.1, 0.1) * width + np.zeros(n)
    cy = height / 2 + rng.uniform(-0.1, 0.1) * height + np.zeros(n)
    radius = look["radius"] * rng.uniform(0.8, 1.1) + np.zeros(n)
    angle = look["angle"] + rng.uniform(-0.2, 0.2) + np.zeros(n)
    aspect = np.ones(n)
    direction = 1.0 if name in ("Grow", "Flatten", "SpinClockwise", "SlideRight", "Fall") else -1.0
    if name in ("Flatten", "Stretch"):
        # From tall and thin to wide and flat (or back), keeping the area: log-aspect runs from -a to +a.
        span = rng.uniform(0.8, 1.1)
        aspect = np.exp(direction * span * (2 * t - 1))
    elif name in ("Grow", "Shrink"):
        small, large = rng.uniform(0.35, 0.6), rng.uniform(1.15, 1.5)
        ramp = t if direction > 0 else 1 - t
        radius = look["radius"] * (small + (large - small) * ramp)
    elif name in ("SpinClockwise", "SpinCounterClockwise"):
        # Image y points down, so a growing angle turns clockwise on screen; 0.6-1 turn over the clip.
        turns = rng.uniform(0.6, 1.0) * look["speed"]
        angle = angle + direction * 2 * np.pi * turns * t
    elif name in ("SlideLeft", "SlideRight"):
        span = rng.uniform(0.25, 0.35) * width
        cx = width / 2 + direction * span * (t - 0.5) * 2
    elif name in ("Rise", "Fall"):
        span = rng.uniform(0.2, 0.3) * height
        cy = height / 2 + direction * span * (t - 0.5) * 2
    else:
        raise ArgumentError(f"unknown demo class {name!r}")
    return cx, cy, radius, angle, aspect


def render_clip(
    name: str, look: dict, rng: np.random.Generator, n_frames: int, width: int, height: int
) -> list[np.ndarray]:
    """Draw the BGR frames of one clip of class ``name`` in a group's ``look``."""
    margin = (look["background"].shape[0] - height) // 2
    cx, cy, radius, angle, aspect = _actor_path(name, n_frames, look, rng, width, height)
    shake = rng.integers(-margin, margin + 1, size=(n_frames, 2))  # a hand-held camera
    flicker = 1.0 + rng.normal(0, 0.03, n_frames)
    frames = []
    for i in range(n_frames):
        dx, dy = shake[i]
        frame = look["background"][margin + dy : margin + dy + height, margin + dx : margin + dx + width].copy()
        c, s = np.cos(angle[i]), np.sin(angle[i])
        stretch = np.array([np.sqrt(aspect[i]), 1 / np.sqrt(aspect[i])])  # in screen axes, after turning
        points = (look["shape"] @ np.array([[c, s], [-s, c]])) * stretch * radius[i] + (cx[i], cy[i])
        cv2.fillPoly(frame, [np.round(points * 16).astype(np.int32)], look["colour"], cv2.LINE_AA, shift=4)
        frames.append(cv2.convertScaleAbs(frame, alpha=float(flicker[i])))
    return frames


def write_video(path: str | os.PathLike, frames_bgr: list[np.ndarray], fps: float = DEMO_FPS) -> Path:
    """Encode BGR frames atomically: XviD (UCF50's codec) for ``.avi``, else MPEG-4 Part 2 (H.264: ``H264Writer``)."""
    path = Path(path)
    height, width = frames_bgr[0].shape[:2]
    fourcc = "XVID" if path.suffix.lower() == ".avi" else "mp4v"
    with atomic_write(path, suffix=path.suffix) as tmp:
        with opencv_name(tmp) as name:
            writer = cv2.VideoWriter(name, cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
        if not writer.isOpened():
            raise HarError(f"cannot write {fourcc} video to {path.parent} (is it writable?)")
        try:
            for frame in frames_bgr:
                writer.write(frame)
        finally:
            writer.release()
        # OpenCV's writer says nothing when the disk fills up, and it writes the header's frame count whatever
        # made it to disk: every frame must decode, and the header must know them all (its index is written last).
        try:
            written = min(count_decodable_frames(tmp), video_info(tmp).frame_count)
        except HarError:
            written = 0
        if written != len(frames_bgr):
            raise HarError(f"could not write {path}: {written} of {len(frames_bgr)} frames were saved (disk full?)")
    return path


def _demo_settings(n_classes, groups, clips_per_group, frames, size, fps, seed, layout) -> dict:
    """Check ``make_demo_dataset``'s arguments and return them as its manifest records them."""
    if not 2 <= n_classes <= len(DEMO_CLASSES):
        raise ArgumentError(f"n_classes must be between 2 and {len(DEMO_CLASSES)}, got {n_classes}")
    if groups < 1 or clips_per_group < 1:
        raise ArgumentError("groups and clips_per_group must be at least 1")
    if layout not in DEMO_LAYOUTS:
        raise ArgumentError(f"layout must be one of {', '.join(DEMO_LAYOUTS)}, got {layout!r}")
    if not 1 <= frames[0] <= frames[1]:
        raise ArgumentError(f"frames must be a range (min, max) with 1 <= min <= max, got {frames}")
    width, height = int(size[0]), int(size[1])
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ArgumentError(f"size must be even and at least 16x16, got {width}x{height}")
    settings = {"n_classes": n_classes, "groups": groups, "clips_per_group": clips_per_group, "frames": list(frames)}
    settings |= {"size": [width, height], "fps": fps, "seed": seed}
    if layout != "shared":  # older manifests (no layout) stay valid for the default layout
        settings["layout"] = layout
    return settings


def _write_clips(out_dir: Path, settings: dict, progress: bool) -> int:
    from tqdm.auto import tqdm

    seed, (width, height), (shortest, longest) = settings["seed"], settings["size"], settings["frames"]
    classes = DEMO_CLASSES[: settings["n_classes"]]
    groups, clips = range(1, settings["groups"] + 1), range(1, settings["clips_per_group"] + 1)
    jobs = list(itertools.product(range(len(classes)), groups, clips))
    per_class = settings.get("layout") == "ucf50"
    looks: dict[tuple[int | None, int], dict] = {}
    for index, group, clip in tqdm(jobs, desc="Demo clips", unit="clip", disable=not progress):
        owner = index if per_class else None
        if (owner, group) not in looks:
            looks[owner, group] = _group_look(seed, group, width, height, _MARGIN, class_index=owner)
        name = classes[index]
        rng = np.random.default_rng([seed, 2, index, group, clip])
        n_frames = int(rng.integers(shortest, longest + 1))
        (out_dir / name).mkdir(parents=True, exist_ok=True)
        clip_frames = render_clip(name, looks[owner, group], rng, n_frames, width, height)
        write_video(out_dir / name / f"v_{name}_g{group:02d}_c{clip:02d}.avi", clip_frames, settings["fps"])
    return len(jobs)


def make_demo_dataset(
    out_dir: str | os.PathLike,
    *,
    n_classes: int = 4,
    groups: int = 96,
    clips_per_group: int = 1,
    frames: tuple[int, int] = (40, 70),
    size: tuple[int, int] = (160, 120),
    fps: float = DEMO_FPS,
    seed: int = 0,
    layout: str = "shared",
    progress: bool = True,
) -> Path:
    """Generate the demo dataset in UCF50 layout under ``out_dir`` and return ``out_dir``.

    Many parameters because each is a knob of the dataset that its manifest records. ``n_classes`` takes the first
    classes of ``DEMO_CLASSES`` (2 to 10); every class gets ``groups`` groups of ``clips_per_group`` clips, each of
    ``frames[0]`` to ``frames[1]`` frames of ``size`` = (width, height). The same arguments always give the same
    clips, and a folder already made with them is left as it is. ``layout``: ``"shared"`` or ``"ucf50"``, see the
    module's docstring (``"ucf50"`` wants several ``clips_per_group``).

    The defaults favour many groups of one clip each over few groups of many clips: models trained on the
    group split learn the actions, not the looks, only when they have seen enough different looks.
    """
    settings = _demo_settings(n_classes, groups, clips_per_group, frames, size, fps, seed, layout)
    out_dir = Path(out_dir)
    manifest = out_dir / MANIFEST
    try:
        done = json.loads(manifest.read_text()) == settings
    except (OSError, ValueError):  # no manifest, or a damaged one
        done = False
    if done:
        if progress:
            print(f"Demo dataset already in {out_dir}")
        return out_dir
    count = _write_clips(out_dir, settings, progress)
    with atomic_write(manifest) as tmp:  # written last, and whole: it says the dataset is complete
        tmp.write_text(json.dumps(settings))
    if progress:
        print(f"Wrote {count} clips of {n_classes} classes to {out_dir}")
    return out_dir


#: The demo video (``har.workspace.offline_video`` makes it): its file name, the actions it shows, their frames.
DEMO_VIDEO = "demo_actions.mp4"
DEMO_VIDEO_ACTIONS = ("Grow", "Flatten", "Shrink", "Stretch")
DEMO_VIDEO_FRAMES_PER_ACTION = 60


def demo_video_truth(fps: float = DEMO_FPS) -> list[tuple[float, float, str]]:
    """What the default demo video shows when: (start s, end s, action), for a timeline's truth band."""
    length = DEMO_VIDEO_FRAMES_PER_ACTION / fps
    return [(i * length, (i + 1) * length, name) for i, name in enumerate(DEMO_VIDEO_ACTIONS)]


def make_demo_video(
    path: str | os.PathLike,
    actions: tuple[str, ...] = DEMO_VIDEO_ACTIONS,
    *,
    frames_per_action: int = DEMO_VIDEO_FRAMES_PER_ACTION,
    size: tuple[int, int] = (320, 240),
    group: int = 99,
    seed: int = 0,
    fps: float = DEMO_FPS,
) -> Path:
    """One video in which an actor from a group never used for training performs ``actions`` in turn.

    Quick mode's stand-in for a YouTube video: a sliding-window prediction over it should follow the actions.
    """
    width, height = int(size[0]), int(size[1])
    look = _group_look(seed, group, width, height, _MARGIN)
    frames = []
    for i, name in enumerate(actions):
        frames += render_clip(name, look, np.random.default_rng([seed, 3, group, i]), frames_per_action, width, height)
    return write_video(path, frames, fps)
