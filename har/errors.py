"""Errors that ``har`` raises for bad input: the command line prints their message as one line."""


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
