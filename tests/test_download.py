import gzip
import hashlib
import io
import os
import re
import socket
import tarfile
import zipfile

import pytest
import rarfile
from conftest import error_lines, run_cli
from media import FileServer, make_rar

from har.dataset import build_dataset
from har.download import download_file, extract_archive, fetch_ucf50
from har.errors import ArchiveError, DownloadError

PAYLOAD = b"Rar!\x1a\x07\x00" + os.urandom(3 * 2**20 + 12345)  # a RAR signature, then several 1 MiB chunks
HTML = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please log in.</body></html>\n"


@pytest.fixture
def server():
    with FileServer() as srv:
        srv.files["/UCF50.rar"] = PAYLOAD
        yield srv


def test_full_download(tmp_path, server):
    out = download_file(server.url("/UCF50.rar"), tmp_path / "UCF50.rar", progress=False)
    assert out.read_bytes() == PAYLOAD
    assert not (tmp_path / "UCF50.rar.part").exists()


def test_interrupted_download_keeps_part_and_resumes_with_range(tmp_path, server):
    server.cut_after["/UCF50.rar"] = 1_500_000
    dest = tmp_path / "UCF50.rar"
    with pytest.raises(DownloadError, match=r"interrupted at 1500000 of .*run the same command again to resume"):
        download_file(server.url("/UCF50.rar"), dest, progress=False)
    assert not dest.exists() and (tmp_path / "UCF50.rar.part").stat().st_size == 1_500_000
    download_file(server.url("/UCF50.rar"), dest, expected_size=len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/UCF50.rar", "bytes=1500000-")


def test_server_without_range_support_restarts_cleanly(tmp_path, server):
    server.ranges = False
    (tmp_path / "UCF50.rar.part").write_bytes(PAYLOAD[:1000])
    download_file(server.url("/UCF50.rar"), tmp_path / "UCF50.rar", progress=False)
    assert (tmp_path / "UCF50.rar").read_bytes() == PAYLOAD


def test_part_that_is_already_complete_is_finished_without_download(tmp_path, server):
    (tmp_path / "UCF50.rar.part").write_bytes(PAYLOAD)
    download_file(server.url("/UCF50.rar"), tmp_path / "UCF50.rar", progress=False)
    assert (tmp_path / "UCF50.rar").read_bytes() == PAYLOAD


def test_size_mismatch_is_refused_and_leaves_nothing(tmp_path, server):
    with pytest.raises(DownloadError, match=r"offers .* bytes, but 1000 were expected"):
        download_file(server.url("/UCF50.rar"), tmp_path / "UCF50.rar", expected_size=1000, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_checksum_is_verified(tmp_path, server):
    good = hashlib.sha256(PAYLOAD).hexdigest()
    download_file(server.url("/UCF50.rar"), tmp_path / "a.rar", sha256=good, progress=False)
    with pytest.raises(DownloadError, match="checksum does not match"):
        download_file(server.url("/UCF50.rar"), tmp_path / "b.rar", sha256="0" * 64, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.rar"]


def test_server_error_and_missing_file(tmp_path, server):
    server.status["/UCF50.rar"] = 500
    with pytest.raises(DownloadError, match="HTTP 500"):
        download_file(server.url("/UCF50.rar"), tmp_path / "x.rar", progress=False)
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(server.url("/nothing.rar"), tmp_path / "y.rar", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_host_and_bad_url(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    with pytest.raises(DownloadError, match="cannot reach"):
        download_file(f"http://127.0.0.1:{port}/UCF50.rar", tmp_path / "x.rar", progress=False)
    with pytest.raises(DownloadError, match="not a valid URL"):
        download_file("not a url at all", tmp_path / "y.rar", progress=False)


def test_existing_file_is_not_downloaded_again(tmp_path, server):
    (tmp_path / "UCF50.rar").write_bytes(PAYLOAD)
    download_file(server.url("/UCF50.rar"), tmp_path / "UCF50.rar", progress=False)
    assert server.requests == []


def test_html_page_instead_of_the_archive_is_refused_and_not_kept(tmp_path, server):
    server.files["/UCF50.rar"] = HTML
    server.content_type["/UCF50.rar"] = "text/html"
    for _ in range(2):  # the rerun asks the server again: nothing was kept that it could trust
        with pytest.raises(DownloadError) as caught:
            download_file(server.url("/UCF50.rar"), tmp_path / "UCF50.rar", progress=False)
        message = str(caught.value)
        assert "an HTML page, not a rar archive: the server may need a login or the URL is wrong" in message
        assert "\n" not in message
        assert list(tmp_path.iterdir()) == []
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "name, content",
    [
        ("UCF50.rar", b"Rar!\x1a\x07\x01\x00" + b"\x00" * 64),  # RAR 5
        ("UCF50.zip", b"PK\x03\x04" + b"\x00" * 64),
        ("UCF50.zip", b"PK\x05\x06" + b"\x00" * 18),  # an empty zip
        ("UCF50.tar.gz", gzip.compress(b"\x00" * 1024)),
        ("UCF50.tbz2", b"BZh9" + b"\x00" * 64),
        ("UCF50.tar.xz", b"\xfd7zXZ\x00" + b"\x00" * 64),
        ("UCF50.tar", b"\x00" * 257 + b"ustar\x0000" + b"\x00" * 250),
        ("notes.txt", b"any file whose name claims no archive format"),
    ],
    ids=["rar5", "zip", "empty-zip", "gzip", "bzip2", "xz", "tar", "not-an-archive-name"],
)
def test_downloads_with_their_formats_signature_get_their_final_name(tmp_path, server, name, content):
    server.files[f"/{name}"] = content
    assert download_file(server.url(f"/{name}"), tmp_path / name, progress=False).read_bytes() == content


@pytest.mark.parametrize(
    "content, looks_like",
    [
        (b"PK\x03\x04" + b"\x00" * 64, "a zip archive, not a rar archive"),
        (b"", "an empty file, not a rar archive"),
        (b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>', "an XML document, not a rar archive"),
        (bytes(range(256)), "a file of unknown type (it starts with 00 01 02 03 04 05 06 07), not a rar archive"),
    ],
    ids=["zip", "empty", "xml", "binary"],
)
def test_download_that_is_not_what_its_name_claims_is_deleted(tmp_path, server, content, looks_like):
    server.files["/UCF50.rar"] = content
    with pytest.raises(DownloadError, match=f"got {re.escape(looks_like)}: the server may need a login"):
        download_file(server.url("/UCF50.rar"), tmp_path / "UCF50.rar", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_that_is_not_the_archive_is_deleted_and_downloaded_again(tmp_path, server, capsys):
    dest = tmp_path / "UCF50.rar"
    dest.write_bytes(HTML)  # what an earlier version kept when the server sent a login page
    download_file(server.url("/UCF50.rar"), dest, progress=True)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == [("/UCF50.rar", None)]
    said = [line for line in capsys.readouterr().out.splitlines() if "HTML" in line]
    assert said == [f"{dest} is an HTML page, not a rar archive: deleting it and downloading again"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/UCF50.rar", "data/UCF50.rar"])
def test_only_http_and_https_urls_are_downloaded(tmp_path, url):
    with pytest.raises(DownloadError, match=r"only http:// and https:// URLs are downloaded; .*use --archive PATH"):
        download_file(url, tmp_path / "UCF50.rar", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_url_with_a_line_break_is_one_line_error(tmp_path, server):
    with pytest.raises(DownloadError, match="not a valid URL") as caught:
        download_file(server.url("/UCF50.rar") + "\nX-Injected: 1", tmp_path / "UCF50.rar", progress=False)
    assert "\n" not in str(caught.value) and server.requests == []


@pytest.mark.parametrize("bad", ["bytes 2000-{last}/{size}", "bytes ???"], ids=["other-start", "malformed"])
def test_bad_content_range_deletes_the_part_and_starts_over_once(tmp_path, server, bad):
    part = tmp_path / "UCF50.rar.part"
    part.write_bytes(PAYLOAD[:1000])
    server.content_range["/UCF50.rar"] = [bad.format(last=len(PAYLOAD) - 1, size=len(PAYLOAD))]
    download_file(server.url("/UCF50.rar"), tmp_path / "UCF50.rar", progress=False)
    assert (tmp_path / "UCF50.rar").read_bytes() == PAYLOAD and not part.exists()
    assert server.requests == [("/UCF50.rar", "bytes=1000-"), ("/UCF50.rar", None)]  # the retry asks for it all


def test_bad_content_range_twice_is_one_error_and_leaves_nothing_to_repeat_it(tmp_path, server):
    (tmp_path / "UCF50.rar.part").write_bytes(PAYLOAD[:1000])
    size = len(PAYLOAD)
    server.content_range["/UCF50.rar"] = [f"bytes 2000-{size - 1}/{size}", f"bytes 7-{size - 1}/{size}"]
    with pytest.raises(DownloadError, match="resumed at byte 7, not at 0, even when asked for the whole file") as e:
        download_file(server.url("/UCF50.rar"), tmp_path / "UCF50.rar", progress=False)
    assert "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []
    download_file(server.url("/UCF50.rar"), tmp_path / "UCF50.rar", progress=False)  # the server is fine again
    assert (tmp_path / "UCF50.rar").read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/UCF50.rar", None)


# --- archives ------------------------------------------------------------------------------------

ENTRIES = {"Set/Wave/a.txt": b"alpha", "Set/Clap/b.txt": b"beta" * 1000}


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _tar(path, entries, mode):
    with tarfile.open(path, mode) as tf:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda d, e: make_rar(d / "set.rar", e),
        lambda d, e: _zip(d / "set.zip", e),
        lambda d, e: _tar(d / "set.tar", e, "w"),
        lambda d, e: _tar(d / "set.tar.gz", e, "w:gz"),
        lambda d, e: _tar(d / "set.tar.bz2", e, "w:bz2"),
        lambda d, e: _tar(d / "set.tar.xz", e, "w:xz"),
    ],
    ids=["rar", "zip", "tar", "tar.gz", "tar.bz2", "tar.xz"],
)
def test_archives_unpack(tmp_path, make):
    archive = make(tmp_path, ENTRIES)
    tops = extract_archive(archive, tmp_path / "out", progress=False)
    assert tops == [tmp_path / "out" / "Set"]
    for name, data in ENTRIES.items():
        assert (tmp_path / "out" / name).read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["Set"]  # no temporary folder left


def test_the_rar_fixture_is_a_real_rar_archive(tmp_path):
    archive = make_rar(tmp_path / "set.rar", ENTRIES)
    with rarfile.RarFile(archive) as rf:
        assert sorted(rf.namelist()) == sorted(ENTRIES)
        rf.testrar()  # every CRC checks out


@pytest.mark.parametrize("evil", ["../evil.txt", "Set/../../evil.txt", "/tmp/evil.txt"])
@pytest.mark.parametrize("kind", ["rar", "zip", "tar.gz"])
def test_entries_escaping_the_target_are_refused(tmp_path, evil, kind):
    entries = {"Set/ok.txt": b"fine", evil: b"gotcha"}
    archive = {
        "rar": lambda: make_rar(tmp_path / "bad.rar", entries),
        "zip": lambda: _zip(tmp_path / "bad.zip", entries),
        "tar.gz": lambda: _tar(tmp_path / "bad.tar.gz", entries, "w:gz"),
    }[kind]()
    out = tmp_path / "deep" / "out"
    with pytest.raises(ArchiveError, match="would land outside the target folder"):
        extract_archive(archive, out, progress=False)
    assert not out.exists()
    assert not list(tmp_path.rglob("evil.txt"))


def test_tar_link_pointing_outside_is_refused(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("Set/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "../../etc/passwd"
        tf.addfile(info)
    with pytest.raises(ArchiveError, match="outside"):
        extract_archive(archive, tmp_path / "out", progress=False)


def test_damaged_and_unknown_archives(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 but broken")
    with pytest.raises(ArchiveError, match="not a valid zip archive"):
        extract_archive(tmp_path / "bad.zip", tmp_path / "out", progress=False)
    (tmp_path / "bad.rar").write_bytes(b"Rar!\x1a\x07\x00 garbage")
    with pytest.raises(ArchiveError, match="holds no files"):
        extract_archive(tmp_path / "bad.rar", tmp_path / "out", progress=False)
    (tmp_path / "worse.rar").write_bytes(b"not even a RAR signature")
    with pytest.raises(ArchiveError, match="a text file, not a rar archive"):
        extract_archive(tmp_path / "worse.rar", tmp_path / "out", progress=False)
    (tmp_path / "data.7z").write_bytes(b"x")
    with pytest.raises(ArchiveError, match="not a supported archive"):
        extract_archive(tmp_path / "data.7z", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_compressed_rar_without_a_tool_says_what_to_install(tmp_path, monkeypatch):
    archive = make_rar(tmp_path / "packed.rar", ENTRIES, method=0x33)
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    monkeypatch.setattr(rarfile, "CURRENT_SETUP", None)
    with pytest.raises(ArchiveError, match="install one of: unrar"):
        extract_archive(archive, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "Set").exists()
    monkeypatch.setattr(rarfile, "CURRENT_SETUP", None)


def _dot_tar_gz(path, entries):
    """What ``tar czf X.tar.gz -C dir .`` writes: a ``./`` entry first, then ``./UCF50/...``."""
    with tarfile.open(path, "w:gz") as tf:
        for name in ("./", "./Set/", "./Set/Wave/", "./Set/Clap/"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tf.addfile(info)
        for name, data in entries.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda d, e: _dot_tar_gz(d / "set.tar.gz", e),
        lambda d, e: _zip(d / "set.zip", {"./": b"", **{f"./{n}": data for n, data in e.items()}}),
        lambda d, e: make_rar(d / "set.rar", {f"./{n}": data for n, data in e.items()}),
    ],
    ids=["tar.gz", "zip", "rar"],
)
def test_entries_named_with_a_leading_dot_slash_unpack(tmp_path, make):
    archive = make(tmp_path, ENTRIES)
    assert extract_archive(archive, tmp_path / "out", progress=False) == [tmp_path / "out" / "Set"]
    for name, data in ENTRIES.items():
        assert (tmp_path / "out" / name).read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["Set"]


@pytest.mark.parametrize(
    "make",
    [
        lambda d, e: _zip(d / "set.tar.gz", e),
        lambda d, e: _tar(d / "set.zip", e, "w:gz"),
        lambda d, e: make_rar(d / "set.tar", e),
        lambda d, e: _tar(d / "set.rar", e, "w:xz"),
    ],
    ids=["zip-named-tar.gz", "tar.gz-named-zip", "rar-named-tar", "tar.xz-named-rar"],
)
def test_archive_kind_comes_from_the_content_not_the_name(tmp_path, make):
    archive = make(tmp_path, ENTRIES)
    assert extract_archive(archive, tmp_path / "out", progress=False) == [tmp_path / "out" / "Set"]
    for name, data in ENTRIES.items():
        assert (tmp_path / "out" / name).read_bytes() == data


@pytest.mark.parametrize(
    "name, content, says",
    [
        ("set.tar.gz", HTML, "an HTML page, not a tar archive"),
        ("set.tar.gz", gzip.compress(b"a gzip file, but no tar inside"), "not a valid tar archive or damaged"),
        ("set.zip", b"", "an empty file, not a zip archive"),
        ("set.7z", b"7z\xbc\xaf\x27\x1c" + b"\x00" * 32, "a 7z archive (not supported"),
        ("set.bin", bytes(range(256)), "a file of unknown type (it starts with 00 01 02"),
    ],
    ids=["html", "gzip-without-tar", "empty", "7z", "binary"],
)
def test_content_that_is_no_supported_archive_is_a_one_line_error(tmp_path, name, content, says):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ArchiveError) as caught:
        extract_archive(tmp_path / name, tmp_path / "out", progress=False)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# --- the UCF50 command, end to end against the local server ---------------------------------------


@pytest.fixture
def ucf50_rar(tmp_path, demo_root):
    """A small stand-in for UCF50.rar: the demo clips under UCF50/, as a stored RAR archive."""
    entries = {
        f"UCF50/{p.relative_to(demo_root).as_posix()}": p.read_bytes()
        for p in sorted(demo_root.rglob("*.avi"))
        if p.parent.name in ("Grow", "Shrink")
    }
    return make_rar(tmp_path / "stand-in.rar", entries).read_bytes()


def test_fetch_ucf50_downloads_unpacks_and_is_idempotent(tmp_path, server, ucf50_rar):
    server.files["/UCF50.rar"] = ucf50_rar
    data = tmp_path / "data"
    root = fetch_ucf50(data, url=server.url("/UCF50.rar"), expected_size=len(ucf50_rar), progress=False)
    assert root == data / "UCF50" and sorted(p.name for p in root.iterdir()) == ["Grow", "Shrink"]
    assert len(build_dataset(root, workers=1, progress=False).dataset) == 16
    assert not (data / "UCF50.rar").exists()  # deleted once unpacked: keep_archive=False is the default
    requests = len(server.requests)
    fetch_ucf50(data, url=server.url("/UCF50.rar"), progress=False)
    assert len(server.requests) == requests


def test_fetch_ucf50_keeps_the_archive_only_when_asked(tmp_path, server, ucf50_rar):
    server.files["/UCF50.rar"] = ucf50_rar
    fetch_ucf50(tmp_path / "data", url=server.url("/UCF50.rar"), keep_archive=True, progress=False)
    assert (tmp_path / "data" / "UCF50.rar").read_bytes() == ucf50_rar


def test_fetch_ucf50_keeps_the_archive_when_unpacking_fails(tmp_path, server, monkeypatch):
    packed = make_rar(tmp_path / "packed.rar", {"UCF50/Grow/a.avi": b"x" * 100}, method=0x33)
    server.files["/UCF50.rar"] = packed.read_bytes()
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    monkeypatch.setattr(rarfile, "CURRENT_SETUP", None)
    with pytest.raises(ArchiveError, match="install one of"):
        fetch_ucf50(tmp_path / "data", url=server.url("/UCF50.rar"), progress=False)
    assert (tmp_path / "data" / "UCF50.rar").exists()  # a sound 6.6 GB download waits for the tool to be installed
    monkeypatch.setattr(rarfile, "CURRENT_SETUP", None)


def test_fetch_ucf50_unpacks_a_local_archive_and_never_deletes_it(tmp_path, server, ucf50_rar):
    local = tmp_path / "mine" / "UCF50.rar"
    local.parent.mkdir()
    local.write_bytes(ucf50_rar)
    root = fetch_ucf50(tmp_path / "data", archive=local, expected_size=len(ucf50_rar), progress=False)
    assert root == tmp_path / "data" / "UCF50" and sorted(p.name for p in root.iterdir()) == ["Grow", "Shrink"]
    assert local.read_bytes() == ucf50_rar and server.requests == []
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["UCF50"]


def test_fetch_ucf50_refuses_a_bad_local_archive_without_deleting_it(tmp_path, ucf50_rar):
    local = tmp_path / "UCF50.rar"
    local.write_bytes(HTML)
    with pytest.raises(ArchiveError, match="an HTML page, not a rar archive"):
        fetch_ucf50(tmp_path / "data", archive=local, progress=False)
    local.write_bytes(ucf50_rar)
    with pytest.raises(ArchiveError, match=f"has {len(ucf50_rar)} bytes, not the expected 5"):
        fetch_ucf50(tmp_path / "data", archive=local, expected_size=5, progress=False)
    with pytest.raises(ArchiveError, match="SHA-256 checksum does not match"):
        fetch_ucf50(tmp_path / "data", archive=local, sha256="0" * 64, progress=False)
    assert local.read_bytes() == ucf50_rar and not (tmp_path / "data" / "UCF50").exists()


def test_cli_download(tmp_path, server, ucf50_rar):
    server.files["/UCF50.rar"] = ucf50_rar
    ok = run_cli("download", "--dest", str(tmp_path / "data"), "--url", server.url("/UCF50.rar"))
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "data" / "UCF50" / "Grow").is_dir()
    again = run_cli("download", "--dest", str(tmp_path / "data"), "--url", server.url("/UCF50.rar"))
    assert again.returncode == 0 and "already unpacked" in again.stdout
    server.status["/broken.rar"] = 503
    bad = run_cli("download", "--dest", str(tmp_path / "other"), "--url", server.url("/broken.rar"))
    assert bad.returncode == 1 and "HTTP 503" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "other" / "broken.rar").exists()


def test_cli_download_refuses_an_html_page_and_asks_again_next_time(tmp_path, server):
    server.files["/UCF50.rar"] = HTML
    for run in (1, 2):
        bad = run_cli("download", "--dest", str(tmp_path / "data"), "--url", server.url("/UCF50.rar"))
        assert bad.returncode == 1 and "Traceback" not in bad.stderr
        error = bad.stderr.strip().splitlines()[-1]  # after the progress bar's lines, the one-line error
        assert error.startswith("error: ") and bad.stderr.count("error: ") == 1
        assert "an HTML page, not a rar archive: the server may need a login or the URL is wrong" in error
        assert "already downloaded" not in bad.stdout
        assert not (tmp_path / "data" / "UCF50.rar").exists() and not (tmp_path / "data" / "UCF50.rar.part").exists()
        assert len(server.requests) == run


def test_cli_download_local_archive_urls_and_keep_archive(tmp_path, server, ucf50_rar):
    local = tmp_path / "UCF50.rar"
    local.write_bytes(ucf50_rar)
    refused = run_cli("download", "--dest", str(tmp_path / "a"), "--url", local.as_uri())
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "--archive PATH" in refused.stderr and not (tmp_path / "a").exists()
    ok = run_cli("download", "--dest", str(tmp_path / "a"), "--archive", str(local))
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "a" / "UCF50" / "Grow").is_dir() and local.read_bytes() == ucf50_rar
    both = run_cli("download", "--url", server.url("/UCF50.rar"), "--archive", str(local))
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    server.files["/UCF50.rar"] = ucf50_rar
    kept = run_cli("download", "--dest", str(tmp_path / "b"), "--url", server.url("/UCF50.rar"), "--keep-archive")
    assert kept.returncode == 0, kept.stderr
    assert (tmp_path / "b" / "UCF50.rar").is_file() and (tmp_path / "b" / "UCF50" / "Grow").is_dir()
    old = run_cli("download", "--dest", str(tmp_path / "c"), "--url", server.url("/UCF50.rar"), "--delete-archive")
    assert old.returncode == 2  # gone: deleting the archive is the default now


# --- a download that does not unpack, an archive renamed away from its folder ---------------------------


def _ucf50_tar_gz(tmp_path, name="UCF50.tar.gz"):
    return _tar(tmp_path / name, {"UCF50/Wave/a.avi": b"w" * 5000, "UCF50/Clap/b.avi": os.urandom(200_000)}, "w:gz")


def test_a_damaged_download_is_deleted_so_the_next_run_downloads_it_again(tmp_path, server):
    good = _ucf50_tar_gz(tmp_path).read_bytes()
    server.files["/UCF50.tar.gz"] = good[: len(good) // 2]  # the mirror's copy was cut short
    data = tmp_path / "data"
    with pytest.raises(ArchiveError, match=r"damaged.*the download was deleted: run the same command again"):
        fetch_ucf50(data, url=server.url("/UCF50.tar.gz"), progress=False)
    assert list(data.iterdir()) == []  # nothing under the final name that would be "already downloaded"
    server.files["/UCF50.tar.gz"] = good
    root = fetch_ucf50(data, url=server.url("/UCF50.tar.gz"), progress=False)
    assert sorted(p.name for p in root.iterdir()) == ["Clap", "Wave"]


def test_cli_download_of_a_damaged_archive_is_one_line_and_the_rerun_recovers(tmp_path, server):
    good = _ucf50_tar_gz(tmp_path).read_bytes()
    server.files["/UCF50.tar.gz"] = good[:-3000]
    args = ["download", "--dest", str(tmp_path / "data"), "--url", server.url("/UCF50.tar.gz")]
    failed = run_cli(*args)
    assert failed.returncode == 1 and "the download was deleted" in failed.stderr, failed.stderr
    assert len(error_lines(failed.stderr)) == 1, failed.stderr
    server.files["/UCF50.tar.gz"] = good
    again = run_cli(*args)
    assert again.returncode == 0 and "already downloaded" not in again.stdout, again.stderr
    assert (tmp_path / "data" / "UCF50" / "Wave" / "a.avi").read_bytes() == b"w" * 5000


def test_an_archive_renamed_away_from_its_folder_unpacks_to_the_folder_it_holds(tmp_path):
    archive = _ucf50_tar_gz(tmp_path, "my-copy-of-the-dataset.tar.gz")
    root = fetch_ucf50(tmp_path / "data", archive=archive, progress=False)
    assert root == tmp_path / "data" / "UCF50" and sorted(p.name for p in root.iterdir()) == ["Clap", "Wave"]
    assert fetch_ucf50(tmp_path / "data", archive=archive, progress=False) == root  # already unpacked: a no-op
    assert archive.exists()  # your own archive is never deleted
    loose = _tar(tmp_path / "loose.tar", {"Wave/a.avi": b"w", "Clap/b.avi": b"c"}, "w")
    with pytest.raises(ArchiveError, match="holds Clap, Wave at its top, not one folder"):
        fetch_ucf50(tmp_path / "other", archive=loose, progress=False)
    assert not (tmp_path / "other").exists()
