"""Walk a code tree: honour ignore files, never follow a symlink out or round, record what is skipped."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from pathspec import GitIgnoreSpec

from armscan.model import Skipped, SkipReason
from armscan.sources.confined import RefusedFile, file_kind, open_confined

VCS_FOLDERS = frozenset({".git", ".hg", ".svn", ".bzr", "CVS", "_darcs", ".jj", ".pijul"})
IGNORE_FILES = (".gitignore", ".armscanignore")


@dataclass(frozen=True)
class FileEntry:
    path: str
    display: str
    size: int
    root: str  # the real folder of the scanned input it was found under: nothing it names is read outside


def printable(path: str) -> str:
    """A path as text that is valid UTF-8: bytes that are not are shown as \\xNN."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _join(display_root: str, rel: str) -> str:
    if display_root in ("", "."):
        return rel
    return f"{display_root.rstrip('/')}/{rel}"


class _Ignores:
    """The ignore specs in force in one folder: its own ignore files (`specs`), then its ancestors' (`parent`).

    As git does, a pattern without a slash is matched against the entry's name alone (its folders were
    matched when the walk reached them), so a folder's decision for a name holds for every folder below it
    that adds only such patterns: it is remembered, and a deep tree of ignore files costs no more per entry
    than a shallow one. Other patterns are matched against the path below their ignore file's folder.
    """

    def __init__(self, specs: tuple[tuple[str, GitIgnoreSpec], ...], parent: _Ignores | None = None) -> None:
        self.specs = specs
        self.parent = parent
        self._by_name = tuple(_names_only(spec) for _, spec in specs)
        self.names_only: bool = all(self._by_name) and (parent is None or parent.names_only)
        self._memo: dict[str, bool | None] = {}

    def ignored(self, rel: str, is_dir: bool) -> bool:
        candidate = rel + "/" if is_dir else rel
        name = candidate[candidate.rfind("/", 0, len(candidate) - 1) + 1 :]
        level: _Ignores | None = self
        decided: bool | None = None
        unknown: list[_Ignores] = []
        while level is not None:
            if level.names_only and name in level._memo:
                decided = level._memo[name]
                break
            if level.names_only:
                unknown.append(level)
            decided = level._own(candidate, name)
            if decided is not None:
                break
            level = level.parent
        for below in unknown:  # each said nothing of its own: what decided above holds for them too
            if len(below._memo) < _MEMO_NAMES:
                below._memo[name] = decided
        return bool(decided)

    def _own(self, candidate: str, name: str) -> bool | None:
        for (base, spec), by_name in zip(reversed(self.specs), reversed(self._by_name), strict=True):
            local = name if by_name else candidate[len(base) + 1 :] if base else candidate
            include = spec.check_file(local).include
            if include is not None:
                return include
        return None

    def extended(self, folder: str, rel: str, skipped: list[Skipped], display: str, root: str) -> _Ignores:
        added = []
        for name in IGNORE_FILES:
            path = os.path.join(folder, name)
            try:
                with open_confined(path, root) as fh:
                    lines = fh.read(1024 * 1024).decode("utf-8", "replace").splitlines()
            except RefusedFile as e:
                if e.reason is not SkipReason.NOT_FOUND:
                    skipped.append(Skipped(_join(display, name), e.reason, f"ignore file: {e.detail}"))
                continue
            except OSError as e:
                skipped.append(Skipped(_join(display, name), SkipReason.UNREADABLE, f"ignore file: {e.strerror}"))
                continue
            try:
                added.append((rel, GitIgnoreSpec.from_lines(lines)))
            except (ValueError, TypeError) as e:
                skipped.append(Skipped(_join(display, name), SkipReason.MALFORMED, f"ignore file: {e}"))
        return _Ignores(tuple(added), self) if added else self


_MEMO_NAMES = 4096
_ANY_FOLDERS = "^(?:.+/)?"  # how pathspec begins the expression of a pattern without a slash
_FOLDER_MARK = re.compile(r"\(\?:\(\?P<ps_d>/\)\|\$\)$|\(\?P<ps_d>/\)$")


def _names_only(spec: GitIgnoreSpec) -> bool:
    """Whether every pattern of the spec matches a name alone (no slash but a trailing one)."""
    for pattern in spec.patterns:
        if pattern.include is None:
            continue
        regex = getattr(pattern, "regex", None)
        text = getattr(regex, "pattern", None)
        if not isinstance(text, str) or not text.startswith(_ANY_FOLDERS):
            return False
        if "/" in _FOLDER_MARK.sub("", text[len(_ANY_FOLDERS):]).replace("[^/]", ""):
            return False
    return True


def walk(root: str, display_root: str, *, excludes: tuple[str, ...] = (), use_ignore_files: bool = True,
         ) -> Iterator[FileEntry | Skipped]:
    """Yield each regular file under root (or root itself when it is a file), and what was skipped."""
    try:
        st = os.stat(root)
    except FileNotFoundError as e:
        yield Skipped(printable(display_root), SkipReason.NOT_FOUND, e.strerror or str(e))
        return
    except OSError as e:
        reason = SkipReason.SYMLINK_LOOP if e.errno == errno.ELOOP else SkipReason.UNREADABLE
        yield Skipped(printable(display_root), reason, e.strerror or str(e))
        return
    if stat.S_ISREG(st.st_mode):
        yield FileEntry(root, printable(display_root), st.st_size, os.path.dirname(os.path.realpath(root)))
        return
    if not stat.S_ISDIR(st.st_mode):
        yield Skipped(printable(display_root), SkipReason.SPECIAL_FILE, file_kind(st.st_mode))
        return
    real_root = os.path.realpath(root)
    exclude_spec = _Ignores((("", GitIgnoreSpec.from_lines(excludes)),)) if excludes else None
    yield from _walk_folder(root, "", display_root, real_root, _Ignores(()), exclude_spec, use_ignore_files)


def _walk_folder(folder: str, rel: str, display_root: str, real_root: str, ignores: _Ignores,
                 excludes: _Ignores | None, use_ignore_files: bool) -> Iterator[FileEntry | Skipped]:
    stack = [(folder, rel, ignores)]
    while stack:
        folder, rel, ignores = stack.pop()
        display_folder = _join(display_root, rel) if rel else display_root
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            yield Skipped(printable(display_folder), SkipReason.VANISHED, "folder disappeared during the scan")
            continue
        except OSError as e:
            yield Skipped(printable(display_folder), SkipReason.UNREADABLE, f"folder unreadable: {e.strerror}")
            continue
        if use_ignore_files and any(e.name in IGNORE_FILES for e in entries):
            extra: list[Skipped] = []
            ignores = ignores.extended(folder, rel, extra, printable(display_folder), real_root)
            yield from extra
        subfolders = []
        for entry in entries:
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            display = printable(_join(display_root, child_rel))
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError as e:
                yield Skipped(display, SkipReason.UNREADABLE, e.strerror or str(e))
                continue
            if is_dir and entry.name in VCS_FOLDERS:
                continue
            if ignores.ignored(child_rel, is_dir) or (excludes is not None and excludes.ignored(child_rel, is_dir)):
                continue
            if is_link:
                skipped = _symlink(entry.path, real_root, display)
                if skipped is not None:
                    yield skipped
                continue
            if is_dir:
                subfolders.append((entry.path, child_rel, ignores))
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                yield Skipped(display, SkipReason.VANISHED, "file disappeared during the scan")
                continue
            except OSError as e:
                yield Skipped(display, SkipReason.UNREADABLE, e.strerror or str(e))
                continue
            if not stat.S_ISREG(st.st_mode):
                yield Skipped(display, SkipReason.SPECIAL_FILE, file_kind(st.st_mode))
                continue
            yield FileEntry(entry.path, display, st.st_size, real_root)
        stack.extend(reversed(subfolders))


def _symlink(path: str, real_root: str, display: str) -> Skipped | None:
    """A symlink is never followed: one inside the tree is scanned at its target, others are recorded."""
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return Skipped(display, SkipReason.SYMLINK_LOOP, "symlink loop")
        if isinstance(e, FileNotFoundError):
            return Skipped(display, SkipReason.SYMLINK_BROKEN, f"broken symlink to {printable(os.readlink(path))}")
        return Skipped(display, SkipReason.UNREADABLE, e.strerror or str(e))
    target = os.path.realpath(path)
    if target == real_root or target.startswith(real_root.rstrip("/") + "/"):
        return None
    return Skipped(display, SkipReason.SYMLINK_OUTSIDE,
                   "symlink to a path outside the scanned tree; not followed (scan that path directly)")
