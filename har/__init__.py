"""har: the helper package of the human activity recognition course, one module per job.

By layer, from the base up; a module imports only from the layers before its own (``tests/test_structure.py``):

Base
    errors     errors for bad input, explained in one line; the filter that keeps C++ notices off stderr
    files      writing files so that nothing is ever half-written under its final name
    backend    TensorFlow and Keras, loaded once, without TensorFlow's start-up lines
Data
    video      reading videos (sample evenly spaced frames, iterate over all), and writing H.264 with FFmpeg
    workers    decoding in worker processes: a decoder that crashes costs one clip, not the caller
    download   a resumable HTTP download and safe unpacking of RAR, zip and tar archives
    youtube    video sources: a YouTube (or any yt-dlp) URL, a local file, or a webcam index
    weights    pretrained weights: Keras's ImageNet download, a file of yours, or an offline weights folder
    movenet    MoveNet, the pose model: 17 body keypoints a frame, normalised for the pose head
    dataset    from a folder of clips (one sub-folder per class) to the dataset cache, one .npz of frames
    demo       the generated demo dataset (synthetic clips in UCF50's layout) and the demo video
    workspace  where files live (work folder, data/ and models/, caches) and what the Setup cells print
Split
    splits     train/test splits: the tutorial's random one, the group-aware one, and folds
Models
    models     the course's models, each a function of (class count, sequence length, image size)
    bundle     model bundles: one .keras file that carries what prediction needs besides the weights
Training
    train      the seed, the distribution strategy, and the plumbing around notebook 04's recipe
    features   a pretrained backbone's per-frame features, cached in place of the frames, and its head
    pose       body pose as an approach: the keypoint cache and the head that trains on it
Evaluation
    evaluate   accuracy, top-k, per-class scores, confusion matrix, speed, and tables comparing models
Display
    viz        the notebooks' plots and video display: frames, clips, architectures, splits, curves, timelines
Prediction
    window     the sliding window over a whole video, shared by predict (files) and live (webcams)
    predict    prediction on whole videos: a label per window (written onto the video) or one per video
Tools (``har.tools``), around the pipeline
    live       live labelling from a webcam
    app        a small web app: upload a video or paste a URL, see the actions a model bundle finds
    cli        the command line, ``python -m har <command>`` (``__main__`` runs it)

Importing ``har`` is cheap: TensorFlow is only imported by the modules that need it.
"""

import os as _os

__version__ = "0.1.0"

# FFmpeg inside OpenCV prints "[mpeg4 @ 0x..] Error at MB" for every damaged frame; har reports damaged
# clips itself, in one line each. Set before cv2 loads; a user's own setting wins.
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # no "[ WARN ] can't open" lines beside our own message

#: Frames per clip fed to the models (the tutorial's ``SEQUENCE_LENGTH``).
SEQUENCE_LENGTH = 20
#: Frame height and width fed to the models: frames are square (the tutorial's ``IMAGE_HEIGHT`` and ``IMAGE_WIDTH``).
IMAGE_HEIGHT = 64
#: The tutorial's default 4-class subset of UCF50.
TUTORIAL_CLASSES = ("WalkingWithDog", "TaiChi", "Swing", "HorseRace")
#: How the demo dataset shares looks (``har.demo.make_demo_dataset``): per group across classes, or per
#: (class, group) as UCF50 does.
DEMO_LAYOUTS = ("shared", "ucf50")
#: The models ``har.models.build_model`` builds by name (``python -m har train --model``).
MODEL_NAMES = (
    "convlstm", "lrcn", "baseline", "pretrained", "single_frame", "early_fusion", "slow_fusion", "two_stream",
)  # fmt: skip
#: The models that read each frame's optical flow too: they need a dataset cache built with flow.
FLOW_MODELS = ("two_stream",)
#: The approach each model stands for, in the order the approaches notebook (06) compares them: from no time at
#: all to time in every layer, then the body's pose (``--model pose``, trained on a keypoint cache). Single, late,
#: early and slow fusion are the four of Karpathy et al. (2014).
APPROACHES = {
    "single_frame": "single frame",
    "baseline": "late fusion",
    "early_fusion": "early fusion",
    "slow_fusion": "slow fusion (3-D CNN)",
    "lrcn": "CNN + LSTM (LRCN)",
    "convlstm": "ConvLSTM",
    "pretrained": "pretrained CNN (ImageNet)",
    "pose": "body pose (MoveNet) + LSTM",
    "two_stream": "two streams (frames + flow)",
}
#: Where the UCF50 archive lives (about 6.6 GB).
UCF50_URL = "https://www.crcv.ucf.edu/data/UCF50.rar"

from har.errors import HarError  # noqa: E402

__all__ = [
    "APPROACHES",
    "DEMO_LAYOUTS",
    "FLOW_MODELS",
    "IMAGE_HEIGHT",
    "MODEL_NAMES",
    "SEQUENCE_LENGTH",
    "TUTORIAL_CLASSES",
    "UCF50_URL",
    "HarError",
    "__version__",
]
