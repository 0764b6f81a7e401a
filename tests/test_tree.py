"""The tree walk on hostile trees: ignore files, symlinks, special and unreadable files, odd names."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from armscan.model import SkipReason
from armscan.sources.tree import FileEntry, walk
from tests.conftest import BIN, scan


def files_of(root: Path, **kw) -> list[str]:
    return sorted(item.display for item in walk(str(root), "", **kw) if isinstance(item, FileEntry))


def skipped_of(root: Path) -> dict[str, SkipReason]:
    return {item.path: item.reason for item in walk(str(root), "") if not isinstance(item, FileEntry)}


def test_gitignore_armscanignore_and_excludes(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.o").write_text("x")
    (tmp_path / "src" / "gen").mkdir(parents=True)
    (tmp_path / "src" / "a.c").write_text("x")
    (tmp_path / "src" / "keep.o").write_text("x")
    (tmp_path / "src" / "drop.o").write_text("x")
    (tmp_path / "src" / "gen" / "g.c").write_text("x")
    (tmp_path / "vendor.c").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("x")
    (tmp_path / ".gitignore").write_text("build/\n*.o\n")
    (tmp_path / "src" / ".gitignore").write_text("!keep.o\n")
    (tmp_path / ".armscanignore").write_text("src/gen/\n")
    assert files_of(tmp_path) == [".armscanignore", ".gitignore", "src/.gitignore", "src/a.c", "src/keep.o",
                                  "vendor.c"]
    assert "vendor.c" not in files_of(tmp_path, excludes=("vendor.*",))
    everything = files_of(tmp_path, use_ignore_files=False)
    assert "build/out.o" in everything and "src/gen/g.c" in everything and ".git/config" not in everything


def test_symlinks_are_never_followed_out_or_round(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.so").write_bytes((BIN / "libmix-x86_64.so").read_bytes())
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "real.c").write_text("int x;\n")
    os.symlink(outside / "secret.so", tree / "out-file")
    os.symlink(outside, tree / "out-dir")
    os.symlink(tree, tree / "self")
    os.symlink(tree / "real.c", tree / "inside-link.c")
    os.symlink(tree / "missing", tree / "broken")
    os.symlink(tree / "loop-b", tree / "loop-a")
    os.symlink(tree / "loop-a", tree / "loop-b")
    assert files_of(tree) == ["real.c"]
    assert skipped_of(tree) == {
        "broken": SkipReason.SYMLINK_BROKEN,
        "loop-a": SkipReason.SYMLINK_LOOP,
        "loop-b": SkipReason.SYMLINK_LOOP,
        "out-dir": SkipReason.SYMLINK_OUTSIDE,
        "out-file": SkipReason.SYMLINK_OUTSIDE,
    }
    result = scan(tree)
    assert result.artifacts == () and result.findings == ()


def test_fifo_and_socket_are_skipped_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.c")
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        result = scan(tmp_path)
    finally:
        sock.close()
    assert {(s.path.rsplit("/", 1)[-1], s.reason) for s in result.skipped} == {
        ("pipe.c", SkipReason.SPECIAL_FILE),
        ("sock", SkipReason.SPECIAL_FILE),
    }


def test_non_utf8_names_are_scanned_and_shown_escaped(tmp_path: Path) -> None:
    name = os.fsencode(tmp_path) + b"/caf\xe9-\xff.so"
    with open(name, "wb") as fh:
        fh.write((BIN / "libmix-x86_64.so").read_bytes())
    result = scan(tmp_path, display="t")
    assert [a.path for a in result.artifacts] == ["t/caf\\xe9-\\xff.so"]
    assert [f.location.path for f in result.findings] == ["t/caf\\xe9-\\xff.so"]
    from armscan.reporters import json_report

    assert "caf\\\\xe9" in json_report.render(result)


def test_file_that_vanishes_before_analysis_is_skipped(tmp_path: Path) -> None:
    from armscan.analyzers.files import analyze_file
    from armscan.limits import Limits
    from armscan.rules_engine.loader import load_rules

    out = analyze_file(str(tmp_path / "gone.c"), "gone.c", load_rules(), Limits())
    assert [(s.path, s.reason) for s in out.skipped] == [("gone.c", SkipReason.VANISHED)]


def test_missing_input_is_recorded(tmp_path: Path) -> None:
    result = scan(tmp_path / "nope")
    assert [(s.reason) for s in result.skipped] == [SkipReason.NOT_FOUND]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_unreadable_files_and_folders_as_an_unprivileged_user() -> None:
    """As root nothing is unreadable, so the scan runs as nobody over a tree nobody cannot fully read."""
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="armscan-unreadable-"))
    tree = tmp_path / "tree"
    (tree / "locked").mkdir(parents=True)
    (tree / "locked" / "inner.c").write_text("int x;\n")
    (tree / "secret.so").write_bytes((BIN / "libmix-x86_64.so").read_bytes())
    (tree / "open.c").write_text("#include <immintrin.h>\n")
    os.chmod(tree / "locked", 0o000)
    os.chmod(tree / "secret.so", 0o000)
    for folder in (tmp_path, tree):
        os.chmod(folder, 0o755)
    code = (
        "import json,sys; from tests.conftest import scan; from armscan.reporters import json_report;"
        f"print(json_report.render(scan({str(tree)!r}, display='tree')))"
    )
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-c", code],
        capture_output=True, text=True, cwd=repo, timeout=60,
        env={**os.environ, "PYTHONPATH": str(repo), "HOME": str(tmp_path)},
    )
    if proc.returncode != 0 and "Permission denied" in proc.stderr and "python" in proc.stderr.lower():
        pytest.skip("the interpreter is not readable by nobody here")
    os.chmod(tree / "locked", 0o755)
    shutil.rmtree(tmp_path)
    assert proc.returncode == 0, proc.stderr
    import json

    doc = json.loads(proc.stdout)
    assert {(s["path"], s["reason"]) for s in doc["skipped"]} == {
        ("tree/locked", "unreadable"),
        ("tree/secret.so", "unreadable"),
    }
    assert [f["rule_id"] for f in doc["findings"]] == ["ARM-C-INTRIN-HEADER"]
