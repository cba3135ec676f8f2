"""MoveNet, a pose model: 17 body keypoints a frame, and ``normalise``, which makes them the pose model's input.

MoveNet SinglePose Lightning (Google; a TFLite model of 2.9 MB) reads a 192 x 192 frame and gives, for each of 17
body keypoints (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles), where it is (y, x, in 0-1 of the
frame) and how sure it is (a score, 0-1). It runs on LiteRT's interpreter (``ai-edge-litert`` on PyPI). It sees
people, not horses or balls: in crowded or distant frames it finds no one useful.

``normalise`` makes the keypoints independent of where the person stands and how large they appear: the keypoints
MoveNet is sure of (score above ``CONFIDENT``) give a centre (their mean) and a size (their root-mean-square distance
from it); every keypoint becomes (x, y) relative to that centre, in units of that size. A frame with fewer than
``MIN_KEYPOINTS`` sure keypoints has no one in it as far as pose can tell: its numbers are zeros and its last number,
the *person* flag, is 0 (1 where a person was found), so the model is told, not fooled by made-up positions.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np

from har.download import download_file
from har.errors import HarError, filtered_stderr
from har.weights import WEIGHTS_ENV

#: MoveNet's input size.
POSE_SIZE = 192
#: Its keypoints, in its order.
KEYPOINTS = (
    "nose", "left eye", "right eye", "left ear", "right ear", "left shoulder", "right shoulder", "left elbow",
    "right elbow", "left wrist", "right wrist", "left hip", "right hip", "left knee", "right knee", "left ankle",
    "right ankle",
)  # fmt: skip
#: Bones between keypoints, for drawing a skeleton.
BONES = ((0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12), (11, 12),
         (11, 13), (13, 15), (12, 14), (14, 16))  # fmt: skip
#: A keypoint counts when MoveNet's score is above this; a person when at least MIN_KEYPOINTS do.
CONFIDENT = 0.3
MIN_KEYPOINTS = 5
#: Numbers a frame in the keypoint cache: x, y and score of the 17 keypoints, and the person flag.
POSE_FEATURES = 3 * len(KEYPOINTS) + 1
#: Where Colab and connected machines get MoveNet: google-coral/test_data at a fixed commit, checked by its SHA-256.
MOVENET_URL = (
    "https://raw.githubusercontent.com/google-coral/test_data/104342d2d348/movenet_single_pose_lightning_ptq.tflite"
)
MOVENET_SHA256 = "cd7cc22fa946e5d146a7b98d496853e1923e22828d3972d579973f27f91bb105"
MOVENET_FILE = "movenet_single_pose_lightning_ptq.tflite"
#: What LiteRT's C++ runtime prints on stderr when an interpreter starts.
LITERT_NOISE = re.compile(r"^INFO: (Created TensorFlow Lite XNNPACK delegate for CPU|Initialized TensorFlow Lite)")


def movenet_file(weights: str | os.PathLike | None = None, folder: str | os.PathLike = "models") -> Path:
    """MoveNet's ``.tflite`` file: ``weights`` when given (``HarError`` if it is not there), else the file in the
    ``HAR_WEIGHTS`` folder, else ``folder``'s copy, downloaded there once from ``MOVENET_URL`` and checked."""
    if weights is not None:
        if not Path(weights).is_file():
            raise HarError(f"{weights}: no such MoveNet file (give a .tflite file, or none for the download)")
        return Path(weights)
    offline = os.environ.get(WEIGHTS_ENV)
    if offline and (Path(offline) / MOVENET_FILE).is_file():
        return Path(offline) / MOVENET_FILE
    path = Path(folder) / MOVENET_FILE
    if not path.is_file():
        download_file(MOVENET_URL, path, sha256=MOVENET_SHA256)
    return path


class MoveNet:
    """MoveNet on LiteRT's interpreter: uint8 RGB frames ``[n, H, W, 3]`` -> keypoints ``[n, 17, 3]`` (y, x, score).

    Frames of another size are resized to 192 x 192 (as the whole frame: MoveNet's coordinates stay those of the
    frame). One interpreter is not thread-safe, so calls take turns.
    """

    def __init__(self, model: bytes, threads: int | None = None):
        try:
            with filtered_stderr(LITERT_NOISE):
                from ai_edge_litert.interpreter import Interpreter

                self._interpreter = Interpreter(model_content=model, num_threads=threads or os.cpu_count() or 1)
                self._interpreter.allocate_tensors()
        except ImportError:
            raise HarError("pose needs LiteRT: pip install ai-edge-litert") from None
        except (ValueError, RuntimeError) as error:
            raise HarError(f"not a MoveNet model ({str(error).splitlines()[0][:120]})") from None
        self.model = model
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        if tuple(self._input["shape"][1:]) != (POSE_SIZE, POSE_SIZE, 3) or self._output["shape"][-1] != 3:
            raise HarError(f"not MoveNet SinglePose: it takes {self._input['shape']} and gives {self._output['shape']}")
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: str | os.PathLike | None = None) -> MoveNet:
        """MoveNet from ``movenet_file(weights)``."""
        return cls(movenet_file(weights).read_bytes())

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        import cv2

        frames = np.asarray(frames, np.uint8)
        out = np.zeros((len(frames), len(KEYPOINTS), 3), np.float32)
        with self._lock:
            for i, frame in enumerate(frames):
                if frame.shape[:2] != (POSE_SIZE, POSE_SIZE):
                    frame = cv2.resize(frame, (POSE_SIZE, POSE_SIZE), interpolation=cv2.INTER_AREA)
                self._interpreter.set_tensor(self._input["index"], frame[None])
                self._interpreter.invoke()
                out[i] = self._interpreter.get_tensor(self._output["index"]).reshape(len(KEYPOINTS), 3)
        return out


def normalise(keypoints: np.ndarray) -> np.ndarray:
    """MoveNet's keypoints ``[..., 17, 3]`` (y, x, score) -> ``[..., 52]``, as the module docstring describes."""
    keypoints = np.asarray(keypoints, np.float32)
    y, x, score = keypoints[..., 0], keypoints[..., 1], keypoints[..., 2]
    sure = score > CONFIDENT
    count = sure.sum(axis=-1, keepdims=True)
    person = count >= MIN_KEYPOINTS
    n = np.maximum(count, 1)
    cx, cy = (x * sure).sum(-1, keepdims=True) / n, (y * sure).sum(-1, keepdims=True) / n
    spread = np.sqrt((((x - cx) ** 2 + (y - cy) ** 2) * sure).sum(-1, keepdims=True) / n)
    spread = np.maximum(spread, 1e-3)
    nx, ny = (x - cx) / spread * person, (y - cy) / spread * person
    return np.concatenate([nx, ny, score * person, person.astype(np.float32)], axis=-1)
