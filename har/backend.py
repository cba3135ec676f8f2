"""TensorFlow and Keras, loaded once, without TensorFlow's start-up lines on stderr.

On some CPUs (those with AVX-512, or any x86 CPU with ``TF_ENABLE_ONEDNN_OPTS=1``) TensorFlow's C++ code
writes start-up notices straight to file descriptor 2 while it is imported (``All log messages before
absl::InitializeLog() ...``, ``oneDNN custom operations are on ...``), whatever ``TF_CPP_MIN_LOG_LEVEL``
says. They would bury the one-line error of a command and fill a notebook's first cell. So the import
runs with descriptor 2 pointed at a temporary file, and afterwards every line that is not one of those
known notices is written back to stderr: nothing else is lost, and oneDNN stays on (it is what makes
TensorFlow fast on those CPUs).

Modules that need TensorFlow import it from here: ``from har.backend import keras, tf``.
"""

from __future__ import annotations

import re
import sys

from har.errors import filtered_stderr

#: Start-up notices of TensorFlow's C++ runtime, matched line by line.
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:.]+ +\d+ (port|cpu_feature_guard|cpu_utils)\.cc:\d+\]"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\."
    r"|oneDNN custom operations are on)"
)


def _import_quietly() -> None:
    if "tensorflow" in sys.modules:
        return
    with filtered_stderr(STARTUP_NOISE):
        import keras  # noqa: F401  (imports tensorflow, which prints the notices)
        import tensorflow  # noqa: F401


_import_quietly()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

__all__ = ["keras", "tf"]
