"""The aarch64 compile commands of a project armscan configures itself in a scratch folder: CMake, Meson,
autotools or a Makefile's dry run, in that order of preference when several are at the top of the tree. The
user's tree is never written to: steps that write into their source tree work on a copy of it."""

from __future__ import annotations

import os
from pathlib import Path

from armscan.compile.autotools import autotools_commands, is_autotools
from armscan.compile.cmake import cmake_commands
from armscan.compile.commands import CompileSetupError, Generated
from armscan.compile.dryrun import dry_run
from armscan.compile.meson import has_wraps, meson_commands
from armscan.compile.toolchain import Toolchain
from armscan.compile.treecopy import copy_tree

MAKEFILES = ("GNUmakefile", "makefile", "Makefile")


MAX_DEPTH = 3  # folders below the top searched for the project's build, when none is at the top
MAX_FOLDERS = 2000
_NOT_THE_PROJECT = frozenset({"third_party", "third-party", "thirdparty", "3rdparty", "vendor", "vendored", "external",
                              "extern", "deps", "contrib", "subprojects", "build", "cmake", "m4", "scripts", "tools"})


def generate(root: Path, toolchain: Toolchain, scratch: Path) -> Generated:
    """Configure the project at root for aarch64 in `scratch`; a tree with no build at its top but one build
    in a folder below (BLAKE3's c/, LMDB's libraries/liblmdb/) is configured there."""
    root = Path(os.path.abspath(root))  # the steps run in other folders
    if not _has_build(root):
        below = _builds_below(root)
        if len(below) == 1:
            generated = _generate(below[0], toolchain, scratch)
            where = below[0].relative_to(root).as_posix()
            return Generated(generated.commands, f"{generated.how}, in {where}/", generated.copy)
        if below:
            shown = ", ".join(f"{b.relative_to(root).as_posix()}/" for b in below[:6])
            raise CompileSetupError(f"no build at the top of the tree, and several below it ({shown}): scan the "
                                    "one to check, or give a compile_commands.json with --compile-commands")
    return _generate(root, toolchain, scratch)


def _has_build(folder: Path) -> bool:
    names = ("CMakeLists.txt", "meson.build", "configure", "configure.ac", *MAKEFILES)
    return any((folder / name).is_file() for name in names)


def _builds_below(root: Path) -> list[Path]:
    """The shallowest product folders (not tests, examples, docs or vendored code) that hold a build."""
    from armscan.scopes import classify

    level, seen = [root], 0
    for _ in range(MAX_DEPTH):
        below: list[Path] = []
        for folder in level:
            try:
                children = sorted((e for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)),
                                  key=lambda e: e.name)
            except OSError:
                continue
            for child in children:
                seen += 1
                relative = Path(child.path).relative_to(root).as_posix()
                if (seen > MAX_FOLDERS or child.name.startswith(".") or child.name.lower() in _NOT_THE_PROJECT
                        or classify(relative + "/x") != "product"):
                    continue
                below.append(Path(child.path))
        found = [folder for folder in below if _has_build(folder)]
        if found:
            return found
        level = below
    return []


def _generate(root: Path, toolchain: Toolchain, scratch: Path) -> Generated:
    scratch.mkdir(parents=True, exist_ok=True)
    if (root / "CMakeLists.txt").is_file():
        return Generated(cmake_commands(root, toolchain, scratch), "CMake, configured for aarch64")
    if (root / "meson.build").is_file():
        return _meson(root, toolchain, scratch)
    if is_autotools(root):
        return autotools_commands(root, toolchain, scratch)
    if any((root / name).is_file() for name in MAKEFILES):
        # make -n still runs $(shell ...) calls and recursive makes, and Makefiles' probes write beside them
        copy = copy_tree(root, scratch / "tree", "make -n (it runs the Makefile's $(shell ...) calls)")
        commands = dry_run(Path(copy.copy), toolchain, (f"CC={toolchain.cc}", f"CXX={toolchain.cxx}"))
        return Generated(copy.in_users_tree(commands),
                         "the Makefile's dry run (make -n) with the aarch64 compilers, on a copy of the tree", copy)
    raise CompileSetupError("no CMakeLists.txt, meson.build, configure script or Makefile at the top of the tree: "
                            "give a compile_commands.json with --compile-commands")


def _meson(root: Path, toolchain: Toolchain, scratch: Path) -> Generated:
    how = "Meson, set up for aarch64 with a cross file"
    if not has_wraps(root):
        return Generated(meson_commands(root, toolchain, scratch), how)
    copy = copy_tree(root, scratch / "tree", "Meson (it unpacks wraps into the tree)")
    commands = meson_commands(Path(copy.copy), toolchain, scratch)
    return Generated(copy.in_users_tree(commands), f"{how}, on a copy of the tree", copy)
