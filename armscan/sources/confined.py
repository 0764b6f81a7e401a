"""Open files that a scanned file names, or that sit beside it, without ever reading outside the scanned tree.

Scanned content is the attacker's: a `-r /proc/self/environ` include, a `gradle.properties` symlinked to a
secret, a folder swapped for a symlink between the walk and the read, a FIFO where a file was. Every such open
goes through here: the path must be a regular file (a FIFO or device is never opened), must resolve inside
the tree (asked of the opened descriptor, so a swap between the check and the read changes nothing), and is
read up to a limit.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from armscan.model import SkipReason

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


class RefusedFile(OSError):
    """A file that was not read, and why; the message never quotes its content. An OSError, so that code which
    already treats an unreadable file as such treats a refused one the same way."""

    def __init__(self, reason: SkipReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.strerror = detail


def tree_root(path: str | Path) -> str:
    """The real folder a scanned input stands for: the folder itself, or a file's folder."""
    real = os.path.realpath(path)
    return real if os.path.isdir(real) else os.path.dirname(real)


def inside(real_path: str, root: str) -> bool:
    return real_path == root or real_path.startswith(root.rstrip("/") + "/")


def open_confined(path: str | Path, root: str | None) -> BinaryIO:
    """Open a regular file for reading; with a root, only when it resolves inside that (real) folder."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise RefusedFile(SkipReason.SPECIAL_FILE, f"not a regular file: {file_kind(st.st_mode)}")
        fd = os.open(path, _FLAGS)
    except RefusedFile:
        raise
    except OSError as e:
        raise refused(e) from e
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise RefusedFile(SkipReason.SPECIAL_FILE, f"not a regular file: {file_kind(opened.st_mode)}")
        if root is not None and not inside(_real_path_of(fd, path, opened), root):
            raise RefusedFile(SkipReason.OUTSIDE_TREE, "outside the scanned tree; not read")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_confined(path: str | Path, root: str | None, limit: int) -> bytes:
    """The whole file, refused as too large past `limit` bytes."""
    with open_confined(path, root) as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as e:
            raise refused(e) from e
    if len(data) > limit:
        raise RefusedFile(SkipReason.TOO_LARGE, f"larger than {limit} bytes; not read")
    return data


def refused(error: OSError) -> RefusedFile:
    if isinstance(error, FileNotFoundError):
        return RefusedFile(SkipReason.NOT_FOUND, "no such file")
    if error.errno == errno.ELOOP:
        return RefusedFile(SkipReason.SYMLINK_LOOP, "symlink loop")
    if isinstance(error, PermissionError):
        return RefusedFile(SkipReason.UNREADABLE, "permission denied")
    return RefusedFile(SkipReason.UNREADABLE, error.strerror or type(error).__name__)


def _real_path_of(fd: int, path: str, opened: os.stat_result) -> str:
    """Where the descriptor really points: the kernel's word where it gives one, else the resolved name,
    accepted only when it is the same file as the one opened. Asked once, of the open file: resolving the name
    beforehand too would cost a lookup per folder of the path, for every file of a deep tree."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass
    real = os.path.realpath(path)
    try:
        now = os.stat(real)
    except OSError:
        return "/"
    return real if (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino) else "/"


def file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISDIR(mode):
        return "folder"
    return f"special file (mode {stat.filemode(mode)})"
