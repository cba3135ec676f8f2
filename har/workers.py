"""Decoding in worker processes: a decoder that crashes costs one clip, never the process that asked.

Video decoders are C code fed whatever files people have, and one bad file can abort the interpreter
(OpenCV 4.13-5.0 do on bottom-up uncompressed AVI, with ``malloc_consolidate(): invalid chunk size``).
A notebook's kernel, or a dataset build an hour in, would die with it. So ``build_dataset`` and
prediction decode in worker processes: fresh interpreters started as ``python -m har.workers``, which
read jobs (pickled) on stdin and answer on stdout. When a worker dies, its job gets a reason (the signal
and the decoder's last words on stderr) and a new worker takes over. Fresh interpreters rather than
``multiprocessing``: a fork inherits OpenCV's thread pool in a state that can deadlock, and "spawn"
re-runs a caller's script that has no ``if __name__ == "__main__"`` guard, as notebooks and quick
scripts don't.

Starting a worker costs a fresh interpreter importing OpenCV and NumPy (about 0.2 s per core, a tenth of
building a small dataset), so a worker whose job ended well waits, idle, for the next one in the same
process (a notebook builds a dataset, then predicts, then predicts again): ``borrow_worker`` takes an idle
one started with the same environment, or starts one; ``return_worker`` puts it back, up to one per core.
Idle workers end with the process.

A job names its function as ``"module:function"`` so that the worker can import it; what it returns (or
yields: a generator's items are streamed back one by one) comes back to the caller; a ``HarError`` it
raises is raised again in the caller.
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


def _call_target(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _worker_environment() -> dict[str, str]:
    env = dict(os.environ)
    # The worker imports what the caller can import (a notebook's or a test's own modules included).
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["LIBC_FATAL_STDERR_"] = "1"  # glibc's "malloc(): ..." goes to stderr (which we read), not the terminal
    return env


class Worker:
    """One worker process. ``call`` runs a job in it; ``stream`` runs a generator job, item by item.

    Raises ``DecoderCrashError`` when the process dies during a job; the worker is then restarted for
    the next one.
    """

    def __init__(self, preload: str | None = "har.video"):
        self._preload = preload
        self._process: subprocess.Popen | None = None
        self._stderr = None
        self._start()

    def _start(self) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the process)
        command = [sys.executable, "-m", "har.workers"] + ([self._preload] if self._preload else [])
        self.environment = _worker_environment()
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=self.environment,
            start_new_session=True,  # a terminal's Ctrl-C is for the caller, which ends its workers itself
        )  # fmt: skip

    @property
    def alive(self) -> bool:
        """True while the worker process runs."""
        return self._process is not None and self._process.poll() is None

    def _send(self, job: tuple) -> None:
        pickle.dump(job, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self._process.stdin.flush()

    def _receive(self) -> tuple:
        return pickle.load(self._process.stdout)

    def _death(self, what: str) -> DecoderCrashError:
        """Collect why the worker died, restart it, and return the error to raise."""
        try:
            code = self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        self._stderr.seek(0)
        lines = [line.strip() for line in self._stderr.read().decode(errors="replace").splitlines() if line.strip()]
        self._stderr.close()
        if code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit code {code}"
        last = f": {lines[-1][:200]}" if lines else ""
        self._start()
        return DecoderCrashError(f"{what}: the decoder crashed ({how}{last})")

    def call(self, target: str, *args, what: str = "a video", **kwargs) -> Any:
        """Run ``target(*args, **kwargs)`` in the worker and return its result."""
        try:
            self._send((target, args, kwargs))
            reply = self._receive()
        except (EOFError, OSError, pickle.UnpicklingError):
            raise self._death(what) from None
        return _unwrap(reply)

    def stream(self, target: str, *args, what: str = "a video", **kwargs) -> Iterator[Any]:
        """Run the generator ``target(*args, **kwargs)`` in the worker and yield its items as they come.

        Stopping early (closing this generator) ends the worker process; the next job starts a new one.
        """
        finished = False
        try:
            try:
                self._send((target, args, kwargs))
            except OSError:
                raise self._death(what) from None
            while True:
                try:
                    reply = self._receive()
                except (EOFError, OSError, pickle.UnpicklingError):
                    raise self._death(what) from None
                if reply[0] == "item":
                    yield reply[1]
                elif reply[0] == "end":
                    finished = True
                    return
                else:
                    finished = True
                    _unwrap(reply)
        finally:
            if not finished and self._process.poll() is None:
                self._process.kill()  # it is still sending items nobody will read
                self._process.wait()
                self._stderr.close()
                self._start()

    def close(self) -> None:
        """End the worker process."""
        if self._process is None:
            return
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()
        self._stderr.close()
        self._process = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_IDLE: list[Worker] = []
_IDLE_LOCK = threading.Lock()


def borrow_worker(preload: str | None = "har.video") -> Worker:
    """An idle worker started with the environment a new one would get now (``sys.path``, variables), or a new one."""
    environment = _worker_environment()
    stale = []
    with _IDLE_LOCK:
        found = None
        while _IDLE and found is None:
            worker = _IDLE.pop()
            if worker.alive and worker._preload == preload and worker.environment == environment:
                found = worker
            else:
                stale.append(worker)
    for worker in stale:
        worker.close()
    return found if found is not None else Worker(preload)


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

    Results come in the order they finish. A job whose worker crashes is tried once more with
    ``retry_kwargs`` (another decoder, say) on a fresh worker; if that crashes too, or without
    ``retry_kwargs``, its error is a ``DecoderCrashError``. Any other ``HarError`` is returned as the
    job's error; the other jobs go on either way.
    """
    results: queue.Queue = queue.Queue()
    todo: queue.Queue = queue.Queue()
    for index in range(len(jobs)):
        todo.put(index)
    names = list(what) if what is not None else [f"job {i}" for i in range(len(jobs))]

    def serve(worker: Worker) -> None:
        try:
            while True:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                options = {**(kwargs or {}), "what": names[index]}
                try:
                    try:
                        outcome = (index, worker.call(target, *jobs[index], **options), None)
                    except DecoderCrashError:
                        if retry_kwargs is None:
                            raise
                        outcome = (index, worker.call(target, *jobs[index], **options, **retry_kwargs), None)
                except HarError as error:
                    outcome = (index, None, error)
                except BaseException as error:  # a bug: hand it to the caller instead of hanging it
                    outcome = (index, None, error)
                results.put(outcome)
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
        while True:  # on an early exit (an error, Ctrl-C) the threads stop after their current job
            try:
                todo.get_nowait()
            except queue.Empty:
                break
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


def _serve(preload: str | None) -> None:
    """The worker's main loop: read a job, run it, answer; until stdin closes."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the answers
    if preload:
        importlib.import_module(preload)
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(1)  # one worker per core already
    jobs = sys.stdin.buffer

    def answer(reply: tuple) -> None:
        pickle.dump(reply, channel, protocol=pickle.HIGHEST_PROTOCOL)
        channel.flush()

    while True:
        try:
            target, args, kwargs = pickle.load(jobs)
        except EOFError:
            return
        try:
            result = _call_target(target)(*args, **kwargs)
            if hasattr(result, "__next__"):
                for item in result:
                    answer(("item", item))
                answer(("end",))
            else:
                answer(("ok", result))
        except HarError as error:
            answer(("error", type(error).__name__, str(error)))
        except Exception as error:
            answer(("error", type(error).__name__, str(error)))


if __name__ == "__main__":
    _serve(sys.argv[1] if len(sys.argv) > 1 else None)
