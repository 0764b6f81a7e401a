"""Units behind the source rules: Go build constraints, #if structure, counterpart names, Dockerfile joins."""

from __future__ import annotations

import pytest

from armscan.analyzers.conditionals import Conditionals
from armscan.analyzers.counterparts import base_name, is_arm_named, is_x86_named
from armscan.analyzers.golang import evaluate
from armscan.analyzers.source import _join_continuations
from armscan.analyzers.text import LineIndex
from armscan.model import PortStatus


@pytest.mark.parametrize(
    ("expr", "amd64", "arm64"),
    [
        ("amd64", True, False),
        ("amd64 && !purego", True, False),
        ("!amd64", False, True),
        ("arm64 || amd64", True, True),
        ("linux && (amd64 || 386)", True, False),
        ("(amd64 || arm64) && gc && !purego", True, True),
        ("!(amd64 || 386) || purego", False, True),
    ],
)
def test_go_build_constraints(expr: str, amd64: bool, arm64: bool) -> None:
    assert evaluate(expr, "amd64") is amd64
    assert evaluate(expr, "arm64") is arm64


@pytest.mark.parametrize("expr", ["amd64 &&", "(amd64", "amd64 arm64", "&&"])
def test_bad_go_build_constraints_raise(expr: str) -> None:
    with pytest.raises(ValueError):
        evaluate(expr, "amd64")


def conditionals(text: str) -> Conditionals:
    return Conditionals(text, LineIndex(text))


def test_guard_states() -> None:
    text = "\n".join([
        "#ifdef __SSE2__",        # 1
        "sse();",                 # 2
        "#else",                  # 3
        "generic();",             # 4
        "#endif",                 # 5
        "plain();",               # 6
        "#ifdef NDEBUG",          # 7
        "debug();",               # 8
        "#endif",                 # 9
    ])
    c = conditionals(text)
    assert c.state_of(2) is PortStatus.FALLBACK
    assert c.state_of(4) is PortStatus.UNPORTED
    assert c.state_of(6) is PortStatus.UNPORTED
    assert c.state_of(8) is PortStatus.UNPORTED
    assert not c.has_arm_path and not c.unbalanced


def test_arm_branch_makes_x86_branch_ported() -> None:
    text = "#if defined(__x86_64__)\nx86();\n#elif defined(__aarch64__)\narm();\n#endif\nafter();\n"
    c = conditionals(text)
    assert c.state_of(2) is PortStatus.PORTED
    assert c.state_of(6) is PortStatus.UNPORTED  # outside any conditional, even in a ported file


def test_continued_directive_and_unbalanced_file() -> None:
    text = "#if defined(__x86_64__) || \\\n    defined(_M_X64)\nx86();\n"
    c = conditionals(text)
    assert c.unbalanced
    (chain,) = c.chains
    assert chain.branches[0].condition == "defined(__x86_64__) || defined(_M_X64)"
    assert c.state_of(3) is PortStatus.FALLBACK


@pytest.mark.parametrize(
    ("name", "x86", "arm", "base"),
    [
        ("filter_sse41.c", True, False, "filter"),
        ("filter_neon.c", False, True, "filter"),
        ("crc32_x86_64.S", True, False, "crc32"),
        ("crc32-aarch64.S", False, True, "crc32"),
        ("libcodec.so.1", False, False, "libcodec_so"),
        ("armadillo.c", False, False, "armadillo"),
        ("sum_avx2.c", True, False, "sum"),
    ],
)
def test_counterpart_names(name: str, x86: bool, arm: bool, base: str) -> None:
    assert (is_x86_named(name), is_arm_named(name), base_name(name)) == (x86, arm, base)


def test_dockerfile_join_keeps_offsets() -> None:
    text = "RUN a \\\n# note\n    b \\\n    c\nRUN d\n"
    joined = _join_continuations(text)
    assert len(joined) == len(text)
    assert joined.splitlines()[0].split() == ["RUN", "a", "b", "c"]
    assert joined.endswith("RUN d\n")
