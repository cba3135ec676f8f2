"""Writing files so that nothing is ever half-written under its final name."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it becomes ``path`` when the block ends well, else it is deleted.

    So a crash or an error never leaves a half-written file under the final name. ``suffix`` is the
    temporary file's ending (Keras, for one, insists on ``.keras``). The temporary name is short, so any name the
    file system allows for ``path`` works, and an ``OSError`` (a full disk) names ``path``, not the temporary file.
    """
    path = Path(path)
    tmp = temporary_beside(path, suffix)
    try:
        yield Path(tmp)
        honour_umask(tmp)
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        if error.errno is not None and error.filename in (None, tmp, str(tmp)):  # a full disk: name the file asked for
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temporary_beside(path: Path, suffix: str = "") -> Path:
    """A new empty file in ``path``'s folder (made if missing), named ``.har-XXXXXXXX.tmp<suffix>``: short, hidden."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".har-", suffix=f".tmp{suffix}", dir=path.parent)
    except OSError as error:  # a folder you may not write, a full disk: say so of the file you asked for
        raise OSError(error.errno, error.strerror, str(path)) from None
    os.close(fd)
    return Path(tmp)


def honour_umask(path: str | os.PathLike) -> None:
    """Give a file made by ``tempfile`` (always mode 0600) the mode a plain ``open`` would have given it."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)
