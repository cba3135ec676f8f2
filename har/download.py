"""Fetching datasets: a resumable HTTP download and safe unpacking of RAR, zip and tar archives.

``fetch_ucf50`` is what ``python -m har download`` runs: download ``UCF50.rar`` (about 6.6 GB) into
``data/``, unpack it to ``data/UCF50/``, then delete the archive (``keep_archive=True`` keeps it);
``fetch_ucf50(archive=PATH)`` unpacks an archive you already have instead. Nothing half-done or bad is ever
left under a final name: the download goes to ``<name>.part`` (kept, so that running again resumes it with
an HTTP Range request) and is renamed only when its size and its format's signature (magic bytes) check
out; archives unpack into a temporary folder that is moved into place only when every entry has been written.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from har import UCF50_URL
from har.errors import ArchiveError, DownloadError, one_line

CHUNK = 1 << 20
ARCHIVE_SUFFIXES = (".zip", ".rar", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
# What a file's first bytes say it is: (offset, magic bytes, how it unpacks, what it is).
SIGNATURES = (
    (0, b"PK\x03\x04", "zip", "a zip archive"),
    (0, b"PK\x05\x06", "zip", "an empty zip archive"),
    (0, b"Rar!\x1a\x07\x00", "rar", "a rar archive"),
    (0, b"Rar!\x1a\x07\x01\x00", "rar", "a rar archive"),
    (0, b"\x1f\x8b", "tar", "a gzip file"),
    (0, b"BZh", "tar", "a bzip2 file"),
    (0, b"\xfd7zXZ\x00", "tar", "an xz file"),
    (257, b"ustar", "tar", "a tar archive"),
)
RAR_TOOLS_HINT = (
    "install one of: unrar (Colab has it; Debian/Ubuntu: apt-get install unrar-free), "
    "unar (apt-get install unar), bsdtar (apt-get install libarchive-tools) or 7z (apt-get install 7zip)"
)
LOCAL_ARCHIVE_HINT = "for an archive already on this machine use --archive PATH (or fetch_ucf50(archive=PATH))"


def _say(message: str, progress: bool) -> None:
    if progress:
        print(message)


def _describe(head: bytes) -> str:
    """What the first bytes of a file that is no supported archive look like, for an error message."""
    if not head:
        return "an empty file"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "a 7z archive (not supported: unpack it yourself or repack it as zip or tar)"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text:
        return "an HTML page"
    if text.startswith(b"<?xml"):
        return "an XML document"
    if all(byte >= 0x20 or byte in b"\t\r\n" for byte in head):
        return "a text file"
    return f"a file of unknown type (it starts with {head[:8].hex(' ')})"


def _sniff(path: Path) -> tuple[str | None, str]:
    """How ``path`` unpacks according to its content ("zip", "rar", "tar" or None) and what it looks like."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    for offset, magic, kind, description in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind, description
    return None, _describe(head)


def _kind_from_name(path: Path) -> str | None:
    """The archive kind that ``path``'s name claims ("zip", "rar", "tar"), or None for another name."""
    name = path.name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            return {".zip": "zip", ".rar": "rar"}.get(suffix, "tar")
    return None


def _wrong_content(path: Path, claimed: str | None) -> str | None:
    """None when ``path`` holds the kind of archive its name claims (or claims none), else what it holds."""
    if claimed is None:
        return None
    kind, description = _sniff(path)
    return None if kind == claimed else description


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url: str, part: Path, *, name: str, expected_size: int | None, timeout: float, progress: bool) -> int | None:
    """Append what the server sends to ``part`` (resuming at its size); return the full size announced."""
    from tqdm.auto import tqdm

    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "har-course"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            return offset  # nothing left to send: the .part may be complete already; the caller's checks decide
        raise DownloadError(f"{url}: the server answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"cannot reach {url}: {reason}") from None
    except ValueError as error:
        raise DownloadError(f"not a valid URL: {url} ({one_line(error)})") from None
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
        bar = tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=name, disable=not progress,
        )  # fmt: skip
        try:
            with part.open("ab" if offset else "wb") as handle:
                while block := response.read(CHUNK):
                    handle.write(block)
                    bar.update(len(block))
        except (OSError, http.client.HTTPException) as error:
            got = part.stat().st_size
            raise DownloadError(
                f"download of {name} interrupted at {got} of {total or '?'} bytes ({one_line(error)}); "
                "run the same command again to resume"
            ) from None
        finally:
            bar.close()
    return total


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

    Bytes go to ``dest + '.part'``; the file gets its final name only once its size matches what the
    server announced (and ``expected_size`` / ``sha256`` when given) and, when ``dest`` is named like an
    archive (``.rar``, ``.zip``, ``.tar.gz`` ...), once it starts with that format's signature. An
    interrupted download keeps its ``.part`` and raises ``DownloadError`` saying to run again; anything
    else that fails deletes it (an answer with a Content-Range that does not fit the request first restarts
    the download from byte 0, once). If ``dest`` already exists (and has ``expected_size`` when given),
    nothing is downloaded, unless its content is not the archive its name claims: then it is deleted and
    downloaded again.
    """
    dest = Path(dest)
    try:
        parts = urllib.parse.urlparse(url)
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError as error:  # "Invalid IPv6 URL", a port that is not a number
        raise DownloadError(f"not a valid URL: {url!r} ({one_line(error)})") from None
    if re.search(r"[\x00-\x20\x7f]", url) or parts.scheme not in ("http", "https") or not parts.netloc:
        raise DownloadError(
            f"not a valid URL: {url!r}: only http:// and https:// URLs are downloaded; {LOCAL_ARCHIVE_HINT}"
        )
    claimed = _kind_from_name(dest)
    if dest.exists():
        if what := _wrong_content(dest, claimed):
            _say(f"{dest} is {what}, not a {claimed} archive: deleting it and downloading again", progress)
            dest.unlink()
        else:
            if expected_size is not None and dest.stat().st_size != expected_size:
                raise DownloadError(
                    f"{dest} exists but has {dest.stat().st_size} bytes, not {expected_size}: delete it and run again"
                )
            _say(f"{dest} is already downloaded", progress)
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    options = {"name": dest.name, "expected_size": expected_size, "timeout": timeout, "progress": progress}
    try:
        total = _fetch(url, part, **options)
    except _BadContentRange as error:
        # The .part does not fit what the server sends: kept, it would repeat this error on every run.
        resumed = part.exists() and part.stat().st_size > 0
        part.unlink(missing_ok=True)
        if not resumed:
            raise DownloadError(f"{url}: {error}") from None
        _say(f"{error}; deleted {part.name}, starting again from the beginning", progress)
        try:
            total = _fetch(url, part, **options)
        except _BadContentRange as again:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{url}: {again}, even when asked for the whole file") from None
    size = part.stat().st_size if part.exists() else 0
    if total is not None and size < total:
        raise DownloadError(
            f"download of {dest.name} interrupted at {size} of {total} bytes; run the same command again to resume"
        )
    if what := _wrong_content(part, claimed):
        part.unlink()
        raise DownloadError(
            f"{url}: got {what}, not a {claimed} archive: the server may need a login or the URL is wrong "
            "(the download was deleted)"
        )
    if (total is not None and size > total) or (expected_size is not None and size != expected_size):
        part.unlink(missing_ok=True)
        want = expected_size if expected_size is not None else total
        raise DownloadError(f"{dest.name}: got {size} bytes, expected {want}; the partial file was deleted")
    if sha256 is not None and _sha256(part) != sha256.lower():
        part.unlink(missing_ok=True)
        raise DownloadError(f"{dest.name}: SHA-256 checksum does not match; the partial file was deleted")
    os.replace(part, dest)
    return dest


def _archive_kind(path: Path) -> str:
    """How ``path`` unpacks, from its content (its magic bytes), whatever its name says."""
    kind, description = _sniff(path)
    if kind is None:
        claimed = _kind_from_name(path)
        wanted = f"a {claimed} archive" if claimed else "a supported archive (zip, rar, tar, tar.gz, tar.bz2, tar.xz)"
        raise ArchiveError(f"{path}: {description}, not {wanted}")
    return kind


def _entry_parts(name: str) -> tuple[str, ...]:
    """An entry's path components, with ``\\`` as a separator and ``.`` components (``./UCF50/...``) dropped."""
    return PurePosixPath(name.replace("\\", "/")).parts


def _check_member(name: str, archive: Path) -> None:
    """Refuse an entry whose path would land outside the folder it is unpacked into."""
    parts = _entry_parts(name)
    if (parts and parts[0] == "/") or ".." in parts or re.match(r"^[A-Za-z]:", name):
        raise ArchiveError(f"{archive}: refusing to unpack: entry {name!r} would land outside the target folder")


def _member_names(archive: Path, kind: str) -> list[str]:
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            return zf.namelist()
    if kind == "tar":
        with tarfile.open(archive) as tf:
            names = []
            for member in tf.getmembers():
                names.append(member.name)
                if member.issym() or member.islnk():
                    _check_member(str(PurePosixPath(member.name).parent / member.linkname), archive)
            return names
    import rarfile

    with rarfile.RarFile(archive) as rf:
        return rf.namelist()


def _unpack_into(archive: Path, kind: str, target: Path) -> None:
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)
    elif kind == "tar":
        with tarfile.open(archive) as tf:
            tf.extractall(target, filter="data")
    else:
        import rarfile

        with rarfile.RarFile(archive) as rf:
            rf.extractall(target)


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike, *, progress: bool = True) -> list[Path]:
    """Unpack a ``.rar``, ``.zip`` or ``.tar[.gz|.bz2|.xz]`` archive into ``dest``; return the top-level paths.

    The kind of archive comes from the file's content (its magic bytes), not its name: a zip named
    ``.tar.gz`` unpacks as zip, and a file that is no supported archive (an HTML page, say) is refused
    saying what it looks like. Every entry is checked before anything is written: one that would land
    outside ``dest`` (``../``, absolute paths, links pointing out) refuses the whole archive; ``./`` in
    entry names (``tar czf X.tar.gz -C dir .``) is ignored. Entries unpack into a temporary folder inside
    ``dest`` that is moved into place only when complete, so a failure leaves nothing behind. RAR archives
    need an unpacking tool on the machine for compressed entries (the error says which). The archive
    itself is left as it is.
    """
    archive, dest = Path(archive), Path(dest)
    kind, tops = _kind_and_tops(archive)
    import rarfile

    try:
        clashes = [t for t in tops if (dest / t).exists()]
        if clashes:
            raise ArchiveError(f"{archive}: {dest / clashes[0]} already exists; remove it to unpack again")
        dest.mkdir(parents=True, exist_ok=True)
        _say(f"Unpacking {archive.name} into {dest} ...", progress)
        with tempfile.TemporaryDirectory(prefix=".unpack-", dir=dest) as tmp:
            _unpack_into(archive, kind, Path(tmp))
            for top in tops:
                os.replace(Path(tmp) / top, dest / top)
    except rarfile.RarCannotExec:
        raise ArchiveError(f"{archive}: no tool to unpack compressed RAR entries; {RAR_TOOLS_HINT}") from None
    except (zipfile.BadZipFile, tarfile.TarError, rarfile.Error, EOFError) as error:
        raise _DamagedArchive(f"{archive}: not a valid {kind} archive or damaged ({one_line(error)})") from None
    return [dest / top for top in tops]


class _DamagedArchive(ArchiveError):
    """An archive whose content cannot be read: a truncated or corrupt download (not a missing unpacking tool)."""


def _kind_and_tops(archive: Path) -> tuple[str, list[str]]:
    """How ``archive`` unpacks and its top-level entries, every entry checked first (see ``extract_archive``)."""
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such archive")
    kind = _archive_kind(archive)
    import rarfile

    try:
        names = _member_names(archive, kind)
    except (zipfile.BadZipFile, tarfile.TarError, rarfile.Error, EOFError) as error:
        raise _DamagedArchive(f"{archive}: not a valid {kind} archive or damaged ({one_line(error)})") from None
    for name in names:
        _check_member(name, archive)
    tops = sorted({parts[0] for name in names if (parts := _entry_parts(name))})
    if not tops:
        raise _DamagedArchive(f"{archive}: the archive holds no files (empty or damaged)")
    return kind, tops


def _check_local_archive(path: Path, expected_size: int | None, sha256: str | None) -> None:
    """Refuse a local archive that is missing or has another size or checksum than expected."""
    if not path.is_file():
        raise ArchiveError(f"{path}: no such archive")
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise ArchiveError(f"{path} has {size} bytes, not the expected {expected_size}")
    if sha256 is not None and _sha256(path) != sha256.lower():
        raise ArchiveError(f"{path}: SHA-256 checksum does not match")


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
    """Download and unpack UCF50 so that its class folders are in ``dest/UCF50``; return that folder.

    Does nothing when ``dest/UCF50`` already exists. The archive name is taken from ``url`` (mirrors and
    tests pass another URL); only http(s) URLs are downloaded. The downloaded archive is deleted after a
    verified unpack unless ``keep_archive`` is true (on Colab's Drive, a 6.6 GB archive next to the unpacked
    tree fills it). ``archive=PATH`` unpacks an archive already on this machine instead of downloading one
    (checked against ``expected_size`` / ``sha256`` when given); that archive is never deleted.
    """
    dest = Path(dest)
    if archive is not None:
        name = Path(archive).name
    else:
        name = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)).name or "UCF50.rar"
    stem = name
    for suffix in ARCHIVE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if _unpacked(dest / stem, progress):  # before any download: the name says where it would unpack
        return dest / stem
    if archive is not None:
        source = Path(archive)
        _check_local_archive(source, expected_size, sha256)
    else:
        source = download_file(url, dest / name, expected_size=expected_size, sha256=sha256, progress=progress)
    try:
        _, tops = _kind_and_tops(source)  # the folder it holds, whatever the archive is called
        if len(tops) != 1:
            shown = ", ".join(tops[:3]) + (", ..." if len(tops) > 3 else "")
            raise ArchiveError(f"{source}: holds {shown} at its top, not one folder of class folders such as UCF50/")
        target = dest / tops[0]
        if _unpacked(target, progress):
            return target
        extract_archive(source, dest, progress=progress)
        if not target.is_dir():
            raise ArchiveError(f"{source}: holds a file {tops[0]}, not a folder of class folders such as UCF50/")
    except _DamagedArchive as error:
        if archive is not None:  # the user's own file: never deleted
            raise
        source.unlink(missing_ok=True)  # kept, it would be "already downloaded" and fail the same way every time
        raise ArchiveError(
            f"{error}; the download was deleted: run the same command again to download it again"
        ) from None
    if archive is None and not keep_archive:
        source.unlink()
        _say(f"Deleted {source} (unpacked; pass --keep-archive / keep_archive=True to keep it)", progress)
    _say(f"UCF50 is ready in {target}", progress)
    return target


def _unpacked(target: Path, progress: bool) -> bool:
    """True (and says so) when ``target`` is a folder with something in it: the dataset is unpacked already."""
    if target.is_dir() and any(target.iterdir()):
        _say(f"{target} is already unpacked; nothing to do", progress)
        return True
    return False
