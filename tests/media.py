"""Test material made on the spot: index-encoded clips, lying containers, RAR archives, a local HTTP server."""

from __future__ import annotations

import http.server
import struct
import threading
import zlib
from pathlib import Path

import numpy as np

from har.demo import write_video


def index_frame(i: int, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """A frame whose eight vertical stripes spell index ``i`` in binary (white = 1): survives lossy codecs."""
    width, height = size
    bits = np.array([(i >> b) & 1 for b in range(8)], np.uint8) * 255
    return np.ascontiguousarray(np.repeat(bits, width // 8)[None, :, None].repeat(height, 0).repeat(3, 2))


def write_index_clip(path: Path, n_frames: int, size: tuple[int, int] = (64, 48)) -> Path:
    """An XviD AVI whose frame ``i`` spells ``i`` (see ``index_frame``): decoded frames reveal their index."""
    return write_video(path, [index_frame(i, size) for i in range(n_frames)])


def decoded_indices(frames: np.ndarray) -> np.ndarray:
    """The indices that ``index_frame`` frames carry (works after resizing: stripes are read at their centres)."""
    width = frames.shape[2]
    centres = ((np.arange(8) + 0.5) * width / 8).astype(int)
    bits = frames[:, :, centres, :].mean(axis=(1, 3)) > 127
    return (bits * (1 << np.arange(8))).sum(axis=1)


def truncate(path: Path, out: Path, fraction: float) -> Path:
    """Cut a file short, as an interrupted copy does: the header still announces every frame."""
    data = path.read_bytes()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def patch_avi_frame_count(path: Path, out: Path, frames: int) -> Path:
    """Rewrite the frame counts in an AVI's main and stream headers, leaving the frames as they are."""
    data = bytearray(path.read_bytes())
    avih = data.find(b"avih")
    struct.pack_into("<I", data, avih + 8 + 16, frames)  # dwTotalFrames
    strh = data.find(b"strh")
    struct.pack_into("<I", data, strh + 8 + 32, frames)  # dwLength
    out.write_bytes(bytes(data))
    return out


# --- RAR 4.x, written from the published format (technote.txt): stored (method 0x30) entries ---------


def _rar_block(head_type: int, flags: int, body: bytes) -> bytes:
    size = 7 + len(body)
    header = struct.pack("<BHH", head_type, flags, size) + body
    crc = zlib.crc32(header) & 0xFFFF
    return struct.pack("<H", crc) + header


def make_rar(path: Path, entries: dict[str, bytes], *, method: int = 0x30) -> Path:
    """Write a RAR 4 archive of ``entries`` (name -> bytes); ``method`` 0x30 stores, others claim compression."""
    out = bytearray(b"Rar!\x1a\x07\x00")
    out += _rar_block(0x73, 0x0000, b"\x00" * 6)  # main archive header
    dos_time = ((2026 - 1980) << 25) | (11 << 21) | (21 << 16)
    for name, data in entries.items():
        raw_name = name.encode()
        body = struct.pack(
            "<IIBIIBBHI",
            len(data),  # PACK_SIZE
            len(data),  # UNP_SIZE
            3,  # HOST_OS: Unix
            zlib.crc32(data),
            dos_time,
            20,  # UNP_VER 2.0
            method,
            len(raw_name),
            0o100644,
        )
        out += _rar_block(0x74, 0x8000, body + raw_name) + data
    out += _rar_block(0x7B, 0x4000, b"")  # end of archive
    path.write_bytes(bytes(out))
    return path


# --- a small HTTP server on 127.0.0.1 ----------------------------------------------------------------


class FileServer:
    """Serves ``files`` (path -> bytes) on 127.0.0.1 with HTTP Range support and scripted misbehaviour.

    ``cut_after[path] = n`` sends the full Content-Length but closes after n body bytes (once);
    ``status[path] = code`` answers with that error code; ``ranges`` false ignores Range headers;
    ``content_range[path] = [header, ...]`` answers the next requests, one header each, with that Content-Range
    instead of the true one (206 to a Range request, else 200).
    ``requests`` records (path, Range header) of every request.
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.content_type: dict[str, str] = {}
        self.cut_after: dict[str, int] = {}
        self.status: dict[str, int] = {}
        self.ranges = True
        self.content_range: dict[str, list[str]] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self._respond(head=True)

            def do_GET(self):
                self._respond(head=False)

            def _respond(self, head: bool):
                path = self.path.split("?")[0]
                server.requests.append((path, self.headers.get("Range")))
                if path in server.status:
                    self.send_error(server.status[path])
                    return
                if path not in server.files:
                    self.send_error(404)
                    return
                data = server.files[path]
                start = 0
                wanted = self.headers.get("Range")
                if server.content_range.get(path):
                    self.send_response(206 if wanted else 200)
                    self.send_header("Content-Range", server.content_range[path].pop(0))
                elif wanted and server.ranges:
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", server.content_type.get(path, "application/octet-stream"))
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if head:
                    return
                body = data[start:]
                cut = server.cut_after.pop(path, None)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # clients that hang up early (size checks, cut connections) are part of the tests

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """Full URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- decoders that misbehave -----------------------------------------------------------------------


def write_bottom_up_raw_avi(path: Path, n_frames: int = 30, size: tuple[int, int] = (176, 144)) -> Path:
    """An uncompressed (bgr24) AVI stored bottom-up, as the Weizmann dataset's are: frame ``i`` spells ``i``.

    FFmpeg writes such files top-down (a negative height in the BITMAPINFOHEADER); flipping the sign of
    that height makes the same pixels a bottom-up file, which aborts OpenCV 4.13-5.0. Bottom-up rows are
    stored last row first, so the frames are written upside down to come out upright.
    """
    import subprocess

    import imageio_ffmpeg

    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(index_frame(i, size)[::-1].tobytes() for i in range(n_frames))
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
        "-s", f"{width}x{height}", "-r", "25", "-i", "-", "-c:v", "rawvideo", "-pix_fmt", "bgr24", str(path),
    ]  # fmt: skip
    subprocess.run(command, input=frames, check=True)
    data = bytearray(path.read_bytes())
    strf = data.find(b"strf")
    (stored,) = struct.unpack_from("<i", data, strf + 16)
    assert stored < 0, "FFmpeg wrote a top-down AVI, as expected"
    struct.pack_into("<i", data, strf + 16, -stored)
    path.write_bytes(bytes(data))
    return path


def extract_or_abort(path, *args, **kwargs):
    """``har.video.extract_frames``, except that a clip with "crash" in its name kills the process.

    What a decoder bug does (OpenCV aborting inside FFmpeg): the build runs it in worker processes.
    """
    import os

    from har.video import extract_frames

    if "crash" in Path(path).name:
        os.abort()
    return extract_frames(path, *args, **kwargs)


def frames_or_abort(path, *args, **kwargs):
    """``har.video.iter_frame_chunks`` that kills its process after the first chunk when "crash" is in the name."""
    import os

    from har.video import iter_frame_chunks

    if "crash" in Path(path).name:
        yield "info"
        os.abort()
    yield from iter_frame_chunks(path, *args, **kwargs)


# --- a full disk, for writers in C or in another process (OpenCV, FFmpeg, Matplotlib) --------------------

_LIST_FILES = 'find "$1" -type f -printf \'%P\\t%s\\n\' > "$2"'


def _namespace_prefix() -> list[str] | None:
    """``unshare`` arguments that give a command a mount namespace of its own in which it may mount a tmpfs."""
    import os
    import shutil
    import subprocess
    import tempfile

    if not shutil.which("unshare"):
        return None
    prefix = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-Urm"]
    with tempfile.TemporaryDirectory() as folder:
        probe = [*prefix, "sh", "-c", 'mount -t tmpfs -o size=8k tmpfs "$0"', folder]
        if subprocess.run(probe, capture_output=True).returncode == 0:
            return prefix
    return None


def on_a_full_disk(command: list[str], folder: Path, size: int, *, env: dict | None = None, timeout: float = 600):
    """Run ``command`` with ``folder`` on a disk of ``size`` bytes, which fills up as a real one does.

    The disk is a tmpfs mounted on ``folder`` in a mount namespace of the command's own (as root, or in an
    unprivileged user namespace). Where neither is allowed, every file the command writes is limited to ``size``
    bytes instead (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored, so writes past it fail with ``EFBIG``). Returns the
    finished process and the files left in ``folder`` afterwards, as {relative path: bytes}.
    """
    import os
    import resource
    import signal
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1", **(env or {})}
    prefix = _namespace_prefix()
    if prefix is not None:
        report = folder.parent / f".{folder.name}.files"
        script = (
            f'mount -t tmpfs -o size={size} tmpfs "$1" || exit 97; shift 2; "$@"; rc=$?; '
            f'set -- "{folder}" "{report}"; {_LIST_FILES}; exit $rc'
        )
        done = subprocess.run([*prefix, "sh", "-c", script, "sh", str(folder), str(report), *command],
                              capture_output=True, text=True, env=environment, timeout=timeout)  # fmt: skip
        assert done.returncode != 97, done.stderr
        lines = report.read_text().splitlines()
        report.unlink()
    else:

        def limit() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

        done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout,
                              preexec_fn=limit)  # fmt: skip
        lines = [f"{p.relative_to(folder)}\t{p.stat().st_size}" for p in folder.rglob("*") if p.is_file()]
    files = {}
    for line in lines:
        name, _, nbytes = line.rpartition("\t")
        files[name] = int(nbytes)
    return done, files
