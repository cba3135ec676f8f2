"""TensorFlow and Keras, imported without TensorFlow's start-up lines on stderr: ``from har.backend import keras, tf``.

On some CPUs (those with AVX-512, or any x86 CPU with ``TF_ENABLE_ONEDNN_OPTS=1``) TensorFlow's C++ code writes
start-up notices straight to file descriptor 2 while it is imported (``All log messages before absl::InitializeLog()
...``, ``oneDNN custom operations are on ...``), whatever ``TF_CPP_MIN_LOG_LEVEL`` says. They would bury a command's
one-line error and fill a notebook's first cell, so the import runs with descriptor 2 captured, and every line but
those notices is written back (``har.errors.filtered_stderr``). oneDNN stays on: it is what makes those CPUs fast.
"""

import re

from har.errors import filtered_stderr

#: Start-up notices of TensorFlow's C++ runtime, matched line by line.
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:.]+ +\d+ (port|cpu_feature_guard|cpu_utils)\.cc:\d+\]"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\."
    r"|oneDNN custom operations are on)"
)

with filtered_stderr(STARTUP_NOISE):  # a mere look-up when TensorFlow was imported already
    import keras
    import tensorflow as tf

__all__ = ["keras", "tf"]
