"""har: the helper package of the human activity recognition course.

One module per pipeline stage, data flowing one way:
``download`` -> ``video`` -> ``dataset`` -> ``splits`` -> ``models`` -> ``train`` -> ``evaluate`` -> ``predict``,
plus ``demo`` (the generated demo dataset), ``features`` (a pretrained backbone's per-frame features, cached, in
place of the dataset's frames), ``weights`` (where pretrained weights come from), ``pose`` (MoveNet's body keypoints,
cached like the features), ``youtube`` (video sources), ``bundle`` (saved models) and ``viz`` (plots).
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
#: Frame height and width fed to the models (the tutorial's ``IMAGE_HEIGHT`` / ``IMAGE_WIDTH``).
IMAGE_HEIGHT = 64
IMAGE_WIDTH = 64
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
    "IMAGE_WIDTH",
    "MODEL_NAMES",
    "SEQUENCE_LENGTH",
    "TUTORIAL_CLASSES",
    "UCF50_URL",
    "HarError",
    "__version__",
]
