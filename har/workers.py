"""Decoding in worker processes: a decoder that crashes costs one clip, never the process that asked.

Video decoders are C code fed whatever files people have, and one bad file can abort the interpreter (OpenCV
4.13-5.0 do on bottom-up uncompressed AVI), taking a notebook's kernel, or a dataset build an hour in, with it.
So ``build_dataset`` and prediction decode in fresh interpreters (``python -m har.workers``) that read pickled
jobs (``"module:function"`` and its arguments) on stdin and answer on stdout; a ``HarError`` a job raises is
raised again in the caller. When a worker dies, its job gets a reason (the signal and the decoder's last words
on stderr) and a new worker takes over. Not ``multiprocessing``: a fork inherits OpenCV's thread pool in a
state that can deadlock, and "spawn" re-runs a caller's script that has no ``__main__`` guard, as notebooks lack.

Starting a worker imports OpenCV and NumPy again, so a worker whose job ended well waits, idle, for the next
job (``borrow_worker``, ``return_worker``; up to one per core). Idle workers end with the process.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import pickle
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from har import errors
from har.errors import DecoderCrashError, HarError


def _worker_environment() -> dict[str, str]:
    env = dict(os.environ)
    # The worker imports what the caller can import (a notebook's or a test's own modules included).
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["LIBC_FATAL_STDERR_"] = "1"  # glibc's "malloc(): ..." goes to stderr (which we read), not the terminal
    return env


class Worker:
    """One worker process: ``call`` runs a job in it, ``stream`` a generator job, item by item. When the process dies
    during a job, raises ``DecoderCrashError`` and starts a new process for the next job."""

    def __init__(self):
        self._process: subprocess.Popen | None = None
        self._start()

    def _start(self) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the process)
        self.environment = _worker_environment()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "har.workers"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, env=self.environment,
            start_new_session=True,  # a terminal's Ctrl-C is for the caller, which ends its workers itself
        )  # fmt: skip

    @property
    def alive(self) -> bool:
        """True while the worker process runs."""
        return self._process is not None and self._process.poll() is None

    def _end(self, timeout: float) -> int:
        try:
            return self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()

    def _send(self, job: tuple, what: str) -> None:
        try:
            pickle.dump(job, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.flush()
        except OSError:
            raise self._death(what) from None

    def _receive(self, what: str) -> tuple:
        try:
            return pickle.load(self._process.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            raise self._death(what) from None

    def _restart(self, timeout: float) -> tuple[int, str]:
        code = self._end(timeout)
        self._stderr.seek(0)
        stderr = self._stderr.read().decode(errors="replace").strip()
        self._stderr.close()
        self._start()
        return code, stderr

    def _death(self, what: str) -> DecoderCrashError:
        code, stderr = self._restart(timeout=10)
        if code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit code {code}"
        last = f": {stderr.splitlines()[-1].strip()[:200]}" if stderr else ""
        return DecoderCrashError(f"{what}: the decoder crashed ({how}{last})")

    def call(self, target: str, *args, what: str = "a video", **kwargs) -> Any:
        """Run ``target(*args, **kwargs)`` in the worker and return its result."""
        try:
            self._send((target, args, kwargs), what)
            reply = self._receive(what)
        except KeyboardInterrupt:
            if self.alive:  # its answer, still to come, must not reach the next job
                self._restart(timeout=0)
            raise
        return _unwrap(reply)

    def stream(self, target: str, *args, what: str = "a video", **kwargs) -> Iterator[Any]:
        """Run the generator ``target(*args, **kwargs)`` in the worker and yield its items as they come; stopping
        early (closing this generator) ends the worker process, and the next job starts a new one."""
        finished = False
        try:
            self._send((target, args, kwargs), what)
            while (reply := self._receive(what))[0] == "item":
                yield reply[1]
            finished = True
            if reply[0] == "error":
                _unwrap(reply)
        finally:
            if not finished and self.alive:  # it is still sending items nobody will read
                self._restart(timeout=0)

    def close(self) -> None:
        """End the worker process."""
        if self._process is None:
            return
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        self._end(timeout=5)
        self._process.stdout.close()
        self._stderr.close()
        self._process = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_IDLE: list[Worker] = []
_IDLE_LOCK = threading.Lock()


def borrow_worker() -> Worker:
    """An idle worker started with the environment a new one would get now (``sys.path``, variables), or a new one."""
    environment = _worker_environment()
    while True:
        with _IDLE_LOCK:
            worker = _IDLE.pop() if _IDLE else None
        if worker is None:
            return Worker()
        if worker.alive and worker.environment == environment:
            return worker
        worker.close()


def return_worker(worker: Worker) -> None:
    """Keep a worker whose job ended for the next job (up to one idle worker per core), or end it."""
    with _IDLE_LOCK:
        if worker.alive and len(_IDLE) < (os.cpu_count() or 1):
            _IDLE.append(worker)
            return
    worker.close()


@atexit.register
def close_idle_workers() -> None:
    """End every idle worker (at exit, or to free their memory)."""
    with _IDLE_LOCK:
        idle = list(_IDLE)
        _IDLE.clear()
    for worker in idle:
        worker.close()


def _unwrap(reply: tuple) -> Any:
    if reply[0] == "ok":
        return reply[1]
    _, name, message = reply
    error_class = getattr(errors, name, None)
    if isinstance(error_class, type) and issubclass(error_class, HarError):
        raise error_class(message)
    raise HarError(f"{name}: {message}")


def _run_job(worker: Worker, target: str, job: tuple, options: dict, retry_kwargs: dict | None) -> tuple:
    try:
        try:
            return worker.call(target, *job, **options), None
        except DecoderCrashError:
            if retry_kwargs is None:
                raise
            return worker.call(target, *job, **options, **retry_kwargs), None
    except BaseException as error:  # a HarError is the job's; anything else is a bug, handed to the caller
        return None, error


def run_in_workers(
    target: str,
    jobs: Sequence[tuple],
    *,
    workers: int,
    kwargs: dict | None = None,
    retry_kwargs: dict | None = None,
    what: Sequence[str] | None = None,
) -> Iterator[tuple[int, Any, HarError | None]]:
    """Run ``target(*job, **kwargs)`` for every job on ``workers`` processes; yield ``(index, result, error)``.

    Results come in the order they finish. A job whose worker crashes is tried once more with ``retry_kwargs``
    (another decoder, say) on a fresh worker; if that crashes too, or without ``retry_kwargs``, its error is a
    ``DecoderCrashError``. Any other ``HarError`` is returned as the job's error; the other jobs go on either way.
    """
    results: queue.Queue = queue.Queue()
    todo: queue.Queue = queue.Queue()
    for index in range(len(jobs)):
        todo.put(index)
    names = list(what) if what is not None else [f"job {i}" for i in range(len(jobs))]
    stop = threading.Event()

    def serve(worker: Worker) -> None:
        try:
            while not stop.is_set():
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                options = {**(kwargs or {}), "what": names[index]}
                results.put((index, *_run_job(worker, target, jobs[index], options, retry_kwargs)))
        finally:
            return_worker(worker)

    count = max(1, min(workers, len(jobs)))
    pool = [borrow_worker() for _ in range(count)]  # new ones start together: their start-up overlaps
    threads = [threading.Thread(target=serve, args=(w,), daemon=True) for w in pool]
    for thread in threads:
        thread.start()
    try:
        for _ in range(len(jobs)):
            index, result, error = results.get()
            if error is not None and not isinstance(error, HarError):
                raise error
            yield index, result, error
    finally:
        stop.set()  # on an early exit (an error, Ctrl-C) the threads stop after their current job
        for thread in threads:
            thread.join()


def extract_frames_isolated(path: str | os.PathLike, sequence_length: int = 20, image_size=(64, 64), **kwargs):
    """``har.video.extract_frames`` in a worker process (tried again with FFmpeg if the decoder crashes)."""
    worker = borrow_worker()
    try:
        args = (str(path), sequence_length, tuple(image_size))
        try:
            return worker.call("har.video:extract_frames", *args, what=str(path), **kwargs)
        except DecoderCrashError:
            return worker.call("har.video:extract_frames", *args, what=str(path), **{**kwargs, "backend": "ffmpeg"})
    finally:
        return_worker(worker)


class FrameStream:
    """Every decoded BGR frame of a video file, decoded in a worker process; ``info`` is its ``VideoInfo``.

    Iterate once; a decoder crash raises ``DecoderCrashError`` (a ``VideoError``) in the caller instead
    of taking it down. Use as a context manager, or call ``close``.
    """

    def __init__(self, path: str | os.PathLike, chunk_size: int = 32):
        self._worker = borrow_worker()
        self._items = self._worker.stream("har.video:iter_frame_chunks", str(path), chunk_size, what=str(path))
        try:
            self.info = next(self._items)
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> Iterator:
        for chunk in self._items:
            yield from chunk

    def close(self) -> None:
        """Stop decoding and hand the worker back (stopped early, its process is a fresh one)."""
        self._items.close()
        if self._worker is not None:  # closed once, handed back once
            return_worker(self._worker)
            self._worker = None

    def __enter__(self) -> FrameStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve() -> None:
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the answers
    importlib.import_module("har.video")  # what most jobs need: imported once, before the first job
    sys.modules["cv2"].setNumThreads(1)  # one worker per core already

    def answer(reply: tuple) -> None:
        pickle.dump(reply, channel, protocol=pickle.HIGHEST_PROTOCOL)
        channel.flush()

    while True:
        try:
            target, args, kwargs = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        module, _, name = target.partition(":")
        try:
            result = getattr(importlib.import_module(module), name)(*args, **kwargs)
            if hasattr(result, "__next__"):
                for item in result:
                    answer(("item", item))
                answer(("end",))
            else:
                answer(("ok", result))
        except Exception as error:
            answer(("error", type(error).__name__, str(error)))


if __name__ == "__main__":
    _serve()


def open_frames(source, stack: contextlib.ExitStack):
    """(``VideoInfo``, decoded BGR frames) of a webcam index, read here, or of a video file, decoded in a worker
    process (``FrameStream``: a decoder crash is an error here, not the end of Python); ``stack`` closes them."""
    if isinstance(source, int):
        from har.video import open_reader

        reader = stack.enter_context(open_reader(source))
        return reader.info, iter(reader)
    stream = stack.enter_context(FrameStream(source))
    return stream.info, iter(stream)
