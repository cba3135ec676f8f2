"""Fetching datasets: a resumable HTTP download and safe unpacking of RAR, zip and tar archives.

``fetch_ucf50`` is what ``python -m har download`` runs: download ``UCF50.rar`` (about 6.6 GB) into
``data/``, then unpack it to ``data/UCF50/``. Nothing half-done is ever left under a final name: the
download goes to ``<name>.part`` (kept, so that running again resumes it with an HTTP Range request) and
is renamed when complete and verified; archives unpack into a temporary folder that is moved into place
only when every entry has been written.
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
from har.errors import ArchiveError, DownloadError

CHUNK = 1 << 20
ARCHIVE_SUFFIXES = (".zip", ".rar", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
RAR_TOOLS_HINT = (
    "install one of: unrar (Colab has it; Debian/Ubuntu: apt-get install unrar-free), "
    "unar (apt-get install unar), bsdtar (apt-get install libarchive-tools) or 7z (apt-get install 7zip)"
)


def _say(message: str, progress: bool) -> None:
    if progress:
        print(message)


def _total_from_headers(response, offset: int) -> int | None:
    """The full size of the file the server is sending, from Content-Range or Content-Length."""
    content_range = response.headers.get("Content-Range")
    if content_range:
        match = re.match(r"bytes (\d+)-\d+/(\d+)", content_range)
        if not match:
            raise DownloadError(f"the server sent a Content-Range we cannot read: {content_range!r}")
        if int(match.group(1)) != offset:
            raise DownloadError(f"the server resumed at byte {match.group(1)}, not at {offset}")
        return int(match.group(2))
    length = response.headers.get("Content-Length")
    return int(length) + offset if length is not None else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(
    url: str,
    dest: str | os.PathLike,
    *,
    expected_size: int | None = None,
    sha256: str | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to the file ``dest`` with a progress bar, resuming an earlier interrupted download.

    Bytes go to ``dest + '.part'``; the file gets its final name only once its size matches what the
    server announced (and ``expected_size`` / ``sha256`` when given). An interrupted download keeps its
    ``.part`` and raises ``DownloadError`` saying to run again; a wrong size or checksum deletes it.
    If ``dest`` already exists (and has ``expected_size`` when given), nothing is downloaded.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    if dest.exists():
        if expected_size is not None and dest.stat().st_size != expected_size:
            raise DownloadError(
                f"{dest} exists but has {dest.stat().st_size} bytes, not {expected_size}: delete it and run again"
            )
        _say(f"{dest} is already downloaded", progress)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0

    if urllib.parse.urlparse(url).scheme not in ("http", "https", "ftp", "file"):
        raise DownloadError(f"not a valid URL: {url!r} (expected http:// or https://)")
    request = urllib.request.Request(url, headers={"User-Agent": "har-course"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            # Nothing left to send: the .part may be complete already; the checks below decide.
            response, total = None, offset
        else:
            raise DownloadError(f"{url}: the server answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"cannot reach {url}: {reason}") from None
    except ValueError as error:
        raise DownloadError(f"not a valid URL: {url} ({error})") from None

    if response is not None:
        with response:
            if offset and response.status != 206:
                _say("The server does not resume downloads; starting again from the beginning", progress)
                offset = 0
            total = _total_from_headers(response, offset)
            if expected_size is not None and total is not None and total != expected_size:
                part.unlink(missing_ok=True)
                raise DownloadError(f"{url}: the server offers {total} bytes, but {expected_size} were expected")
            if offset:
                _say(f"Resuming {dest.name} at {offset / 2**20:.1f} MiB", progress)
            bar = tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=dest.name, disable=not progress,
            )  # fmt: skip
            try:
                with part.open("ab" if offset else "wb") as handle:
                    while block := response.read(CHUNK):
                        handle.write(block)
                        bar.update(len(block))
            except (OSError, http.client.HTTPException) as error:
                got = part.stat().st_size
                raise DownloadError(
                    f"download of {dest.name} interrupted at {got} of {total or '?'} bytes ({error}); "
                    "run the same command again to resume"
                ) from None
            finally:
                bar.close()

    size = part.stat().st_size if part.exists() else 0
    if total is not None and size < total:
        raise DownloadError(
            f"download of {dest.name} interrupted at {size} of {total} bytes; run the same command again to resume"
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
    name = path.name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            return {"zip": "zip", "rar": "rar"}.get(suffix.lstrip("."), "tar")
    raise ArchiveError(f"{path}: unsupported archive type (use one of {', '.join(ARCHIVE_SUFFIXES)})")


def _check_member(name: str, archive: Path) -> None:
    """Refuse an entry whose path would land outside the folder it is unpacked into."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or re.match(r"^[A-Za-z]:", name):
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

    Every entry is checked before anything is written: one that would land outside ``dest`` (``../``,
    absolute paths, links pointing out) refuses the whole archive. Entries unpack into a temporary folder
    inside ``dest`` that is moved into place only when complete, so a failure leaves nothing behind.
    RAR archives need an unpacking tool on the machine for compressed entries (the error says which).
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such archive")
    kind = _archive_kind(archive)
    import rarfile

    try:
        names = _member_names(archive, kind)
        if not names:
            raise ArchiveError(f"{archive}: the archive holds no files (empty or damaged)")
        for name in names:
            _check_member(name, archive)
        tops = sorted({PurePosixPath(n.replace("\\", "/")).parts[0] for n in names if n.strip("/")})
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
        raise ArchiveError(f"{archive}: not a valid {kind} archive or damaged ({error})") from None
    return [dest / top for top in tops]


def fetch_ucf50(
    dest: str | os.PathLike = "data",
    *,
    url: str = UCF50_URL,
    expected_size: int | None = None,
    sha256: str | None = None,
    keep_archive: bool = True,
    progress: bool = True,
) -> Path:
    """Download and unpack UCF50 so that its class folders are in ``dest/UCF50``; return that folder.

    Does nothing when ``dest/UCF50`` already exists. The archive name is taken from ``url`` (mirrors and
    tests pass another URL); ``keep_archive=False`` deletes the archive after unpacking.
    """
    dest = Path(dest)
    name = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)).name or "UCF50.rar"
    stem = name
    for suffix in ARCHIVE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    target = dest / stem
    if target.is_dir() and any(target.iterdir()):
        _say(f"{target} is already unpacked; nothing to do", progress)
        return target
    archive = download_file(url, dest / name, expected_size=expected_size, sha256=sha256, progress=progress)
    extract_archive(archive, dest, progress=progress)
    if not target.is_dir():
        raise ArchiveError(f"{archive}: unpacked, but it holds no top-level folder {stem}/")
    if not keep_archive:
        archive.unlink()
    _say(f"UCF50 is ready in {target}", progress)
    return target
