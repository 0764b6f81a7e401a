"""A CMake file run top to bottom as an aarch64 configure would run it, as far as one file can tell.

Only what decides which lines run is interpreted: if/elseif/else/endif, set/option/list(APPEND)/string(TOLOWER),
and compiler probes. What one file cannot know (a variable set elsewhere, a loop, a function body) is unknown,
and an unknown condition leaves its lines as they are. One pass over the file; each command's arguments are
read once and are bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from armscan.analyzers.buildfiles import SOURCE_NAME, X86_CODE, X86_FLAG, X86_NAMES, Listed, _source_key

if TYPE_CHECKING:
    from armscan.analyzers.buildfiles import Blocks
    from armscan.analyzers.text import LineIndex

_COMMAND = re.compile(r"^[ \t]*([A-Za-z_]\w*)[ \t]*\(", re.MULTILINE)
# A quoted argument runs to its closing quote or 4 KiB: an unclosed one is not scanned to the end every time
_TOKEN = re.compile(r'"(?:\\.|[^"\\]){0,4096}"?|#[^\n]*|[()]|[^\s()"#]+')
_VAR_REF = re.compile(r"\$\{(\w+)\}")
_MAX_ARGS_CHARS = 1 << 16
_MAX_TOKENS = 4096
_MAX_DEPTH = 64
_ARM_NAMES = ("aarch64", "arm64", "ARM64", "AArch64", "armv8", "arm")
# A variable named for an x86 feature that this file does not set: off on aarch64, like make's (see makefiles.py)
_X86_SWITCH = re.compile(r"(?i)sse|avx|x86|x64|amd64|i386|mmx|bmi|fma|aesni|pclmul")
_FALSE = frozenset({"0", "OFF", "NO", "FALSE", "N", "IGNORE", "NOTFOUND", ""})
_TRUE = frozenset({"1", "ON", "YES", "TRUE", "Y"})
_UNARY = frozenset({"EXISTS", "COMMAND", "DEFINED", "TARGET", "POLICY", "TEST", "IS_DIRECTORY", "IS_ABSOLUTE",
                    "IS_SYMLINK", "IS_READABLE", "IS_WRITABLE", "IS_EXECUTABLE"})
_BINARY = frozenset({"MATCHES", "STREQUAL", "STRLESS", "STRGREATER", "STRLESS_EQUAL", "STRGREATER_EQUAL", "EQUAL",
                     "LESS", "GREATER", "LESS_EQUAL", "GREATER_EQUAL", "VERSION_EQUAL", "VERSION_LESS",
                     "VERSION_GREATER", "VERSION_LESS_EQUAL", "VERSION_GREATER_EQUAL", "IN_LIST", "IS_NEWER_THAN",
                     "PATH_EQUAL"})
FLAG_PROBES = {"check_c_compiler_flag": 0, "check_cxx_compiler_flag": 0, "check_compiler_flag": 1,
                "check_fortran_compiler_flag": 0}
CODE_PROBES = frozenset({"check_c_source_compiles", "check_cxx_source_compiles", "check_c_source_runs",
                          "check_cxx_source_runs", "check_source_compiles", "check_source_runs", "check_include_file",
                          "check_include_file_cxx", "check_include_files", "check_symbol_exists",
                          "check_cxx_symbol_exists"})
_SOURCE_LISTS = frozenset({"add_library", "add_executable", "target_sources", "set", "list"})
_LOOPS = {"foreach": "endforeach", "while": "endwhile", "function": "endfunction", "macro": "endmacro",
          "block": "endblock"}

# The build armscan answers for is aarch64 Linux (as aarch64-linux-gnu-gcc builds it): no MSVC, Windows or Apple
_OTHER_SYSTEMS = ("WIN32", "MSVC", "APPLE", "CYGWIN", "MINGW", "MSYS", "IOS", "WINCE", "WINDOWS_PHONE", "WINDOWS_STORE",
                  "BORLAND", "WATCOM", "XCODE", "MSVC_IDE", "ANDROID", "EMSCRIPTEN")
Value = str | None  # None: not known from this file
Tri = bool | None


@dataclass
class _Command:
    name: str
    args: list[tuple[str, int, int]]  # token, start and end offsets
    start: int
    end: int


def commands(text: str) -> Iterator[_Command]:
    pos = 0
    while (match := _COMMAND.search(text, pos)) is not None:
        args: list[tuple[str, int, int]] = []
        depth, end = 1, min(len(text), match.end() + _MAX_ARGS_CHARS)
        for token in _TOKEN.finditer(text, match.end(), end):
            word = token.group()
            if word.startswith("#"):
                continue
            if word == ")":
                depth -= 1
                if depth == 0:
                    end = token.end()
                    break
            elif word == "(":
                depth += 1
            if len(args) < _MAX_TOKENS:
                args.append((word, token.start(), token.end()))
        yield _Command(match.group(1).lower(), args, match.start(1), end)
        pos = max(end, match.end())


@dataclass
class _Frame:
    kind: str  # "if" or the name of a loop-like block
    outer: Tri  # whether the code around the block runs
    taken: bool = False  # an earlier branch is true
    maybe: bool = False  # an earlier branch may be true
    branch: Tri = None  # the current branch's condition
    first_line: int = 0
    reason: str = ""  # the current branch's condition, as written
    head: str = ""  # the if() that opened the block


class _Interpreter:
    def __init__(self, text: str, lines: LineIndex, blocks: Blocks) -> None:
        self.text, self.lines, self.blocks = text, lines, blocks
        self.vars: dict[str, Value] = {"CMAKE_SYSTEM_PROCESSOR": "aarch64", "CMAKE_HOST_SYSTEM_PROCESSOR": "aarch64",
                                       "CMAKE_SIZEOF_VOID_P": "8", "CMAKE_C_SIZEOF_DATA_PTR": "8",
                                       "CMAKE_CXX_SIZEOF_DATA_PTR": "8", "CMAKE_SYSTEM_NAME": "Linux",
                                       "CMAKE_HOST_SYSTEM_NAME": "Linux", "UNIX": "1", "LINUX": "1",
                                       **dict.fromkeys(_OTHER_SYSTEMS, "")}
        self.stack: list[_Frame] = []
        self.only_x86: set[str] = set()  # variables this file sets only where aarch64 does not go

    @property
    def live(self) -> Tri:
        if not self.stack:
            return True
        frame = self.stack[-1]
        return _and(frame.outer, frame.branch)

    def run(self) -> None:
        for command in commands(self.text):
            self.step(command)
        for _ in range(len(self.stack)):
            self._close(self.lines.line_count + 1)

    def step(self, command: _Command) -> None:
        name, line = command.name, self.lines.line_of(command.start)
        words = [a[0] for a in command.args]
        if name == "if":
            self.stack.append(_Frame("if", self.live))
            self._branch(line, _evaluate(words, self.vars, self.only_x86), f"if({_shown(words)})")
        elif name in ("elseif", "else") and self.stack and self.stack[-1].kind == "if":
            frame = self.stack[-1]
            self._end_branch(line)
            frame.taken, frame.maybe = frame.taken or frame.branch is True, frame.maybe or frame.branch is None
            value: Tri = _evaluate(words, self.vars, self.only_x86) if name == "elseif" else True
            value = False if frame.taken else None if frame.maybe and value is not False else value
            self._branch(line, value, f"{name}({_shown(words)})" if name == "elseif" else f"else of {frame.head}")
        elif name == "endif" and self.stack and self.stack[-1].kind == "if":
            self._close(line)
        elif name in _LOOPS:
            self.stack.append(_Frame(name, self.live, branch=None, first_line=line + 1))
        elif self.stack and name == _LOOPS.get(self.stack[-1].kind):
            self.stack.pop()
        else:
            self._effect(command, words, line)

    def _branch(self, line: int, value: Tri, reason: str) -> None:
        frame = self.stack[-1]
        frame.branch, frame.first_line, frame.reason = value, line + 1, reason
        frame.head = frame.head or reason

    def _end_branch(self, line: int) -> None:
        frame = self.stack[-1]
        if frame.branch is False and frame.outer is not False:
            self.blocks.mark(frame.first_line, line - 1, frame.reason)

    def _close(self, line: int) -> None:
        self._end_branch(line)
        self.stack.pop()

    def _dead_reason(self) -> str:
        return next((f.reason for f in reversed(self.stack) if f.branch is False), "")

    def _effect(self, command: _Command, words: list[str], line: int) -> None:
        live, name = self.live, command.name
        if name in _SOURCE_LISTS:
            self._sources(command, live)
        if not words or (live is False and name not in ("set", "list", "option")):
            return
        target = words[0]
        if name == "set":
            value = _join(words[1:], self.vars)
            if target == "CMAKE_REQUIRED_FLAGS" and value and any(X86_FLAG.match(w) for w in value.split()):
                self._probe(command, "a compiler probe's flags: on aarch64 the compiler rejects them")
            self._assign(target, value, live)
        elif name == "option" and len(words) >= 1:
            self._assign(target, words[2].strip('"') if len(words) > 2 else "OFF", live, keep=True)
        elif name == "unset":
            self.vars.pop(target, None)
        elif name == "list" and len(words) >= 2 and target.upper() == "APPEND":
            old, added = self.vars.get(words[1]), _join(words[2:], self.vars)
            self._assign(words[1], None if old is None or added is None else ";".join(filter(None, (old, added))),
                         live)
        elif name == "string" and len(words) == 3 and target.upper() in ("TOLOWER", "TOUPPER"):
            value = _expand(words[1], self.vars)
            self._assign(words[2], value and (value.lower() if target.upper() == "TOLOWER" else value.upper()), live)
        elif name in FLAG_PROBES and len(words) > FLAG_PROBES[name] + 1:
            flag = _expand(words[FLAG_PROBES[name]], self.vars)
            x86 = flag is not None and any(X86_FLAG.match(w) for w in flag.split())
            self._assign(words[FLAG_PROBES[name] + 1], "" if x86 else None, live)
            if x86:
                self._probe(command, f"a probe of {flag}: compilers for aarch64 reject it, so it fails there")
        elif name in CODE_PROBES:
            x86 = X86_CODE.search(" ".join(words)) is not None
            self._assign(words[-1], "" if x86 else None, live)
            if x86:
                self._probe(command, "a probe of x86 code: it fails on aarch64")
        else:
            for word in words:  # a command that may set a variable it names: what it holds is no longer known
                if word in self.vars and word not in ("CMAKE_SYSTEM_PROCESSOR", "CMAKE_SIZEOF_VOID_P"):
                    self.vars[word] = None

    def _assign(self, name: str, value: Value, live: Tri, keep: bool = False) -> None:
        if keep and name in self.vars:
            return
        if live is False:
            if name not in self.vars:
                self.only_x86.add(name)
            return
        self.only_x86.discard(name)
        self.vars[name] = value if live is True else None

    def _probe(self, command: _Command, reason: str) -> None:
        self.blocks.mark(self.lines.line_of(command.start), self.lines.line_of(max(command.start, command.end - 1)),
                         reason)

    def _sources(self, command: _Command, live: Tri) -> None:
        reason = self._dead_reason() if live is False else ""
        for word, start, _end in command.args[1:]:
            inner = word.strip('"')
            if not SOURCE_NAME.search(inner) or "$" in _source_key(inner) or len(inner) > 512:
                continue
            if live is False:
                offset = start + (1 if word.startswith('"') else 0)
                self.blocks.listed.append(Listed(offset, offset + len(inner), reason))
            else:
                self.blocks.used_sources.add(_source_key(inner))


def interpret(text: str, lines: LineIndex, name: str, blocks: Blocks) -> None:
    _Interpreter(text, lines, blocks).run()


def _shown(words: list[str]) -> str:
    text = " ".join(words)
    return text if len(text) <= 100 else text[:99] + "…"


def _and(a: Tri, b: Tri) -> Tri:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: Tri, b: Tri) -> Tri:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _expand(word: str, variables: dict[str, Value]) -> Value:
    quoted = word.startswith('"')
    word = word.strip('"') if quoted else word
    if "$ENV{" in word or "$<" in word or "${${" in word:
        return None
    unknown = False

    def value(match: re.Match[str]) -> str:
        nonlocal unknown
        found = variables.get(match.group(1))
        if found is None:
            unknown = True
            return ""
        return found

    expanded = _VAR_REF.sub(value, word) if "${" in word else word
    return None if unknown or "${" in expanded else expanded


def _join(words: list[str], variables: dict[str, Value]) -> Value:
    words = [w for w in words if w not in ("CACHE", "PARENT_SCOPE", "FORCE")][:1] if "CACHE" in words else words
    values = [_expand(w, variables) for w in words if w != "PARENT_SCOPE"]
    return None if any(v is None for v in values) else ";".join(v for v in values if v is not None)


def _truth(value: str) -> bool:
    return not (value.upper() in _FALSE or value.upper().endswith("-NOTFOUND"))


class _Condition:
    """CMake's if() grammar with three-valued logic: OR over AND over NOT over tests, parentheses first."""

    def __init__(self, words: list[str], variables: dict[str, Value], only_x86: set[str]) -> None:
        self.words, self.vars, self.at, self.depth = words, variables, 0, 0
        self.only_x86 = only_x86

    def peek(self) -> str | None:
        return self.words[self.at] if self.at < len(self.words) else None

    def take(self) -> str:
        self.at += 1
        return self.words[self.at - 1]

    def any_of(self) -> Tri:
        value = self.all_of()
        while self.peek() == "OR":
            self.take()
            value = _or(value, self.all_of())
        return value

    def all_of(self) -> Tri:
        value = self.negation()
        while self.peek() == "AND":
            self.take()
            value = _and(value, self.negation())
        return value

    def negation(self) -> Tri:
        if self.peek() == "NOT":
            self.take()
            value = self.negation()
            return None if value is None else not value
        return self.test()

    def test(self) -> Tri:
        word = self.peek()
        if word is None:
            return None
        if word == "(":
            self.take()
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise _TooDeep
            value = self.any_of()
            if self.peek() == ")":
                self.take()
            self.depth -= 1
            return value
        if word in _UNARY:
            self.take()
            operand = self.take() if self.peek() is not None else ""
            return self.defined(operand) if word == "DEFINED" else None
        left = self.take()
        if self.peek() in _BINARY:
            operator = self.take()
            right = self.take() if self.peek() is not None else ""
            return self.binary(left, operator, right)
        return self.single(left)

    def defined(self, name: str) -> Tri:
        return None if name not in self.vars or self.vars[name] is None else True

    def operand(self, word: str) -> Value:
        if not word.startswith('"') and re.fullmatch(r"\w+", word) and word in self.vars:
            return self.vars[word]
        if word in self.only_x86:
            return ""
        if not word.startswith('"') and re.fullmatch(r"[A-Za-z_]\w*", word) and word.upper() == word and \
                word not in X86_NAMES and not word.startswith("CMAKE_"):
            return None  # an upper-case name this file never sets: a variable set elsewhere
        return _expand(word, self.vars)

    def binary(self, left: str, operator: str, right: str) -> Tri:
        value, pattern = self.operand(left), _expand(right, self.vars)
        if operator == "MATCHES":
            if pattern is None or len(pattern) > 256:
                return None
            try:
                regex = re.compile(pattern)
            except re.error:
                return None
            if value is not None:
                return regex.search(value[:256]) is not None
            x86_only = any(regex.search(n) for n in X86_NAMES) and not any(regex.search(n) for n in _ARM_NAMES)
            return False if x86_only else None
        if operator == "STREQUAL":
            other = self.operand(right)
            if value is not None and other is not None:
                return value == other
            known = value if value is not None else other
            return False if known is not None and known.lower() in X86_NAMES else None
        if operator in ("EQUAL", "LESS", "GREATER", "LESS_EQUAL", "GREATER_EQUAL"):
            other = self.operand(right)
            try:
                a, b = int(value or ""), int(other or "")
            except ValueError:
                return None
            return {"EQUAL": a == b, "LESS": a < b, "GREATER": a > b, "LESS_EQUAL": a <= b,
                    "GREATER_EQUAL": a >= b}[operator]
        return None

    def single(self, word: str) -> Tri:
        if word.startswith('"'):
            value = _expand(word, self.vars)
            return None if value is None else value.upper() in _TRUE or _number_truth(value)
        if word.upper() in _TRUE or word.upper() in _FALSE or _is_number(word):
            return _truth(word)
        if "${" in word:
            value = _expand(word, self.vars)
            if value is None:
                return None
            if value in self.vars:
                inner = self.vars[value]
                return None if inner is None else _truth(inner)
            return _truth(value) if value.upper() in _TRUE | _FALSE or _is_number(value) else None
        if word in self.vars:
            found = self.vars[word]
            return None if found is None else _truth(found)
        if word in self.only_x86 or (re.fullmatch(r"\w+", word) and _X86_SWITCH.search(word)):
            return False  # set only on x86 here, or an x86 switch set elsewhere (OPUS_X86_MAY_HAVE_AVX2): off
        return None


class _TooDeep(Exception):
    pass


def _is_number(word: str) -> bool:
    return re.fullmatch(r"-?\d+(?:\.\d+)?", word) is not None


def _number_truth(value: str) -> bool:
    return _is_number(value) and float(value) != 0


def _evaluate(words: list[str], variables: dict[str, Value], only_x86: set[str]) -> Tri:
    if len(words) > 512:
        return None
    condition = _Condition(words, variables, only_x86)
    try:
        value = condition.any_of()
    except _TooDeep:
        return None
    return value if condition.at >= len(words) else None
