"""Files named by scanned content are read only inside the scanned tree, never through FIFOs or devices."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from armscan.config import ConfigError
from armscan.config import load as load_config
from armscan.gate import apply_inline
from armscan.model import Confidence, Effort, Finding, Location, Severity, SkipReason, WorkKind
from armscan.python.requirements import read_requirements_file
from armscan.sources.confined import RefusedFile, open_confined, read_confined, tree_root

SECRET = "TOKEN=do-not-copy"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, str]:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text(SECRET)
    (tree / "sub" / "inside.txt").write_text("inside\n")
    return tree, tree_root(tree)


def refusal(path: Path | str, root: str | None) -> tuple[SkipReason, str]:
    with pytest.raises(RefusedFile) as caught:
        read_confined(path, root, 1 << 20)
    return caught.value.reason, caught.value.detail


def test_inside_files_and_links_within_the_tree_are_read(layout: tuple[Path, str]) -> None:
    tree, root = layout
    (tree / "link.txt").symlink_to(tree / "sub" / "inside.txt")
    assert read_confined(tree / "sub" / "inside.txt", root, 100) == b"inside\n"
    assert read_confined(tree / "link.txt", root, 100) == b"inside\n"


def test_outside_paths_links_and_swapped_folders_are_refused(layout: tuple[Path, str]) -> None:
    tree, root = layout
    outside = tree.parent / "outside"
    (tree / "secret-link.txt").symlink_to(outside / "secret.txt")
    (tree / "swapped").symlink_to(outside)  # a folder replaced by a link out after the walk
    expected = (SkipReason.OUTSIDE_TREE, "outside the scanned tree; not read")
    assert refusal(outside / "secret.txt", root) == expected
    assert refusal(tree / "secret-link.txt", root) == expected
    assert refusal(tree / "swapped" / "secret.txt", root) == expected
    assert refusal(tree / "sub" / ".." / ".." / "outside" / "secret.txt", root) == expected
    assert refusal("/proc/self/environ", root) == expected


def test_fifos_and_devices_are_never_opened(layout: tuple[Path, str]) -> None:
    tree, root = layout
    os.mkfifo(tree / "pipe")
    done: list[tuple[SkipReason, str]] = []
    reader = threading.Thread(target=lambda: done.append(refusal(tree / "pipe", root)), daemon=True)
    reader.start()
    reader.join(10)
    assert done == [(SkipReason.SPECIAL_FILE, "not a regular file: named pipe (FIFO)")]
    assert refusal("/dev/zero", None) == (SkipReason.SPECIAL_FILE, "not a regular file: character device")
    assert refusal(tree / "missing", root) == (SkipReason.NOT_FOUND, "no such file")


def test_too_large_is_refused_not_truncated(layout: tuple[Path, str]) -> None:
    tree, root = layout
    with pytest.raises(RefusedFile) as caught:
        read_confined(tree / "sub" / "inside.txt", root, 3)
    assert caught.value.reason is SkipReason.TOO_LARGE
    with open_confined(tree / "sub" / "inside.txt", root) as fh:
        assert fh.read() == b"inside\n"


def test_requirement_includes_outside_the_tree_quote_nothing(layout: tuple[Path, str]) -> None:
    tree, root = layout
    outside = tree.parent / "outside"
    (tree / "requirements.txt").write_text(
        f"-r {outside / 'secret.txt'}\n-r /proc/self/environ\n-c ../outside/secret.txt\n-r sub/inside.txt\n"
        f"-f {outside}\n-i file://{outside}\n--extra-index-url https://example.invalid/simple/\nsix==1.16.0\n")
    result = read_requirements_file(tree / "requirements.txt", "requirements.txt", root=root)
    assert [(s.path, s.reason, s.detail) for s in result.skipped] == [
        (str(outside / "secret.txt"), SkipReason.OUTSIDE_TREE, "requirements file: outside the scanned tree; not read"),
        ("/proc/self/environ", SkipReason.OUTSIDE_TREE, "requirements file: outside the scanned tree; not read"),
        ("../outside/secret.txt", SkipReason.OUTSIDE_TREE, "requirements file: outside the scanned tree; not read"),
        ("requirements.txt:5", SkipReason.OUTSIDE_TREE,
         "-f names a local folder or file: URL outside the scanned tree; not read"),
        ("requirements.txt:6", SkipReason.OUTSIDE_TREE,
         "-i names a local folder or file: URL outside the scanned tree; not read"),
    ]
    assert [r.name for r in result.requirements] == ["inside", "six"]  # the include inside the tree is read
    assert result.find_links == [] and result.index_url is None
    assert result.extra_index_urls == ["https://example.invalid/simple/"]


def test_inline_suppression_pass_does_not_hang_on_a_fifo(layout: tuple[Path, str]) -> None:
    tree, root = layout
    os.mkfifo(tree / "swapped.c")
    finding = Finding("ARM-X", "t", Severity.HIGH, Confidence.HIGH, Effort.SMALL, WorkKind.PORT_SOURCE, "m", "a",
                      Location("swapped.c", line=1))
    done: list[list[Finding]] = []
    worker = threading.Thread(
        target=lambda: done.append(apply_inline([finding], {"swapped.c": (str(tree / "swapped.c"), root)})),
        daemon=True)
    worker.start()
    worker.join(10)
    assert done == [[finding]]


def test_settings_found_in_the_tree_name_nothing_outside_it(layout: tuple[Path, str]) -> None:
    tree, _ = layout
    (tree / ".armscan.toml").write_text('baseline = "../outside/secret.txt"\n')
    with pytest.raises(ConfigError, match="baseline names a file outside the folder the settings file is in"):
        load_config(None, [tree])
    (tree / ".armscan.toml").write_text('baseline = "sub/inside.txt"\n')
    assert load_config(None, [tree]).path("baseline") == str(tree / "sub" / "inside.txt")
    (tree / ".armscan.toml").unlink()
    (tree / ".armscan.toml").symlink_to(tree.parent / "outside" / "secret.txt")
    with pytest.raises(ConfigError, match="unreadable: outside the scanned tree; not read") as caught:
        load_config(None, [tree])
    assert SECRET not in str(caught.value)
