import hashlib
import io
import os
import socket
import tarfile
import zipfile

import pytest
import rarfile
from conftest import run_cli
from media import FileServer, make_rar

from har.dataset import build_dataset
from har.download import download_file, extract_archive, fetch_ucf50
from har.errors import ArchiveError, DownloadError

PAYLOAD = os.urandom(3 * 2**20 + 12345)  # spans several 1 MiB chunks


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
    (tmp_path / "bad.zip").write_bytes(b"PK but broken")
    with pytest.raises(ArchiveError, match="not a valid zip archive"):
        extract_archive(tmp_path / "bad.zip", tmp_path / "out", progress=False)
    (tmp_path / "bad.rar").write_bytes(b"Rar!\x1a\x07\x00 garbage")
    with pytest.raises(ArchiveError, match="holds no files"):
        extract_archive(tmp_path / "bad.rar", tmp_path / "out", progress=False)
    (tmp_path / "worse.rar").write_bytes(b"not even a RAR signature")
    with pytest.raises(ArchiveError, match="not a valid rar archive"):
        extract_archive(tmp_path / "worse.rar", tmp_path / "out", progress=False)
    (tmp_path / "data.7z").write_bytes(b"x")
    with pytest.raises(ArchiveError, match="unsupported archive type"):
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
    requests = len(server.requests)
    fetch_ucf50(data, url=server.url("/UCF50.rar"), progress=False)
    assert len(server.requests) == requests


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
