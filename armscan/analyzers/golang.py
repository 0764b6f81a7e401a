"""Built-in check: Go files built only for amd64 (or 386), judged against their package's other files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from armscan.model import PortStatus

if TYPE_CHECKING:
    from armscan.analyzers.source import Hit, SourceFile
    from armscan.rules_engine.loader import Rule

_GOOS = {"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl",
         "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos"}
_GOARCH = {"386", "amd64", "amd64p32", "arm", "arm64", "arm64be", "armbe", "loong64", "mips", "mips64",
           "mips64le", "mipsle", "ppc", "ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x", "sparc",
           "sparc64", "wasm"}
_X86 = ("amd64", "386")
_BUILD_LINE = re.compile(r"^//go:build\s+(.+)$", re.MULTILINE)
_PLUS_BUILD = re.compile(r"^//\s*\+build\s+(.+)$", re.MULTILINE)
_TOKEN = re.compile(r"\s*(&&|\|\||!|\(|\)|[\w.]+)")
_GO_ASM = re.compile(r"^[ \t]*TEXT\s+\S*·", re.MULTILINE)
_PACKAGE = re.compile(r"^package\s+\w+", re.MULTILINE)


def _tokens(expr: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if not match:
            raise ValueError(f"bad build constraint {expr!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def evaluate(expr: str, goarch: str, goos: str = "linux") -> bool:
    """Evaluate a //go:build expression the way the go tool does for GOOS/GOARCH (no custom tags)."""
    tokens = _tokens(expr)
    pos = 0

    def tag(name: str) -> bool:
        if name in ("gc", "cgo", goos, goarch) or (goos == "linux" and name == "unix"):
            return True
        return name.startswith("go1.")

    def parse_or() -> bool:
        nonlocal pos
        value = parse_and()
        while pos < len(tokens) and tokens[pos] == "||":
            pos += 1
            value = parse_and() or value
        return value

    def parse_and() -> bool:
        nonlocal pos
        value = parse_not()
        while pos < len(tokens) and tokens[pos] == "&&":
            pos += 1
            value = parse_not() and value
        return value

    def parse_not() -> bool:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"bad build constraint {expr!r}")
        token = tokens[pos]
        pos += 1
        if token == "!":
            return not parse_not()
        if token in ("&&", "||", ")"):
            raise ValueError(f"bad build constraint {expr!r}")
        if token == "(":
            value = parse_or()
            if pos >= len(tokens) or tokens[pos] != ")":
                raise ValueError(f"bad build constraint {expr!r}")
            pos += 1
            return value
        return tag(token)

    result = parse_or()
    if pos != len(tokens):
        raise ValueError(f"bad build constraint {expr!r}")
    return result


def _constraint(head: str) -> str | None:
    header = head.split("\npackage ", 1)[0]
    match = _BUILD_LINE.search(header)
    if match:
        return match.group(1).strip()
    plus = _PLUS_BUILD.findall(header)
    if plus:  # old syntax: space means OR, comma means AND, lines are ANDed
        return " && ".join("(" + " || ".join(t.replace(",", " && ") for t in line.split()) + ")" for line in plus)
    return None


def _name_arch(name: str) -> str | None:
    stem = name.rsplit(".", 1)[0]
    if stem.endswith("_test"):
        stem = stem[:-5]
    parts = stem.split("_")
    if len(parts) >= 2 and parts[-1] in _GOARCH:
        return parts[-1]
    if len(parts) >= 3 and parts[-1] in _GOARCH and parts[-2] in _GOOS:
        return parts[-1]
    return None


def _builds_for(name: str, head: str, goarch: str) -> bool | None:
    arch = _name_arch(name)
    if arch is not None and arch != goarch:
        return False
    expr = _constraint(head)
    if expr is None:
        return True
    try:
        return evaluate(expr, goarch)
    except ValueError:
        return None


def arch_file(source: SourceFile, rule: Rule) -> Iterator[Hit]:
    name = source.name
    if name.endswith(".s") and not _GO_ASM.search(source.text):
        return
    if not (name.endswith((".go", ".s"))):
        return
    my_x86 = [arch for arch in _X86 if _builds_for(name, source.text, arch)]
    on_arm = _builds_for(name, source.text, "arm64")
    if not my_x86 or on_arm is not False:
        return
    base = name.rsplit(".", 1)[0]
    for suffix in ("_amd64", "_386"):
        base = base.replace(suffix, "")
    state, variant = PortStatus.UNPORTED, "no-counterpart"
    fallback = False
    for other in source.siblings.names():
        if other == name or not other.endswith((".go", ".s")) or other.endswith("_test.go"):
            continue
        if other.startswith(base + "_arm64."):
            state, variant = PortStatus.PORTED, "no-counterpart"
            break
        head = source.siblings.read_head(other)
        if other.endswith(".s") and not _GO_ASM.search(head):
            continue
        arm = _builds_for(other, head, "arm64")
        if arm and (_name_arch(other) == "arm64" or "arm64" in (_constraint(head) or "")):
            state = PortStatus.PORTED
        elif arm and any(_builds_for(other, head, a) is False for a in my_x86):
            fallback = True
    if state is not PortStatus.PORTED and fallback:
        variant = "fallback"
    match = (_BUILD_LINE.search(source.text) or _PLUS_BUILD.search(source.text) or _GO_ASM.search(source.text)
             or _PACKAGE.search(source.text))
    if match:
        yield source.hit_at(match.start(), match.end(), state, variant=variant)
    else:
        first = source.text.find("\n")
        yield source.hit_at(0, first if first >= 0 else len(source.text), state, variant=variant)
