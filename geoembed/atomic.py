"""Atomic file writes: nothing a user wrote is ever left half-written or lost, and nothing of ours is left behind.

* :func:`atomic_write` writes beside the target and replaces it in one step (keeping a replaced file's mode).
* Temporary names carry the owner's host and process id (``.<name>.gx-<host>-<pid>.<random>.tmp<suffix>``):
  :func:`sweep_stale` removes those whose process is dead (a run killed with ``kill -9``), and every
  :func:`atomic_write` sweeps its folder first.
* :func:`cleanup_on_sigterm` (installed by the ``geoembed`` command) turns SIGTERM into an orderly exit: the
  temporaries of the running process are removed and ``finally`` blocks (worker pools, open files) run.
* :func:`open_for_append` never follows a symlink planted where an output file should be.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import signal
import socket
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TAG = re.compile(r"\.gx-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp")
_STEM_CHARS = 60  # temporary names stay far below the 255-byte limit of file names, whatever the target's name
_live: set[str] = set()  # temporaries of this process, removed on SIGTERM
_live_lock = threading.Lock()

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
MAX_NAME_CHARS = 200


def temp_prefix(target: str | os.PathLike) -> str:
    """The start of the name of a temporary that will become ``target``: our tag, host and process id."""
    return f".{Path(target).stem[:_STEM_CHARS]}.gx-{_HOST}-{os.getpid()}."


def make_temp(target: str | os.PathLike, *, directory: bool = False, suffix: str = "") -> Path:
    """Create an empty temporary file (or folder) beside ``target``, tagged with this process, and track it.

    Call :func:`discard_temp` when done; a temporary left by a killed process is swept by the next run.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    if directory:
        path = Path(tempfile.mkdtemp(prefix=temp_prefix(target), suffix=".tmp" + suffix, dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=temp_prefix(target), suffix=".tmp" + suffix, dir=target.parent)
        os.close(fd)
        path = Path(name)
    with _live_lock:
        _live.add(str(path))
    return path


def discard_temp(path: str | os.PathLike) -> None:
    """Remove a temporary made by :func:`make_temp` (if still there) and stop tracking it."""
    path = str(path)
    _remove(path)
    with _live_lock:
        _live.discard(path)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step, on error it is removed.

    Write to the yielded path with any library (``df.to_parquet(tmp)``, ``np.save(tmp, ...)``, ``fig.savefig(tmp)``).
    The temporary file keeps ``path``'s suffix, because some writers choose the format from it. With
    ``overwrite=False`` an existing ``path`` raises :class:`FileExistsError` before anything is written. A replaced
    file keeps its permission bits (a private ``0600`` output stays private); a new one gets what ``open()`` gives.
    """
    target = Path(path)
    if not overwrite and (target.exists() or target.is_symlink()):
        raise FileExistsError(f"{target} already exists; choose another output path or allow overwriting.")
    tmp = make_temp(target, suffix=target.suffix)
    try:
        yield tmp
        os.chmod(tmp, _mode_for(target))  # mkstemp creates 0600 files
        os.replace(tmp, target)
    finally:
        discard_temp(tmp)


def _mode_for(target: Path) -> int:
    """The permission bits of the file being replaced, or those ``open()`` would give a new file."""
    try:
        st = os.stat(target, follow_symlinks=False)
    except FileNotFoundError:
        return 0o666 & ~_umask()
    if stat.S_ISREG(st.st_mode):
        return stat.S_IMODE(st.st_mode)
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sweep_stale(directory: str | os.PathLike) -> list[Path]:
    """Remove our temporaries in ``directory`` whose owning process (on this host) is no longer running.

    Only names with our tag are considered, so other programs' files are never touched. Returns what was removed.
    """
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith("."):
            continue
        match = _TAG.search(entry.name)
        if match is None or match["host"] != _HOST or _pid_alive(int(match["pid"])):
            continue
        _remove(entry.path)
        removed.append(Path(entry.path))
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's live process (or a number we cannot ask about): leave its files alone
    return True


def _remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


# -- SIGTERM -----------------------------------------------------------------------------------------------------------
def _on_sigterm(signum: int, frame: Any) -> None:
    with _live_lock:
        live = list(_live)
    for path in live:  # at once, in case the unwinding below is slow or stuck in native code
        _remove(path)
    raise SystemExit(128 + signum)  # unwinds: finally blocks close files and shut worker pools down


def cleanup_on_sigterm() -> bool:
    """Make SIGTERM remove this process's temporaries and exit through ``finally`` blocks (exit code 143).

    Only possible from the main thread (Python's rule for signal handlers); returns whether it was installed.
    A handler someone else installed is kept.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None, _on_sigterm):
        return False
    signal.signal(signal.SIGTERM, _on_sigterm)
    return True


# -- output files --------------------------------------------------------------------------------------------------------
def open_for_append(path: str | os.PathLike, *, encoding: str = "utf-8"):
    """Open ``path`` for appending text, refusing a symlink (``O_NOFOLLOW``): never write to a planted link's target."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    if not hasattr(os, "O_NOFOLLOW") and path.is_symlink():  # pragma: no cover - Windows
        raise _symlink_error(path)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _symlink_error(path) from None
        raise
    return os.fdopen(fd, "a", encoding=encoding)


def _symlink_error(path: Path) -> Exception:
    from geoembed.errors import OutputPathError

    return OutputPathError(f"{path} is a symlink; geoembed does not write through links in its output folders. "
                           f"Remove it (rm {path}) or choose another output folder.")


def safe_file_name(name: str, what: str = "name") -> str:
    """``name`` if it can be used as one file name (letters, digits, ``._-``, no leading dot), else a clear error.

    File names of outputs are built from registry names only through this check, so a name such as
    ``"../../x"`` can never place a file outside its output folder.
    """
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or len(name) > MAX_NAME_CHARS:
        from geoembed.errors import OutputPathError

        raise OutputPathError(
            f"The {what} {name!r} cannot be used in a file name: use letters, digits, '_', '-' and '.', starting "
            f"with a letter or digit, at most {MAX_NAME_CHARS} characters."
        )
    return name

