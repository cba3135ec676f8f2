"""Errors that ``har`` raises for bad input (the command line prints their message as one line), and the filter that
keeps C++ libraries' notices off stderr."""

import contextlib
import os
import re
import sys
import tempfile


def one_line(text) -> str:
    """A message as one line: no ANSI colour codes, no line breaks (libraries' messages have both)."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(text)).split())


class HarError(Exception):
    """Base class: a problem with the user's input or environment, explained in one line."""


class ArgumentError(HarError, ValueError):
    """An argument outside what makes sense (no frames, a negative size): a ``ValueError`` too."""


class VideoError(HarError):
    """A video cannot be opened or decoded."""


class ClipTooShortError(VideoError):
    """A clip decodes fewer frames than the sequence length."""


class DecoderCrashError(VideoError):
    """The decoder died on a video (in a worker process: the caller lives on)."""


class DownloadError(HarError):
    """A download failed (network, server, size or checksum)."""


class ArchiveError(HarError):
    """An archive cannot be unpacked safely."""


class DatasetError(HarError):
    """A dataset folder or cache is unusable."""


class BundleError(HarError):
    """A file is not a usable model bundle."""


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern):
    """Point file descriptor 2 at a temporary file while the block runs (C++ libraries write there directly), then
    write back every line that ``noise`` does not match: their notices go, nothing else is lost."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines()
            kept = [line for line in lines if line.strip() and not noise.match(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
