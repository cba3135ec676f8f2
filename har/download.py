"""Fetching datasets: a resumable HTTP download and safe unpacking of RAR, zip and tar archives.

Nothing half-done or bad is ever left under a final name: a download goes to ``<name>.part`` (kept, so that running
again resumes it with an HTTP Range request) and is renamed only when its size and its format's signature (magic
bytes) check out; archives unpack into a temporary folder that is moved into place only when complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

import rarfile

from har import UCF50_URL
from har.errors import ArchiveError, DownloadError, one_line

CHUNK = 1 << 20
ARCHIVE_SUFFIXES = (".zip", ".rar", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
# What a file's first bytes say it is: (offset, magic bytes, how it unpacks (None: it does not), what it is).
SIGNATURES = (
    (0, b"PK\x03\x04", "zip", "a zip archive"),
    (0, b"PK\x05\x06", "zip", "an empty zip archive"),
    (0, b"Rar!\x1a\x07\x00", "rar", "a rar archive"),
    (0, b"Rar!\x1a\x07\x01\x00", "rar", "a rar archive"),
    (0, b"\x1f\x8b", "tar", "a gzip file"),
    (0, b"BZh", "tar", "a bzip2 file"),
    (0, b"\xfd7zXZ\x00", "tar", "an xz file"),
    (257, b"ustar", "tar", "a tar archive"),
    (0, b"7z\xbc\xaf\x27\x1c", None, "a 7z archive (not supported: unpack it yourself or repack it as zip or tar)"),
)
RAR_TOOLS_HINT = (
    "install one of: unrar (Colab has it; Debian/Ubuntu: apt-get install unrar-free), "
    "unar (apt-get install unar), bsdtar (apt-get install libarchive-tools) or 7z (apt-get install 7zip)"
)
LOCAL_ARCHIVE_HINT = "for an archive already on this machine use --archive PATH (or fetch_ucf50(archive=PATH))"


def _say(message: str, progress: bool) -> None:
    if progress:
        print(message)


def _sniff(path: Path) -> tuple[str | None, str]:
    """How ``path`` unpacks according to its content ("zip", "rar", "tar" or None) and what it looks like."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    for offset, magic, kind, description in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind, description
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        return None, "an empty file"
    if b"<html" in text or text.startswith(b"<!doctype html"):
        return None, "an HTML page"
    if text.startswith(b"<?xml"):
        return None, "an XML document"
    if all(byte >= 0x20 or byte in b"\t\r\n" for byte in head):
        return None, "a text file"
    return None, f"a file of unknown type (it starts with {head[:8].hex(' ')})"


def _split_name(name: str) -> tuple[str, str | None]:
    """``name`` without its archive suffix, and the kind of archive that suffix claims (None for another name)."""
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], {".zip": "zip", ".rar": "rar"}.get(suffix, "tar")
    return name, None


def _wrong_content(path: Path, claimed: str | None) -> str | None:
    """None when ``path`` holds the kind of archive its name claims (or claims none), else what it holds."""
    if claimed is None:
        return None
    kind, description = _sniff(path)
    return None if kind == claimed else description


def _mismatch(path: Path, expected_size: int | None, sha256: str | None = None, name=None) -> str | None:
    """What is wrong with ``path``'s size or checksum, said of ``name`` (the file asked for; default ``path``)."""
    size, name = path.stat().st_size, name or path
    if expected_size is not None and size != expected_size:
        return f"{name} has {size} bytes, not the expected {expected_size}"
    if sha256 is not None:
        with path.open("rb") as handle:
            if hashlib.file_digest(handle, "sha256").hexdigest() != sha256.lower():
                return f"{name}: SHA-256 checksum does not match"
    return None


def _check_url(url: str) -> None:
    try:
        parts = urllib.parse.urlparse(url)
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError as error:  # "Invalid IPv6 URL", a port that is not a number
        raise DownloadError(f"not a valid URL: {url!r} ({one_line(error)})") from None
    if re.search(r"[\x00-\x20\x7f]", url) or parts.scheme not in ("http", "https") or not parts.netloc:
        raise DownloadError(
            f"not a valid URL: {url!r}: only http:// and https:// URLs are downloaded; {LOCAL_ARCHIVE_HINT}"
        )


class _BadContentRange(DownloadError):
    """The server answered with a Content-Range that does not fit the request: the .part cannot be trusted."""


def _total_from_headers(response, offset: int) -> int | None:
    """The full size of the file the server is sending, from Content-Range or Content-Length."""
    content_range = response.headers.get("Content-Range")
    if content_range:
        match = re.match(r"bytes (\d+)-\d+/(\d+)", content_range)
        if not match:
            raise _BadContentRange(f"the server sent a Content-Range we cannot read: {content_range!r}")
        if int(match.group(1)) != offset:
            raise _BadContentRange(f"the server resumed at byte {match.group(1)}, not at {offset}")
        return int(match.group(2))
    length = response.headers.get("Content-Length")
    return int(length) + offset if length and length.isdigit() else None  # a size we cannot read is unknown


def _open_url(url: str, offset: int, timeout: float):
    """The server's response for ``url`` from byte ``offset`` on, or None when it has nothing left to send."""
    request = urllib.request.Request(url, headers={"User-Agent": "har-course"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            return None  # the .part may be complete already; the caller's checks decide
        raise DownloadError(f"{url}: the server answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise DownloadError(f"cannot reach {url}: {getattr(error, 'reason', error)}") from None
    except ValueError as error:
        raise DownloadError(f"not a valid URL: {url} ({one_line(error)})") from None


def _fetch(url: str, part: Path, *, name: str, expected_size: int | None, timeout: float, progress: bool) -> int | None:
    """Append what the server sends to ``part`` (resuming at its size); return the full size announced."""
    from tqdm.auto import tqdm

    offset = part.stat().st_size if part.exists() else 0
    response = _open_url(url, offset, timeout)
    if response is None:
        return offset
    with response:
        if offset and response.status != 206:
            _say("The server does not resume downloads; starting again from the beginning", progress)
            offset = 0
        total = _total_from_headers(response, offset)
        if expected_size is not None and total is not None and total != expected_size:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{url}: the server offers {total} bytes, but {expected_size} were expected")
        if offset:
            _say(f"Resuming {name} at {offset / 2**20:.1f} MiB", progress)
        try:
            with (
                part.open("ab" if offset else "wb") as handle,
                tqdm.wrapattr(handle, "write", total=total, initial=offset, desc=name, disable=not progress) as out,
            ):
                shutil.copyfileobj(response, out, CHUNK)
        except (OSError, http.client.HTTPException) as error:
            raise DownloadError(
                f"download of {name} interrupted at {part.stat().st_size} of {total or '?'} bytes "
                f"({one_line(error)}); run the same command again to resume"
            ) from None
    return total


def _fetch_restarting_once(url: str, part: Path, **options) -> int | None:
    """``_fetch``, which starts again from byte 0, once, when the .part does not fit what the server sends (the
    .part is deleted: kept, it would repeat the error on every run)."""
    try:
        return _fetch(url, part, **options)
    except _BadContentRange as error:
        resumed = part.exists() and part.stat().st_size > 0
        part.unlink(missing_ok=True)
        if not resumed:
            raise DownloadError(f"{url}: {error}") from None
        _say(f"{error}; deleted {part.name}, starting again from the beginning", options["progress"])
    try:
        return _fetch(url, part, **options)
    except _BadContentRange as again:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{url}: {again}, even when asked for the whole file") from None


def download_file(
    url: str,
    dest: str | os.PathLike,
    *,
    expected_size: int | None = None,
    sha256: str | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download the http(s) ``url`` to the file ``dest`` with a progress bar, resuming an interrupted download.

    ``dest`` gets its bytes only once their size matches what the server announced (and ``expected_size`` /
    ``sha256`` when given) and, when ``dest`` is named like an archive (``.rar``, ``.tar.gz`` ...), once they start
    with that format's signature; a failure deletes the ``.part``, except an interrupted download. An existing
    ``dest`` is not downloaded again, unless it is not the archive its name claims.
    """
    dest = Path(dest)
    _check_url(url)
    claimed = _split_name(dest.name)[1]
    if dest.exists():
        if what := _wrong_content(dest, claimed):
            _say(f"{dest} is {what}, not a {claimed} archive: deleting it and downloading again", progress)
            dest.unlink()
        elif problem := _mismatch(dest, expected_size):
            raise DownloadError(f"{problem}: delete it and run again")
        else:
            _say(f"{dest} is already downloaded", progress)
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    options = {"name": dest.name, "expected_size": expected_size, "timeout": timeout, "progress": progress}
    total = _fetch_restarting_once(url, part, **options)
    if total is not None and part.stat().st_size < total:
        raise DownloadError(
            f"download of {dest.name} interrupted at {part.stat().st_size} of {total} bytes; "
            "run the same command again to resume"
        )
    if what := _wrong_content(part, claimed):
        problem = f"{url}: got {what}, not a {claimed} archive: the server may need a login or the URL is wrong"
    else:
        problem = _mismatch(part, total if expected_size is None else expected_size, sha256, dest)
    if problem:
        part.unlink()
        raise DownloadError(f"{problem} (the download was deleted)")
    os.replace(part, dest)
    return dest


class _DamagedArchive(ArchiveError):
    """An archive whose content cannot be read: a truncated or corrupt download (not a missing unpacking tool)."""


@contextlib.contextmanager
def _reading(archive: Path, kind: str):
    """Turn what the archive libraries raise while reading ``archive`` into a one-line ``ArchiveError``."""
    try:
        yield
    except rarfile.RarCannotExec:
        raise ArchiveError(f"{archive}: no tool to unpack compressed RAR entries; {RAR_TOOLS_HINT}") from None
    except (zipfile.BadZipFile, tarfile.TarError, rarfile.Error, EOFError) as error:
        raise _DamagedArchive(f"{archive}: not a valid {kind} archive or damaged ({one_line(error)})") from None


def _open_archive(archive: Path, kind: str):
    return {"zip": zipfile.ZipFile, "tar": tarfile.open, "rar": rarfile.RarFile}[kind](archive)


def _entry_parts(name: str) -> tuple[str, ...]:
    """An entry's path components, with ``\\`` as a separator and ``.`` components (``./UCF50/...``) dropped."""
    return PurePosixPath(name.replace("\\", "/")).parts


def _kind_and_tops(archive: Path) -> tuple[str, list[str]]:
    """How ``archive`` unpacks and its top-level entries, every entry checked first (see ``extract_archive``)."""
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such archive")
    kind, description = _sniff(archive)
    if kind is None:
        claimed = _split_name(archive.name)[1]
        wanted = f"a {claimed} archive" if claimed else "a supported archive (zip, rar, tar, tar.gz, tar.bz2, tar.xz)"
        raise ArchiveError(f"{archive}: {description}, not {wanted}")
    with _reading(archive, kind), _open_archive(archive, kind) as opened:
        if kind == "tar":
            members = opened.getmembers()
            names = [member.name for member in members]
            links = [str(PurePosixPath(m.name).parent / m.linkname) for m in members if m.issym() or m.islnk()]
        else:
            names, links = opened.namelist(), []
    for name in names + links:
        parts = _entry_parts(name)
        if (parts and parts[0] == "/") or ".." in parts or re.match(r"^[A-Za-z]:", name):
            raise ArchiveError(f"{archive}: refusing to unpack: entry {name!r} would land outside the target folder")
    tops = sorted({parts[0] for name in names if (parts := _entry_parts(name))})
    if not tops:
        raise _DamagedArchive(f"{archive}: the archive holds no files (empty or damaged)")
    return kind, tops


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike, *, progress: bool = True) -> list[Path]:
    """Unpack a ``.rar``, ``.zip`` or ``.tar[.gz|.bz2|.xz]`` archive into ``dest``; return the top-level paths.

    The kind of archive comes from the file's content (its magic bytes), not its name. Every entry is checked
    before anything is written: one that would land outside ``dest`` (``../``, absolute paths, links pointing out)
    refuses the whole archive; a failure leaves nothing behind (see the module docstring). RAR archives need an
    unpacking tool for compressed entries (the error says which). The archive itself is left as it is.
    """
    archive, dest = Path(archive), Path(dest)
    kind, tops = _kind_and_tops(archive)
    clashes = [top for top in tops if (dest / top).exists()]
    if clashes:
        raise ArchiveError(f"{archive}: {dest / clashes[0]} already exists; remove it to unpack again")
    dest.mkdir(parents=True, exist_ok=True)
    _say(f"Unpacking {archive.name} into {dest} ...", progress)
    with tempfile.TemporaryDirectory(prefix=".unpack-", dir=dest) as tmp:
        with _reading(archive, kind), _open_archive(archive, kind) as opened:
            if kind == "tar":
                opened.extractall(tmp, filter="data")
            else:
                opened.extractall(tmp)
        for top in tops:
            os.replace(Path(tmp) / top, dest / top)
    return [dest / top for top in tops]


def _unpacked(target: Path, progress: bool) -> bool:
    if target.is_dir() and any(target.iterdir()):
        _say(f"{target} is already unpacked; nothing to do", progress)
        return True
    return False


def _dataset_folder(archive: Path, dest: Path) -> Path:
    """Where ``archive`` unpacks in ``dest``: the one folder at its top, whatever the archive is called."""
    tops = _kind_and_tops(archive)[1]
    if len(tops) != 1:
        shown = ", ".join(tops[:3]) + (", ..." if len(tops) > 3 else "")
        raise ArchiveError(f"{archive}: holds {shown} at its top, not one folder of class folders such as UCF50/")
    return dest / tops[0]


def fetch_ucf50(
    dest: str | os.PathLike = "data",
    *,
    url: str = UCF50_URL,
    archive: str | os.PathLike | None = None,
    expected_size: int | None = None,
    sha256: str | None = None,
    keep_archive: bool = False,
    progress: bool = True,
) -> Path:
    """Download and unpack UCF50 (``python -m har download``) so that its class folders are in ``dest/UCF50``.

    Does nothing when ``dest/UCF50`` already exists. The archive is named after ``url`` (mirrors and tests pass
    another URL) and deleted once unpacked unless ``keep_archive`` (on Colab's Drive, the archive next to the
    unpacked tree fills it). ``archive=PATH`` unpacks an archive already on this machine, and never deletes it.
    """
    dest = Path(dest)
    if archive is None:
        name = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)).name or "UCF50.rar"
    else:
        name = Path(archive).name
    if _unpacked(dest / _split_name(name)[0], progress):  # before any download: the name says where it unpacks
        return dest / _split_name(name)[0]
    if archive is None:
        source = download_file(url, dest / name, expected_size=expected_size, sha256=sha256, progress=progress)
    else:
        source = Path(archive)
        if not source.is_file():
            raise ArchiveError(f"{source}: no such archive")
        if problem := _mismatch(source, expected_size, sha256):
            raise ArchiveError(problem)
    try:
        target = _dataset_folder(source, dest)
        if _unpacked(target, progress):
            return target
        extract_archive(source, dest, progress=progress)
    except _DamagedArchive as error:
        if archive is not None:  # the user's own file: never deleted
            raise
        source.unlink(missing_ok=True)  # kept, it would be "already downloaded" and fail the same way every time
        raise ArchiveError(f"{error}; the download was deleted: run the same command again") from None
    if not target.is_dir():
        raise ArchiveError(f"{source}: holds a file {target.name}, not a folder of class folders such as UCF50/")
    if archive is None and not keep_archive:
        source.unlink()
        _say(f"Deleted {source} (unpacked; pass --keep-archive / keep_archive=True to keep it)", progress)
    _say(f"UCF50 is ready in {target}", progress)
    return target
