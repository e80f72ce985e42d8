"""The data directory: private to its owner, and owned by one running server.

It holds the RSA signing keys and the secret-hash key (in ``d365local.db`` and SQLite's ``-wal``/``-shm``), the TLS
private keys and ``credentials.env``, so the directory is 0700 and every file in it 0600 whatever the umask; an
existing directory that others could read is tightened, with a warning.

A running ``serve`` holds a lock on ``serve.lock`` for its lifetime (flock: the kernel drops it when the process
dies, so a crash never leaves a stale lock). A second ``serve`` on the same directory is refused with the first
one's PID and URL, unless both were started with the same ``--public-url`` — several processes behind one URL is a
supported set-up; two URLs rewriting one store's public URL and credentials.env is not.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
LOCK_FILE = "serve.lock"

log = logging.getLogger("d365local.data_directory")


class DataDirectoryError(ValueError):
    """The data directory cannot be used; the message says why and what to do."""


def ensure_private_directory(path: Path) -> Path:
    """Create ``path`` (0700) or make an existing one private: 0700, its files 0600, warning when it was not."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)  # OSError: the caller says which fix applies
    loosened = [p for p in _tighten(path) if p]
    if loosened:
        shown = ", ".join(loosened[:3]) + (f" and {len(loosened) - 3} more" if len(loosened) > 3 else "")
        log.warning(
            "warning: %s was readable by other users (%s); tightened to 0700 (directories) and 0600 (files)",
            path,
            shown,
        )
    return path


def _tighten(root: Path) -> Iterator[str]:
    """Set the private modes under ``root``; yield a description of each path that others could access."""
    yield _set_mode(root, PRIVATE_DIRECTORY)
    for parent, directories, files in os.walk(root):  # never follows symlinks into other places
        for name in directories:
            yield _set_mode(Path(parent, name), PRIVATE_DIRECTORY)
        for name in files:
            yield _set_mode(Path(parent, name), PRIVATE_FILE)


def _set_mode(path: Path, mode: int) -> str:
    try:
        status = path.lstat()
        current = stat.S_IMODE(status.st_mode)
        if stat.S_ISLNK(status.st_mode) or current == mode:
            return ""
        os.chmod(path, mode)
    except OSError as exc:
        log.warning("warning: cannot make %s private: %s", path, exc.strerror)
        return ""
    return f"{path.name} {current:04o}" if current & 0o077 else ""


def create_private_parent(path: Path) -> None:
    """Make sure the folder that will hold ``path`` exists; one this creates is 0700 whatever the umask."""
    if not path.parent.is_dir():
        path.parent.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
        os.chmod(path.parent, PRIVATE_DIRECTORY)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; make an existing one 0600 (whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), PRIVATE_FILE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != PRIVATE_FILE:
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


# -- one owner ------------------------------------------------------------------------------------------------------
class DataDirectoryInUseError(DataDirectoryError):
    """Another live ``serve`` owns the data directory."""


@dataclass(frozen=True)
class Owner:
    """Who holds the data directory: the processes and the public URL they serve."""

    pids: tuple[int, ...]
    url: str | None


class ServerLock:
    """The running server's claim on its data directory; released by :meth:`release` or when the process ends."""

    def __init__(self, data_dir: Path, fd: int, owner: Owner) -> None:
        self._data_dir = data_dir
        self._fd = fd
        self.owner = owner

    def publish(self, url: str) -> None:
        """Record the URL once the port is known (``--port 0``), for the message a second server prints."""
        with _gate(self._data_dir):
            current = _read_owner(self._fd)
            pids = current.pids if os.getpid() in current.pids else (os.getpid(),)
            self.owner = Owner(pids, url if current.url is None else current.url)
            _write_owner(self._fd, self.owner)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1


def claim(data_dir: Path, public_url: str | None) -> ServerLock:
    """Own ``data_dir`` for this process, or share it with servers started with the same ``public_url``.

    ``public_url`` is the explicit ``--public-url`` (None: this server does not share). Raises
    :class:`DataDirectoryInUseError` when another live server owns the directory and may not be joined.
    """
    me = os.getpid()
    with _gate(data_dir):
        path = data_dir / LOCK_FILE
        create_private_file(path)
        fd = os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(fd)
                if public_url is None or owner.url != public_url:
                    raise DataDirectoryInUseError(_in_use_message(data_dir, owner, public_url)) from None
                # Every holder holds a shared lock and every starter holds the gate: this does not block.
                fcntl.flock(fd, fcntl.LOCK_SH)
                owner = Owner((*(p for p in owner.pids if _alive(p)), me), owner.url)
            else:
                owner = Owner((me,), public_url)
                # Shared from now on, so that a server with the same --public-url can join; converting is safe
                # under the gate, where every other starter waits.
                fcntl.flock(fd, fcntl.LOCK_SH)
            _write_owner(fd, owner)
        except BaseException:
            os.close(fd)
            raise
    return ServerLock(data_dir, fd, owner)


@contextlib.contextmanager
def _gate(data_dir: Path) -> Iterator[None]:
    """Serialise claims on one data directory: an exclusive flock on the directory itself, held only briefly."""
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _in_use_message(data_dir: Path, owner: Owner, public_url: str | None) -> str:
    live = [p for p in owner.pids if _alive(p)] or list(owner.pids)
    who = f"PID {live[0]}" if len(live) == 1 else "PIDs " + ", ".join(str(p) for p in live)
    where = f" at {owner.url}" if owner.url else " (still starting)"
    fix = "stop it or choose another --data-dir"
    if owner.url and public_url is not None:
        fix += f"; servers share a data directory only with the same --public-url ({owner.url})"
    elif owner.url:
        fix += f", or start both with --public-url {owner.url} to share it"
    return f"data directory {data_dir} is in use by {who}{where}: {fix}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_owner(fd: int) -> Owner:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 64 * 1024)
    try:
        document = json.loads(raw or b"{}")
        pids = tuple(int(p) for p in document.get("pids", []))
        url = document.get("url")
        return Owner(pids, url if isinstance(url, str) else None)
    except (ValueError, TypeError, AttributeError):
        return Owner((), None)


def _write_owner(fd: int, owner: Owner) -> None:
    data = json.dumps({"pids": list(owner.pids), "url": owner.url}).encode()
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)
