"""A bounded copy of a scanned tree in a scratch folder, for build steps that write into their source tree
(autoreconf, a configure run in a tree configured in place, Meson unpacking its wraps, the $(shell ...) calls of
a Makefile's dry run), and the way back from the copy's paths to the user's files."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from armscan.compile.commands import CompileCommand, CompileSetupError
from armscan.sources.confined import inside
from armscan.sources.tree import VCS_FOLDERS

MAX_FILES = 50_000
MAX_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class TreeCopy:
    source: str  # the real path of the user's tree
    copy: str  # the real path of its copy

    def original(self, path: str) -> str:
        """The user's file a path in the copy stands for; any other path (a system header, a file the build
        generated in the copy) as it is."""
        real = os.path.realpath(path)
        if not inside(real, self.copy):
            return path
        mapped = os.path.normpath(os.path.join(self.source, os.path.relpath(real, self.copy)))
        return mapped if os.path.lexists(mapped) else path

    def in_users_tree(self, commands: list[CompileCommand]) -> list[CompileCommand]:
        """Commands that compile files of the copy, named by the user's files (they still compile the copy)."""
        return [replace(c, file=self.original(c.file)) for c in commands]


def copy_tree(root: Path, destination: Path, why: str) -> TreeCopy:
    """Copy root to destination, VCS folders left out. A symbolic link that resolves inside the tree becomes a
    relative link to the same place in the copy; one that leads out of it is left out, as the scan leaves it
    out: a build writing through a link would write outside the copy. Refused above MAX_FILES or MAX_BYTES."""
    real_root = os.path.realpath(root)
    destination.mkdir(parents=True)
    files = size = 0
    pending = [""]
    try:
        while pending:
            folder = pending.pop()
            with os.scandir(os.path.join(real_root, folder)) as listing:
                for entry in listing:
                    relative = os.path.join(folder, entry.name)
                    target = destination / relative
                    if entry.is_symlink():
                        _link(entry.path, real_root, destination, target)
                    elif entry.is_dir(follow_symlinks=False):
                        if entry.name not in VCS_FOLDERS:
                            target.mkdir()
                            pending.append(relative)
                    elif entry.is_file(follow_symlinks=False):
                        files += 1
                        size += entry.stat(follow_symlinks=False).st_size
                        if files > MAX_FILES or size > MAX_BYTES:
                            raise CompileSetupError(
                                f"the tree is too large to copy for {why} (more than {MAX_FILES} files or "
                                f"{MAX_BYTES // 2**20} MiB, VCS folders left out): give its compile_commands.json "
                                "with --compile-commands")
                        shutil.copy2(entry.path, target, follow_symlinks=False)
                    # FIFOs, sockets and devices: nothing a build reads
    except OSError as e:
        raise CompileSetupError(f"copying the tree for {why} failed: {e.strerror or e}: {e.filename}") from e
    return TreeCopy(real_root, os.path.realpath(destination))


def _link(path: str, real_root: str, destination: Path, target: Path) -> None:
    resolved = os.path.realpath(path)
    if resolved != real_root and inside(resolved, real_root):
        twin = destination / os.path.relpath(resolved, real_root)
        os.symlink(os.path.relpath(twin, target.parent), target)
