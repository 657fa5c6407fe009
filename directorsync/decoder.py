"""A helper process that decodes large listings beside the planning thread.

Decoding a listing of 100,000 objects holds the interpreter lock for a fifth of a second, and
the objects it builds lie interleaved in memory (every field of one object next to the others),
which makes every later pass over one column several times slower. The helper cuts each wanted
field's values out of the listing's JSON (:func:`directorsync.jsonio.raw_columns`) on another
core while the sheet is mapped and checked; the planning thread then decodes each column on its
own — quickly, laid out in memory column by column, a value repeated in many rows as one object.

The helper is ``python -P -c <launch> <package folder>`` (:func:`main`, the code of this very
package), started when a large listing is announced
and shared by the whole process; it reads requests on its standard input and exits when that
closes (it never outlives its parent). Whatever goes wrong with it — it cannot start, it dies,
it answers something unreadable, too late, or a value only Python reads — the caller decodes the
listing in its own process instead: the helper only ever makes things faster.

Protocol, both ways: frames of ``<2-byte magic><4-byte big-endian length><bytes>``.

- A request is the frame MessagePack ``[id, fields, {unnest field: [keys]}, shared]``, then —
  when ``shared`` is null — a frame holding the listing's body. ``shared`` is ``[pid, fd, size]``
  of a body held in shareable memory (:class:`directorsync.director.client.SharedBody`, Linux), which
  the helper maps from ``/proc/<pid>/fd/<fd>`` instead of reading 33 MB through the pipe.
- An answer is the frame MessagePack ``[id, columns, unnested, objects]``, or
  ``[id, None, message]``. ``columns`` maps each field that an object has to the JSON array of
  its values, or — when a few values repeat — to ``[JSON array of the distinct values, int32
  codes]``; ``unnested`` maps each ``unnest`` field to ``{key: column}`` for the requested keys
  one of its objects has (a cell that is not an object counts as an empty object); ``objects``
  is how many objects the listing holds.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import mmap
import os
import struct
import subprocess
import sys
import threading
from concurrent.futures import Future, InvalidStateError
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None

import msgspec

from directorsync import jsonio
from directorsync.jsonio import collector_paused

LOG = logging.getLogger("directorsync.decoder")
#: Listings smaller than this are decoded in process (the round trip would not pay off).
MIN_BYTES = 4 << 20
_HEADER = struct.Struct(">2sI")
_MAGIC = b"\xd5\x01"  # opens every frame: anything else on the pipe is not an answer


# The helper runs the code of this very package, whether it was installed, installed editable
# from another checkout, or is imported from a source tree: its folder is put first on the
# helper's import path unless it is there already (site-packages never goes before the
# standard library). -P: the current directory is not on the path.
_LAUNCH = (
    "import sys; home = sys.argv[1]; home in sys.path or sys.path.insert(0, home); "
    "from directorsync.decoder import main; main()"
)
_HOME = str(Path(__file__).resolve().parent.parent)


class DecoderUnavailable(RuntimeError):
    """The helper could not decode this listing (the caller decodes it itself)."""


class Decoder:
    """The helper process and the requests under way (thread-safe)."""

    def __init__(self, command: list[str] | None = None) -> None:
        self._command = command or [sys.executable, "-P", "-c", _LAUNCH, _HOME]
        self._lock = threading.Lock()  # the process and the requests under way
        self._writing = threading.Lock()  # one request written at a time
        self._process: subprocess.Popen | None = None
        # request id → (its future, the body: kept alive until answered, its memory shared)
        self._pending: dict[int, tuple[Future, Any]] = {}
        self._ids = itertools.count(1)
        self._broken = False
        self._share = True  # bodies in shareable memory are mapped by the helper, not sent

    def submit(
        self, body: bytes, fields: list[str], unnest: dict[str, list[str]] | None = None
    ) -> Future:
        """Start decoding ``fields`` of a listing (see :func:`decode_columns` for the result).

        ``unnest`` names fields holding objects to return key by key (those keys only). The
        future fails with :class:`DecoderUnavailable` when the helper cannot do it.
        """
        future: Future = Future()
        try:
            with self._lock:
                process = self._ensure()
                request_id = next(self._ids)
                self._pending[request_id] = (future, body)
            shared = _shared_body(body) if self._share else None
            head = msgspec.msgpack.encode([request_id, list(fields), dict(unnest or {}), shared])
            with self._writing:
                _write(process.stdin, head)
                if shared is None:
                    _write(process.stdin, body)
        except (OSError, ValueError, DecoderUnavailable) as exc:
            self._fail(f"cannot reach the decoding helper: {exc}")
            _settle(future, DecoderUnavailable(str(exc)))
        return future

    def warm(self) -> None:
        """Start the helper now (it takes a fraction of a second to be ready), if it is not."""
        try:
            with self._lock:
                self._ensure()
        except (OSError, DecoderUnavailable) as exc:
            self._fail(f"cannot start the decoding helper: {exc}")

    def close(self) -> None:
        """Stop the helper (it also stops by itself when this process exits)."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            try:
                process.stdin.close()
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()

    def _ensure(self) -> subprocess.Popen:
        if self._broken:
            raise DecoderUnavailable("the decoding helper failed earlier")
        if self._process is None or self._process.poll() is not None:
            try:
                self._process = subprocess.Popen(
                    self._command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    close_fds=True,
                )
            except (OSError, TypeError, ValueError) as exc:  # no interpreter to start
                raise DecoderUnavailable(f"cannot start {self._command[0]!r}: {exc}") from exc
            _widen(self._process.stdin)
            _widen(self._process.stdout)
            threading.Thread(
                target=self._read, args=(self._process,), name="decoder answers", daemon=True
            ).start()
        return self._process

    def _read(self, process: subprocess.Popen) -> None:
        """Hand each answer to its future (runs until the helper's output closes).

        Whatever goes wrong here — a closed pipe, a garbled answer — fails every request under
        way (their callers decode in process) and retires the helper: no caller waits forever.
        """
        try:
            while True:
                frame = _read(process.stdout)
                if frame is None:
                    break
                answer = msgspec.msgpack.decode(frame)
                with self._lock:
                    future, _ = self._pending.pop(answer[0], (None, None))
                if future is None:
                    continue
                if answer[1] is None:
                    if str(answer[2]).startswith(_UNSHARED):
                        self._share = False  # the helper cannot map ours: send bodies from now on
                    _settle(future, DecoderUnavailable(str(answer[2])))
                else:
                    _settle(future, _Columns(*answer[1:4]))
        except Exception as exc:  # noqa: BLE001 - any failure retires the helper (below)
            LOG.debug("decoding helper: %s: %s", type(exc).__name__, exc)
        self._fail("the decoding helper stopped")
        with contextlib.suppress(OSError):
            process.kill()

    def _fail(self, message: str) -> None:
        LOG.debug("decoding helper: %s (listings are decoded in this process)", message)
        with self._lock:
            pending, self._pending = self._pending, {}
            self._broken = True
        for future, _ in pending.values():
            _settle(future, DecoderUnavailable(message))


def _settle(future: Future, outcome: Any) -> None:
    """Give a future its result or exception, unless it already has one."""
    with contextlib.suppress(InvalidStateError):
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class _Columns:
    """An answer, decoded when first read (on the thread that needs it)."""

    def __init__(
        self,
        columns: dict[str, Any],
        unnested: dict[str, dict[str, Any]],
        rows: int | None = None,
    ) -> None:
        self._columns, self._unnested, self._rows = columns, unnested, rows

    def columns(self) -> jsonio.Columns:
        """The columns (raises :class:`DecoderUnavailable` for values only Python reads)."""
        decode = jsonio.decode_raw_column
        try:
            with collector_paused():
                out = jsonio.Columns((f, decode(c)) for f, c in self._columns.items())
                for field, keys in self._unnested.items():
                    out[field] = Unnested({key: decode(c) for key, c in keys.items()})
        except (ValueError, msgspec.MsgspecError) as exc:  # 1e400, NaN: decoded in process
            raise DecoderUnavailable(f"{type(exc).__name__}: {exc}") from exc
        out.rows = self._rows or 0
        return out


class Unnested(dict):
    """A column of objects as one column per key (``{key: values}``)."""


def encode_columns(
    body: bytes, fields: list[str], unnest: dict[str, list[str]], hold: list[Any] | None = None
) -> list[Any]:
    """``[columns, unnested]`` of a listing (see the module docstring); ``hold`` as in
    :func:`directorsync.jsonio.raw_columns`.

    Raises:
        ValueError: the body is not a JSON array of objects.
    """
    columns, unnested = jsonio.raw_columns(body, fields, unnest, hold=hold)
    return [dict(columns), unnested, getattr(columns, "rows", None)]


_shared: Decoder | None = None
_shared_lock = threading.Lock()


def shared() -> Decoder:
    """The process's helper (started on first use, stopped at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Decoder()
            atexit.register(_shared.close)
        return _shared


#: Longest wait for the helper's answer before decoding in process instead.
ANSWER_TIMEOUT = 300.0


def decode_columns(future: Future) -> jsonio.Columns:
    """The columns of a submitted listing: ``{field: values}`` (a list or an object array), and
    for the ``unnest`` fields an :class:`Unnested` (raises :class:`DecoderUnavailable`)."""
    try:
        return future.result(timeout=ANSWER_TIMEOUT).columns()
    except TimeoutError as exc:
        raise DecoderUnavailable("no answer from the decoding helper in time") from exc


_UNSHARED = "cannot map the shared body"


def _shared_body(body: Any) -> list[int] | None:
    """``[pid, fd, size]`` of a body the helper may map (see :class:`~directorsync.director.client.SharedBody`)."""
    fd = getattr(body, "fd", None)
    if fd is None or not sys.platform.startswith("linux"):
        return None
    return [os.getpid(), fd, len(body)]


def _map(shared: list[int]) -> mmap.mmap | None:
    """The caller's body, mapped read-only through ``/proc`` (None when it cannot be)."""
    pid, fd, size = shared
    try:
        with open(f"/proc/{pid}/fd/{fd}", "rb") as file:
            return mmap.mmap(file.fileno(), size, prot=mmap.PROT_READ)
    except (OSError, ValueError):
        return None


def _write(stream: IO[bytes] | None, data: bytes) -> None:
    if stream is None:
        raise DecoderUnavailable("the helper has no input")
    stream.write(_HEADER.pack(_MAGIC, len(data)))
    stream.write(data)
    stream.flush()


def _read(stream: IO[bytes] | None) -> bytearray | None:
    """One frame, read straight into its buffer (None at the end of the stream)."""
    if stream is None:
        return None
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    magic, size = _HEADER.unpack(head)
    if magic != _MAGIC:
        raise ValueError(f"not a frame of the decoding helper: {head!r}")
    data = bytearray(size)
    view, got = memoryview(data), 0
    while got < len(data):
        n = stream.readinto(view[got:])
        if not n:
            return None
        got += n
    return data


def _widen(stream: IO[bytes] | None) -> None:
    """Give a pipe a 1 MB buffer where the system allows it (fewer hand-overs for a listing)."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", 1031) if fcntl else None
    if stream is None or setpipe is None or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(stream.fileno(), setpipe, 1 << 20)


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The helper's loop: decode each request until the input closes."""
    encoder = msgspec.msgpack.Encoder()
    while True:
        frame = _read(stdin)
        if frame is None:
            return
        request_id, fields, unnest, shared = msgspec.msgpack.decode(frame)
        body = _read(stdin) if shared is None else _map(shared)
        if body is None:
            if shared is None:
                return
            _write(stdout, encoder.encode([request_id, None, f"{_UNSHARED}: {shared}"]))
            continue
        decoded: list[Any] = []  # freed once the answer is sent, while the caller reads it
        with collector_paused():
            try:
                answer = [request_id, *encode_columns(body, fields, unnest, decoded)]
            except (ValueError, TypeError, OverflowError, msgspec.MsgspecError) as exc:
                answer = [request_id, None, f"{type(exc).__name__}: {exc}"]
            _write(stdout, encoder.encode(answer))
            del answer, body, frame, decoded


def main() -> None:
    """The helper (also ``python -m directorsync.decoder``): answers go out on a copy of standard output, whose own
    descriptor then points at standard error (a stray print never garbles an answer)."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
