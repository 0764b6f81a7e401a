"""A Makefile read as `make` on aarch64 would read it, as far as one file can tell.

Conditionals (ifeq/ifneq/ifdef/ifndef/else/endif) are evaluated with `uname -m` = aarch64 and the variables the
file sets; a variable it does not set is unknown (the environment or the command line may set it), and an
unknown condition leaves its lines as they are. A comparison with an x86 architecture name holds only on x86.
Recipes and target-specific variables of targets the default goal does not build (`bench32: CFLAGS += -m32`)
are optional. One pass over the lines, with string operations only (no regex that can backtrack over a line).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from armscan.analyzers.buildfiles import SOURCE_NAME, X86_NAMES, Frame, Listed, _source_key
from armscan.analyzers.buildfiles import live as live_at

if TYPE_CHECKING:
    from armscan.analyzers.buildfiles import Blocks
    from armscan.analyzers.text import LineIndex

Value = str | None
Tri = bool | None
_CONDITIONALS = ("ifeq", "ifneq", "ifdef", "ifndef")
_MAX_EXPAND = 8192
_MAX_DEPTH = 16
_MAX_LOGICAL = 1 << 16
_MAX_CONTINUED = 4096  # physical lines of one assignment whose sources are read
_MAX_GLOB_TRIES = 1_000_000
_DEFAULT_GOAL_FILES = frozenset({"Makefile", "makefile", "GNUmakefile"})
_MACHINE = re.compile(r"(?:uname\s+(?:-[mpi]|--machine|--processor)|arch)(?:\s+2>\s*/dev/null)?")
_DIRECTIVE = re.compile(r"(ifeq|ifneq|ifdef|ifndef|else|endif|define)(?![\w.-])[ \t]*")
_X86_SWITCH = re.compile(r"(?i)sse|avx|x86|x64|amd64|i386|mmx|bmi|fma")


@dataclass
class _Targets:
    rules: dict[str, list[str]] = field(default_factory=dict)  # target -> prerequisites (globs where not known)
    first: str | None = None
    scoped: list[tuple[list[str], int]] = field(default_factory=list)  # lines that apply to these targets only


def interpret(text: str, lines: LineIndex, name: str, blocks: Blocks) -> None:
    physical = text.split("\n")
    variables: dict[str, Value] = {}
    stack: list[Frame] = []
    targets = _Targets()
    recipe_of: list[str] | None = None
    i = 0
    while i < len(physical):
        first = i + 1
        raw = physical[i]
        logical = raw
        while physical[i].endswith("\\") and i + 1 < len(physical):
            i += 1
            if len(logical) < _MAX_LOGICAL:  # past it the line's words are not read, but its lines are passed
                logical = logical[:-1] + " " + physical[i].lstrip()
        i += 1
        live = live_at(stack)
        if raw.startswith("\t") and recipe_of is not None:
            if live is not False:
                targets.scoped.append((recipe_of, first))
            continue
        line = _strip_comment(logical).strip()
        if not line:
            continue  # blank and comment lines do not end a recipe
        directive = _DIRECTIVE.match(line)
        word, rest = (directive.group(1), line[directive.end():]) if directive else ("", line)
        if word in _CONDITIONALS:
            stack.append(Frame(live))
            stack[-1].enter(first, _condition(word, rest.strip(), variables), line)
            continue
        if word == "else" and stack:
            frame = stack[-1]
            frame.leave(first, blocks)
            nested = _DIRECTIVE.match(rest.strip())
            value: Tri = True
            if nested and nested.group(1) in _CONDITIONALS:
                value = _condition(nested.group(1), rest.strip()[nested.end():].strip(), variables)
            frame.enter(first, frame.next_value(value), line if nested else f"else of {frame.reason}")
            continue
        if word == "endif" and stack:
            stack[-1].leave(first, blocks)
            stack.pop()
            continue
        if word == "define":
            while i < len(physical) and physical[i].strip() != "endef":
                i += 1
            i += 1
            continue
        recipe_of = _statement(line, physical[first - 1:i], first, lines, live, variables, targets, blocks, stack)
    for frame in reversed(stack):
        frame.leave(lines.line_count + 1, blocks)
    if name in _DEFAULT_GOAL_FILES:
        _optional_targets(targets, variables, blocks)


def _strip_comment(line: str) -> str:
    at = line.find("#")
    while at > 0 and line[at - 1] == "\\":
        at = line.find("#", at + 1)
    return line if at < 0 else line[:at]


def _statement(line: str, raws: list[str], first: int, lines: LineIndex, live: Tri, variables: dict[str, Value],
               targets: _Targets, blocks: Blocks, stack: list[Frame]) -> list[str] | None:
    """An assignment or a rule; returns the targets whose recipe may follow."""
    if not line or line.startswith(("include ", "-include ", "sinclude ", "export ", "unexport ", "vpath ")):
        return None
    eq, colon = line.find("="), line.find(":")
    if colon >= 0 and (eq < 0 or (colon < eq and line[colon:eq].strip() not in (":", "::", ":::"))):
        names = [_expand(t, variables) for t in line[:colon].split()]
        rest = line[colon + 1:].lstrip(":")
        if live is False:
            return None
        if any(n is None for n in names):
            return None
        scope = [n for n in names if n is not None]
        if "=" in rest.split(";", 1)[0]:
            targets.scoped.append((scope, first))
            return None
        prerequisites = [w for t in rest.split(";", 1)[0].replace("|", " ").split() for w in _glob(t, variables)]
        for target in scope:
            if not target.startswith(".") and "%" not in target and targets.first is None:
                targets.first = target
            targets.rules.setdefault(target, []).extend(prerequisites)
        return scope
    if eq < 0:
        return None
    head, value = line[:eq], line[eq + 1:].strip()
    operator = ""
    while head and head[-1] in ":?+!":
        operator, head = head[-1] + operator, head[:-1]
    words = head.split()
    if not words:
        return None
    variable = words[-1]
    _sources(raws, first, lines, value, live, blocks, stack)
    if live is False:
        return None
    if operator == "?" and variable in variables:
        return None
    expanded = None if operator == "!" else _expand(value, variables)
    if operator == "+":
        old = variables.get(variable, "")
        expanded = None if old is None or expanded is None else f"{old} {expanded}".strip()
    variables[variable] = expanded if live is True else None
    return None


def _sources(raws: list[str], first: int, lines: LineIndex, value: str, live: Tri, blocks: Blocks,
             stack: list[Frame]) -> None:
    """The sources an assignment names, over each of its physical lines (`OBJS += a.o \\` / `  b.o`)."""
    if "." not in value:
        return
    reason = next((f.reason for f in reversed(stack) if f.branch is False), "")
    for index, raw in enumerate(raws[:_MAX_CONTINUED]):
        start = lines.start_of(first + index)
        for match in re.finditer(r"[^\s=\\]+", raw):
            word = match.group()
            if not SOURCE_NAME.search(word) or "$" in word or len(word) > 512:
                continue
            if live is False:
                blocks.listed.append(Listed(start + match.start(), start + match.end(), reason))
            else:
                blocks.used_sources.add(_source_key(word))


def _arguments(rest: str) -> tuple[str, str] | None:
    """The two sides of `(a,b)`, `"a" "b"` or `'a' 'b'`."""
    if rest.startswith("("):
        depth = 0
        comma = -1
        for at, char in enumerate(rest):
            if char in "({":
                depth += 1
            elif char in ")}":
                depth -= 1
                if depth == 0:
                    return (rest[1:comma], rest[comma + 1:at]) if comma > 0 else None
            elif char == "," and depth == 1 and comma < 0:
                comma = at
        return None
    match = re.fullmatch(r"""(["'])([^"']*)\1\s+(["'])([^"']*)\3\s*""", rest)
    return (match.group(2), match.group(4)) if match else None


def _condition(word: str, rest: str, variables: dict[str, Value]) -> Tri:
    if word in ("ifdef", "ifndef"):
        name = rest.split(maxsplit=1)[0] if rest.strip() else ""
        if name in variables:
            value = variables[name]
            defined: Tri = None if value is None else bool(value)
        else:
            defined = False if _X86_SWITCH.search(name) else None  # an x86 switch is off unless asked for
        return defined if word == "ifdef" or defined is None else not defined
    sides = _arguments(rest)
    if sides is None:
        return None
    left, right = (_expand(s, variables) for s in sides)
    if left is not None and right is not None:
        equal: Tri = left.strip() == right.strip()
    else:
        known = left if left is not None else right
        equal = False if known is not None and known.strip().lower() in X86_NAMES else None
    return equal if word == "ifeq" or equal is None else not equal


def _expand(text: str, variables: dict[str, Value], depth: int = 0) -> Value:
    """The text with $(...) references expanded; None when any of them is not known."""
    if "$" not in text:
        return text
    if len(text) > _MAX_EXPAND or depth > _MAX_DEPTH:
        return None
    out: list[str] = []
    at = 0
    while (dollar := text.find("$", at)) >= 0:
        out.append(text[at:dollar])
        opener = text[dollar + 1:dollar + 2]
        if opener == "$":
            out.append("$")
            at = dollar + 2
            continue
        if opener not in ("(", "{"):
            found = variables.get(opener) if opener else None
            if found is None:
                return None
            out.append(found)
            at = dollar + 2
            continue
        end = _closing(text, dollar + 1)
        if end < 0:
            return None
        value = _reference(text[dollar + 2:end], variables, depth + 1)
        if value is None:
            return None
        out.append(value)
        at = end + 1
    out.append(text[at:])
    return "".join(out)


def _closing(text: str, opened: int) -> int:
    depth = 0
    for at in range(opened, min(len(text), opened + _MAX_EXPAND)):
        if text[at] in "({":
            depth += 1
        elif text[at] in ")}":
            depth -= 1
            if depth == 0:
                return at
    return -1


def _split_arguments(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for at, char in enumerate(text):
        if char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:at])
            start = at + 1
    parts.append(text[start:])
    return parts


def _reference(inner: str, variables: dict[str, Value], depth: int) -> Value:
    function, space, arguments = inner.partition(" ")
    if not space:
        name = _expand(inner, variables, depth)
        return variables.get(name) if name is not None else None
    if function == "shell":
        command = _expand(arguments.strip(), variables, depth)
        if command is None:
            return "aarch64-linux-gnu" if "-dumpmachine" in arguments else None
        if _MACHINE.fullmatch(command.strip()):
            return "aarch64"
        return "aarch64-linux-gnu" if command.strip().endswith("-dumpmachine") else None
    parts = _split_arguments(arguments)
    if function in ("filter", "filter-out", "findstring") and len(parts) == 2:
        patterns, subject = _expand(parts[0], variables, depth), _expand(parts[1], variables, depth)
        if patterns is None:
            return None
        if subject is None:  # x86 names only: on aarch64 none of them is there
            return "" if function != "filter-out" and all(p.lower() in X86_NAMES for p in patterns.split()) else None
        if function == "findstring":
            return patterns if patterns in subject else ""
        keep = function == "filter"
        return " ".join(w for w in subject.split() if any(_pattern(p, w) for p in patterns.split()) == keep)
    if function in ("strip", "firstword") and len(parts) == 1:
        value = _expand(parts[0], variables, depth)
        if value is None:
            return None
        return " ".join(value.split()) if function == "strip" else (value.split() or [""])[0]
    if function == "subst" and len(parts) == 3:
        values = [_expand(p, variables, depth) for p in parts]
        if any(v is None for v in values):
            return None
        old, new, subject = (v or "" for v in values)
        return subject.replace(old, new) if old else subject
    return None


def _glob(token: str, variables: dict[str, Value]) -> list[str]:
    """A prerequisite's names, with `*` where a reference in it is not known."""
    value = _expand(token, variables)
    if value is not None:
        return value.split()
    out, at = [], 0
    while (dollar := token.find("$", at)) >= 0:
        out.append(token[at:dollar])
        end = _closing(token, dollar + 1) if token[dollar + 1:dollar + 2] in ("(", "{") else dollar + 1
        if end < 0:
            return ["*"]
        out.append(_expand(token[dollar:end + 1], variables) or "*")
        at = end + 1
    out.append(token[at:])
    return "".join(out).split() or ["*"]


def _pattern(pattern: str, word: str) -> bool:
    if "%" not in pattern:
        return pattern == word
    head, _, tail = pattern.partition("%")
    return len(word) >= len(head) + len(tail) and word.startswith(head) and word.endswith(tail)


def _optional_targets(targets: _Targets, variables: dict[str, Value], blocks: Blocks) -> None:
    """Lines for targets that `make` with no goal does not build are optional."""
    goal = variables.get(".DEFAULT_GOAL") if ".DEFAULT_GOAL" in variables else targets.first
    if goal is None or goal not in targets.rules:
        return
    reached, todo, budget = {goal}, [goal], _MAX_GLOB_TRIES
    while todo:
        for prerequisite in targets.rules.get(todo.pop(), []):
            if "*" in prerequisite:  # part of it is not known: it may name any target it fits
                budget -= len(targets.rules)
                if budget < 0:
                    return
                # a reference not known at all ($(RES_FILE) set for Windows) names files, not bench32 or test32
                names = [t for t in targets.rules if fnmatch.fnmatchcase(t, prerequisite) and not t.startswith(".")
                         and (prerequisite != "*" or "." in t or "/" in t)]
            else:
                names = [prerequisite]
            for name in names:
                if name not in reached:
                    reached.add(name)
                    todo.append(name)
    for scope, line in targets.scoped:
        if scope and not any(t in reached or "%" in t for t in scope):
            blocks.mark(line, line, f"only for `make {scope[0]}`, which the default goal ({goal}) does not build")
