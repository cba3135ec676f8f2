"""The lessons: the cells of each notebook after its header, Setup and parameters (see notebooks.py).

A cell starting with ``md:`` is Markdown; every other cell is code. Each entry of ``LESSONS`` is
(name, title, overview, needs TensorFlow, parameters cell, cells).
"""

from notebooks import PARAMETERS_HEAD

TRAINING_PARAMETERS = """
EPOCHS = 15 if QUICK else 70  # at most; early stopping ends sooner (the tutorial: 50 ConvLSTM, 70 LRCN)
BATCH_SIZE = 4  # the tutorial's batch size
PATIENCE = 10  # epochs without validation-loss progress before stopping (the tutorial: 10 and 15)
LEARNING_RATE = 1e-3  # Adam's default, as in the tutorial
# Mirror clips left-right at random while training. Safe for UCF50 and the demo's first four classes;
# set False for classes that differ by direction (the demo's SlideLeft/SlideRight, the spins)
AUGMENT = True"""

LOAD_DATA = """from har.dataset import load_dataset
from har.splits import group_split
from har.workspace import cache_path, models_dir, require

cache = require(cache_path(DATASET, SEQUENCE_LENGTH, IMAGE_SIZE), "02_frame_extraction_and_dataset")
dataset = load_dataset(cache)
split = group_split(dataset.labels, dataset.groups, seed=SEED)
print(dataset.summary())
print(f"group split: {len(split.train)} clips to train on, {len(split.test)} to test on, classes {dataset.classes}")"""

MEASURED = """md:### What a full run takes

In quick mode this notebook trains on the demo dataset on a CPU (the figures above come from that run).
A full run on UCF50 on Colab's GPU has **not been measured yet** for this course; the tutorial this
course grows from reports about 80 % (ConvLSTM) and 92 % (LRCN) test accuracy on its 4 classes with a
*random* split, which leaks (notebook 03), so expect lower figures with the group split."""

LESSONS = [
    (
        "01_download_and_explore_ucf50",
        "1. Download and explore UCF50",
        "UCF50 is 6,676 YouTube clips of 50 actions. In this notebook you will download and unpack it "
        "(or generate the small demo dataset that stands in for it), learn its layout and its *groups*, and "
        "look at the first frame of one clip from 20 random classes.",
        False,
        PARAMETERS_HEAD + "\nN_CLASSES_SHOWN = 20  # classes in the first-frame grid",
        [
            """md:## The dataset

UCF50 (University of Central Florida) has **50 action classes** and **25 groups** per class, about 133 clips
per class of about 199 frames of 320×240 at 26 fps. Clips are YouTube videos, not staged recordings. On disk
there is one folder per class and every file is named `v_<Class>_g<GG>_c<CC>.avi`: `gGG` is the **group**. Clips
of one group share the actor, the place and the camera, which matters when we split the data (notebook 03).

The archive is one 6.6 GB `.rar`. `fetch_ucf50` streams it with a progress bar, resumes an interrupted download,
writes it under a temporary name until it is complete, then unpacks it (the `unrar` tool Colab ships does it).
In quick mode we use the **demo dataset** instead: a few hundred small clips, generated in seconds, in exactly
the same layout.""",
            """from har.download import fetch_ucf50
from har.workspace import data_dir, dataset_root

root = fetch_ucf50(data_dir()) if DATASET == "ucf50" else dataset_root(DATASET)
print(f"dataset folder: {root}")""",
            """md:## What is in it

One folder per class; the group number comes from the file name. Stray files (`.DS_Store`, notes) are ignored.""",
            """from collections import Counter

from har.dataset import discover_clips

clips, stray = discover_clips(root)
per_class = Counter(clip.class_name for clip in clips)
groups = {name: len({c.group for c in clips if c.class_name == name}) for name in per_class}
print(f"{len(clips)} clips in {len(per_class)} classes; {len(stray)} stray files ignored")
for name, count in sorted(per_class.items())[:10]:
    print(f"  {name:<22} {count:>4} clips in {groups[name]} groups")""",
            """md:## A first look

The first frame of one random clip from each of up to 20 random classes, labelled with its class.""",
            """from har.viz import plot_first_frames

plot_first_frames(root, N_CLASSES_SHOWN, seed=SEED);""",
            """md:## Groups share a look

Here is the first frame of the first clip of four groups of one class: within a group the place and actor stay
the same, between groups they change. A model that sees group 3 in training and is tested on group 3 has an
easy job; this is why the split in notebook 03 keeps groups apart.""",
            """import matplotlib.pyplot as plt

from har.video import read_first_frame

name = sorted(per_class)[0]
firsts = {}
for clip in clips:
    if clip.class_name == name and clip.group not in firsts:
        firsts[clip.group] = clip
fig, axes = plt.subplots(1, min(4, len(firsts)), figsize=(12, 3), squeeze=False)
for ax, (group, clip) in zip(axes[0], sorted(firsts.items()), strict=False):
    ax.imshow(read_first_frame(clip.path))
    ax.set_title(f"{name}, group {group}")
    ax.axis("off")""",
            """md:## Your own videos

Put them in one folder per class (`my_actions/Waving/*.mp4`, `my_actions/Clapping/*.mp4`, ...), any container
FFmpeg reads, and set `DATASET = "my_actions"` in the parameters cell of each notebook. File names that do not
follow UCF naming get a group each.

Next: **02_frame_extraction_and_dataset** turns the clips into arrays a model can learn from.""",
        ],
    ),
    (
        "02_frame_extraction_and_dataset",
        "2. Frame extraction and the dataset cache",
        "A model needs every clip as the same number of frames of the same size. You will sample 20 evenly "
        "spaced frames from each clip, see why a container's frame count cannot be trusted, and cache the "
        "whole dataset as one uint8 array, built on every core.",
        False,
        PARAMETERS_HEAD + "\nWORKERS = None  # threads for extraction; None uses every core",
        [
            """from har.dataset import discover_clips
from har.video import count_decodable_frames, video_info
from har.workspace import dataset_root

root = dataset_root(DATASET)
clips, _ = discover_clips(root, CLASSES)
clip = clips[len(clips) // 2]
info = video_info(clip.path)
decoded = count_decodable_frames(clip.path)
print(f"{clip.relative}: {info.width}x{info.height} at {info.fps:.0f} fps")
print(f"the container says {info.frame_count} frames; {decoded} really decode")""",
            """md:## Evenly spaced frames

From a clip of *n* frames we take `SEQUENCE_LENGTH` frames at evenly spaced positions, the first and last
included. Container frame counts lie: some UCF50 clips report 693 frames and decode only 610, so sampling from
the reported count would ask for frames that do not exist. `extract_frames` decodes the clip once, in order,
keeps only the frames it needs, and when the decoded count differs from the reported one it samples again from
the true count. (The tutorial seeks to every frame it wants; seeking lands on key frames and is slower.)""",
            """from har.video import sample_frame_indices

print(sample_frame_indices(decoded, SEQUENCE_LENGTH))""",
            """from har.video import extract_frames
from har.viz import plot_clip_frames

frames = extract_frames(clip.path, SEQUENCE_LENGTH, (IMAGE_SIZE, IMAGE_SIZE))
print(frames.shape, frames.dtype)
plot_clip_frames(frames, title=f"{clip.class_name}: {SEQUENCE_LENGTH} frames at {IMAGE_SIZE}x{IMAGE_SIZE}");""",
            """md:## The whole dataset, cached

`build_dataset` extracts every clip on all cores (OpenCV decodes outside Python's GIL, so threads suffice),
skips clips that cannot be used and says why, and writes one `.npz` file. The frames stay **uint8**: the models
scale them to [0, 1] in their first layer. The tutorial kept float32 frames, four times the memory. A second run
with the same clips and settings reuses the cache.""",
            """from har.dataset import build_dataset
from har.workspace import cache_path

report = build_dataset(
    root, cache_path(DATASET, SEQUENCE_LENGTH, IMAGE_SIZE), classes=CLASSES,
    sequence_length=SEQUENCE_LENGTH, image_size=IMAGE_SIZE, workers=WORKERS,
)  # fmt: skip
dataset = report.dataset
print(f"skipped {len(report.skipped)} clips", report.skipped[:3])""",
            """per_clip = dataset.frames[0].nbytes
mib = dataset.frames.nbytes / 2**20
print(f"uint8: {mib:.1f} MiB here; float32 would be {4 * mib:.1f} MiB")
gib = 6676 * per_clip / 2**30
print(f"all 6,676 UCF50 clips: {gib:.2f} GiB as uint8, {4 * gib:.2f} GiB as float32")""",
            """md:Next: **03_train_test_split** decides which clips the models learn from and which they are
tested on.""",
        ],
    ),
    (
        "03_train_test_split",
        "3. Train/test split: why a random split of UCF50 leaks",
        "The tutorial shuffles all clips and splits them 75/25. UCF50's authors ask for something else: "
        "clips of one group (same actor, place, camera) must never sit on both sides. You will make both "
        "splits, measure how much the random one leaks, and meet the authors' leave-one-group-out protocol.",
        False,
        PARAMETERS_HEAD + "\nTEST_SIZE = 0.25  # share of clips held out for testing",
        [
            """from har.dataset import load_dataset
from har.workspace import cache_path, require

cache = require(cache_path(DATASET, SEQUENCE_LENGTH, IMAGE_SIZE), "02_frame_extraction_and_dataset")
dataset = load_dataset(cache)
print(dataset.summary())""",
            """md:## Two splits

`random_split` is the tutorial's: shuffle, cut. `group_split` uses scikit-learn's `StratifiedGroupKFold`: whole
groups go to one side, and every class still appears on both sides. `group_overlap` counts the groups found on
both sides and the share of test clips whose group the model has already seen.""",
            """from har.splits import group_overlap, group_split, random_split

random = random_split(dataset.labels, TEST_SIZE, seed=SEED)
grouped = group_split(dataset.labels, dataset.groups, TEST_SIZE, seed=SEED)
for name, split in (("random", random), ("group", grouped)):
    leak = group_overlap(dataset.groups, split)
    print(f"{name:>6} split: {len(split.train)} train / {len(split.test)} test clips: {leak}")""",
            """from har.viz import plot_split_groups

plot_split_groups(dataset.groups, {"random split (tutorial)": random, "group split": grouped});""",
            """md:With the random split nearly every test clip has siblings from the same group in the training set: a
model can score well by recognising the place or the actor rather than the action. Users of the tutorial report about
94 % accuracy falling to about 60 % once groups are kept apart. The rest of the course uses the group split.

Both splits keep every class on both sides:""",
            """import matplotlib.pyplot as plt
import numpy as np

fig, ax = plt.subplots(figsize=(8, 3))
width = 0.4
positions = np.arange(len(dataset.classes))
sides = (("train", grouped.train), ("test", grouped.test))
for shift, (name, idx) in zip((-width / 2, width / 2), sides, strict=True):
    ax.bar(positions + shift, np.bincount(dataset.labels[idx], minlength=len(dataset.classes)), width, label=name)
ax.set_xticks(positions, dataset.classes, rotation=30, ha="right")
ax.set_ylabel("clips")
ax.legend();""",
            """md:## The authors' protocol

Leave-one-group-out: train on all groups but one, test on that one, and repeat for every group (25 folds for
UCF50). It is the most honest figure and the most expensive; the course's single group split is one such
held-out slice.""",
            """from har.splits import leave_one_group_out

folds = list(leave_one_group_out(dataset.groups))
print(f"{len(folds)} folds; the first tests group {dataset.groups[folds[0].test[0]]} on {len(folds[0].test)} clips")""",
            """md:Next: **04_convlstm**, the first model.""",
        ],
    ),
    (
        "04_convlstm",
        "4. ConvLSTM",
        "An LSTM reads a sequence one step at a time and keeps a memory. A ConvLSTM does the same with images: "
        "its gates are convolutions, so its memory is a stack of feature maps that keeps *where* things are. "
        "You will build the tutorial's ConvLSTM, train it on the group split and test it on groups it has never seen.",
        True,
        PARAMETERS_HEAD + TRAINING_PARAMETERS,
        [
            LOAD_DATA,
            """md:## The model

Four ConvLSTM2D layers (4, 8, 14, 16 filters of 3×3, tanh, recurrent dropout 0.2) each followed by max pooling
over space (not time) and dropout; then Flatten and a softmax layer, exactly the tutorial's sizes. The first
layer scales the uint8 pixels to [0, 1], so the model can be fed the cache as it is.""",
            """import inspect

from IPython.display import Code

from har.models import convlstm

Code(inspect.getsource(convlstm), language="python")""",
            """model = convlstm(len(dataset.classes), SEQUENCE_LENGTH, (IMAGE_SIZE, IMAGE_SIZE))
model.summary()""",
            """md:## Training

`fit_split` sets a part of the training groups aside for validation (by group again), streams uint8 batches
through `tf.data`, stops early when the validation loss stops improving (and keeps the best weights), and saves a
**model bundle**: one `.keras` file that also carries the class names and frame sizes, so prediction needs
nothing else.""",
            """from har.train import fit_split, set_seed

set_seed(SEED)
result = fit_split(
    model, dataset, split, epochs=EPOCHS, batch_size=BATCH_SIZE, patience=PATIENCE,
    learning_rate=LEARNING_RATE, augment=AUGMENT, seed=SEED, out=models_dir() / "convlstm.keras", verbose=2,
)  # fmt: skip""",
            """from har.viz import plot_history

plot_history(result.history, title="ConvLSTM");""",
            """from har.evaluate import evaluate_model

test = evaluate_model(result.model, dataset, split.test)
print(f"ConvLSTM test accuracy on unseen groups: {test.accuracy:.1%} ({len(split.test)} clips)")
print(f"model bundle: {result.bundle}")""",
            MEASURED,
            """md:Next: **05_lrcn**, a CNN on every frame followed by an LSTM.""",
        ],
    ),
    (
        "05_lrcn",
        "5. LRCN, a single-frame baseline, and a pretrained backbone",
        "The Long-term Recurrent Convolutional Network runs a small CNN on every frame and feeds the per-frame "
        "features to an LSTM. You will train the tutorial's LRCN, then a single-frame baseline that sees frames "
        "but not their order (and so cannot tell Grow from Shrink), and meet the natural step up: an ImageNet "
        "backbone from `keras.applications` on every frame.",
        True,
        PARAMETERS_HEAD
        + TRAINING_PARAMETERS
        + """
# ImageNet weights for the pretrained backbone: downloaded on Colab; None trains it from scratch (offline, tests)
PRETRAINED_WEIGHTS = None if QUICK else "imagenet"
PRETRAINED_EPOCHS = 3 if QUICK else 30""",
        [
            LOAD_DATA,
            """md:## LRCN

`TimeDistributed` applies the same layers to each of the 20 frames: Conv2D 16, 32, 64, 64 (3×3, relu) with max
pooling 4, 4, 2, 2 and dropout 0.25. Each frame becomes 64 numbers; an LSTM of 32 units reads them in order.""",
            """import inspect

from IPython.display import Code

from har.models import baseline, lrcn, pretrained

Code(inspect.getsource(lrcn), language="python")""",
            """from har.demo import MOTION_PAIRS
from har.evaluate import evaluate_model
from har.train import fit_split, set_seed
from har.viz import plot_history

set_seed(SEED)
model = lrcn(len(dataset.classes), SEQUENCE_LENGTH, (IMAGE_SIZE, IMAGE_SIZE))
model.summary()
result = fit_split(
    model, dataset, split, epochs=EPOCHS, batch_size=BATCH_SIZE, patience=PATIENCE,
    learning_rate=LEARNING_RATE, augment=AUGMENT, seed=SEED, out=models_dir() / "lrcn.keras", verbose=2,
)  # fmt: skip
plot_history(result.history, title="LRCN")
print(f"LRCN test accuracy on unseen groups: {evaluate_model(result.model, dataset, split.test).accuracy:.1%}")""",
            """md:## What does time add? A single-frame baseline

The baseline classifies every frame on its own and averages the 20 predictions. It sees the actor and the place,
but not the order of frames. The demo classes come in pairs that differ only in motion (`Grow`/`Shrink`,
`Flatten`/`Stretch`): any single frame of one could be a frame of the other. So within a pair the baseline can
only guess: its **motion-pair accuracy** (right answers among clips it put in the right pair) stays near 50 %.""",
            """Code(inspect.getsource(baseline), language="python")""",
            """set_seed(SEED)
result = fit_split(
    baseline(len(dataset.classes), SEQUENCE_LENGTH, (IMAGE_SIZE, IMAGE_SIZE)), dataset, split, epochs=EPOCHS,
    batch_size=BATCH_SIZE, patience=PATIENCE, learning_rate=LEARNING_RATE, augment=AUGMENT, seed=SEED,
    out=models_dir() / "baseline.keras", verbose=0,
)  # fmt: skip
base = evaluate_model(result.model, dataset, split.test)
pair = base.pair_accuracy(MOTION_PAIRS) or 0.0  # Grow/Shrink, Flatten/Stretch, ... (from har.demo)
print(f"baseline test accuracy {base.accuracy:.1%}; motion-pair accuracy {pair:.1%} (50% = chance)")""",
            """md:## The step up: a pretrained CNN per frame

Instead of learning a CNN from 100 clips, reuse one trained on ImageNet's million images: `MobileNetV3Small` from
`keras.applications`, frozen, on every frame, then an LSTM. On Colab, `weights="imagenet"` downloads its weights;
in quick mode (and offline) it is built with `weights=None` and trained from scratch for a few epochs, which only
shows that the plumbing works. Unfreeze the top layers (`fine_tune_layers=20`) with a small learning rate once
the head has trained.""",
            """Code(inspect.getsource(pretrained), language="python")""",
            """set_seed(SEED)
result = fit_split(
    pretrained(len(dataset.classes), SEQUENCE_LENGTH, (IMAGE_SIZE, IMAGE_SIZE), weights=PRETRAINED_WEIGHTS),
    dataset, split, epochs=PRETRAINED_EPOCHS, batch_size=BATCH_SIZE, patience=PATIENCE, augment=AUGMENT, seed=SEED,
    out=models_dir() / "pretrained.keras", verbose=2,
)  # fmt: skip
print(f"pretrained-backbone test accuracy: {evaluate_model(result.model, dataset, split.test).accuracy:.1%}")""",
            MEASURED,
            """md:Next: **06_compare_and_evaluate** puts the models side by side.""",
        ],
    ),
    (
        "06_compare_and_evaluate",
        "6. Compare and evaluate the models",
        "Load every model bundle trained so far, test each on the same held-out groups, and compare accuracy, "
        "top-2 accuracy and motion-pair accuracy; then read the per-class precision, recall and F1 and the "
        "confusion matrices.",
        True,
        PARAMETERS_HEAD + '\nMODELS = ["convlstm", "lrcn", "baseline", "pretrained"]  # bundles in models/ to compare',
        [
            LOAD_DATA,
            """from IPython.display import Markdown, display

from har.bundle import load_bundle
from har.demo import MOTION_PAIRS
from har.evaluate import comparison_table, evaluate_model

results = {}
for name in MODELS:
    path = models_dir() / f"{name}.keras"
    if not path.is_file():
        print(f"{path} is missing: run 04_convlstm / 05_lrcn first")
        continue
    model, metadata = load_bundle(path)
    results[name] = evaluate_model(model, dataset, split.test)
table = comparison_table(results, MOTION_PAIRS)  # Grow/Shrink, Flatten/Stretch, ... (from har.demo)
(models_dir() / "comparison.md").write_text(table + "\\n")
display(Markdown(table))""",
            """md:*Motion-pair accuracy* is the share of right answers among test clips of `Grow`/`Shrink` and
`Flatten`/`Stretch` that a model put in the right pair: 50 % is what a model blind to time gets.

## Per class""",
            """best = max(results, key=lambda name: results[name].accuracy)
print(f"best: {best}")
print(results[best].report())""",
            """from har.viz import plot_confusion_matrix

for name, result in results.items():
    plot_confusion_matrix(result.confusion(), result.classes, title=f"{name}: {result.accuracy:.0%}")""",
            """md:Next: **07_predict_on_youtube_videos** runs the best model over whole videos.""",
        ],
    ),
    (
        "07_predict_on_youtube_videos",
        "7. Predict actions in YouTube videos",
        "Download a YouTube video with yt-dlp, label every frame with the action of the last 20 frames (and write "
        "the labelled video), plot the label over time, and give one label for the whole video. pafy and "
        "youtube-dl, which the tutorial used, no longer work with YouTube.",
        True,
        PARAMETERS_HEAD
        + """
MODEL = "lrcn"  # which bundle in models/ to use
VIDEO_URL = "https://www.youtube.com/watch?v=8u0qjmHIOcE"  # the tutorial's test video; any yt-dlp URL works
LOCAL_VIDEO = None  # or the path of a video file: used when set, and as the fallback when the download fails
STRIDE = 1  # classify a window every STRIDE frames
SMOOTH = 5  # average the probabilities of the last SMOOTH windows""",
        [
            """from har.predict import Predictor
from har.workspace import data_dir, models_dir, require

predictor = Predictor.load(require(models_dir() / f"{MODEL}.keras", "04_convlstm / 05_lrcn"))
print(f"{MODEL}: classes {predictor.classes}, windows of {predictor.sequence_length} frames")""",
            """md:## Get a video

`resolve_source` takes a URL (downloaded with yt-dlp's Python API into `data/videos/`, smallest MP4 up to 480p),
a local file, or a webcam index. YouTube often refuses downloads from cloud machines ("confirm you're not a bot");
then it says so in one line, and you can upload the video instead (on Colab: the Files panel, or
`google.colab.files.upload()`) and set `LOCAL_VIDEO`. In quick mode the video is a demo clip of an actor from a
group the model never saw, performing four actions in turn.""",
            """from har.demo import make_demo_video
from har.youtube import VideoSourceError, resolve_source

videos = data_dir() / "videos"
if QUICK:
    video = resolve_source(make_demo_video(videos / "demo_actions.mp4"))
elif LOCAL_VIDEO:
    video = resolve_source(LOCAL_VIDEO)
else:
    try:
        video = resolve_source(VIDEO_URL, videos)
    except VideoSourceError as error:
        raise SystemExit(f"{error}\\nSet LOCAL_VIDEO in the parameters cell and run again.") from None
print(f"video: {video.title} ({video.source})")""",
            """md:## A label for every frame

For every frame after the first 20, the model classifies the last 20 frames. The tutorial called `model.predict`
once per frame, which runs the LRCN's CNN on each frame 20 times; `predict_on_video` runs it once per frame and
classifies the windows in batches. The labelled video is written as H.264, which browsers and notebooks play.""",
            """from har.predict import predict_on_video, show_video

out = videos / f"{video.source.stem}.{MODEL}.mp4"
result = predict_on_video(predictor, video.source, out, stride=STRIDE, smooth=SMOOTH)
print(f"{result.frame_count} frames at {result.timings['frames_per_second']:.0f} frames/s -> {out}")
show_video(out)""",
            """from har.viz import plot_label_timeline

plot_label_timeline(result);""",
            """md:## One label for the whole video

Sample 20 frames evenly from the whole video, exactly as for training, and classify them once.""",
            """from har.predict import predict_single_action

prediction = predict_single_action(predictor, video.source, top_k=3)""",
            """md:## From the command line, and your webcam

```bash
python -m har predict models/lrcn.keras "https://www.youtube.com/watch?v=..." --out labelled.mp4
python -m har predict models/lrcn.keras my_video.mp4 --mode whole
python -m har predict models/lrcn.keras 0 --max-frames 300   # webcam 0, on your own machine
```""",
        ],
    ),
]
