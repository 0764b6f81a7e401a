"""A meson.build read as `meson setup` for aarch64 Linux would read it, as far as one file can tell.

Only what decides which lines run is interpreted: if/elif/else/endif over the build's machines
(`host_machine.cpu_family() == 'x86_64'`, `target_machine.cpu_family().startswith('x86')`, `in [...]`,
`not`, `and`, `or`) and the compiler's id (`cc.get_id() == 'msvc'` is false: the aarch64 build is GCC or Clang),
with variables assigned from those. Anything else is unknown, and an unknown condition leaves its lines as they
are. Sources named only in a branch false on aarch64 are listed as x86-only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from armscan.analyzers.buildfiles import SOURCE_NAME, Frame, Listed, _source_key, live

if TYPE_CHECKING:
    from armscan.analyzers.buildfiles import Blocks
    from armscan.analyzers.text import LineIndex

Value = str | bool | list[str] | None  # None: unknown
Tri = bool | None
MAX_CONDITION = 2048
_MACHINE = {"cpu_family": "aarch64", "cpu": "aarch64", "system": "linux", "endian": "little", "kernel": "linux"}
_TOKEN = re.compile(r"\s*(?:'((?:\\.|[^'\\])*)'|(==|!=|\(|\)|\[|\]|,|\.)|([A-Za-z_]\w*))")
# Prefixes only: what follows is taken with str.strip(), never by a pattern that backtracks over a long line
_ASSIGN = re.compile(r"[ \t]*([A-Za-z_]\w*)[ \t]*(\+?=)(?!=)")
_KEYWORD = re.compile(r"[ \t]*(if|elif|else|endif|foreach|endforeach)\b")
_STRING = re.compile(r"'((?:\\.|[^'\\\n])*)'")


class _Unknown(Exception):
    pass


class _Condition:
    """Recursive descent over one Meson expression; raises _Unknown where the aarch64 answer is not known."""

    def __init__(self, text: str, variables: dict[str, Value]) -> None:
        self.tokens: list[tuple[str, str]] = []
        at = 0
        while at < len(text):
            if text[at:].strip() == "":
                break
            match = _TOKEN.match(text, at)
            if match is None:
                raise _Unknown
            string, operator, word = match.groups()
            self.tokens.append(("s", string) if string is not None else ("o", operator) if operator else ("w", word))
            at = match.end()
        self.at = 0
        self.variables = variables

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _Unknown
        self.at += 1
        return token

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise _Unknown

    def whole(self) -> Value:
        value = self.disjunction()
        if self.peek() is not None:
            raise _Unknown
        return value

    def disjunction(self) -> Value:
        value = self.conjunction()
        while self.peek() == ("w", "or"):
            self.take()
            right = self.conjunction()
            value = True if True in (value, right) else None if None in (value, right) else False
        return value

    def conjunction(self) -> Value:
        value = self.negation()
        while self.peek() == ("w", "and"):
            self.take()
            right = self.negation()
            value = False if False in (value, right) else None if None in (value, right) else True
        return value

    def negation(self) -> Value:
        if self.peek() == ("w", "not"):
            self.take()
            value = self.negation()
            return None if value is None else not value
        return self.comparison()

    def comparison(self) -> Value:
        left = self.primary()
        token = self.peek()
        if token in (("o", "=="), ("o", "!=")):
            self.take()
            right = self.primary()
            if left is None or right is None:
                return None
            return (left == right) == (token == ("o", "=="))
        negated = token == ("w", "not") and self.at + 1 < len(self.tokens) and self.tokens[self.at + 1] == ("w", "in")
        if token == ("w", "in") or negated:
            self.at += 2 if negated else 1
            right = self.primary()
            if left is None or right is None or not isinstance(right, list):
                return None
            return (left in right) != negated
        return left

    def primary(self) -> Value:
        kind, text = self.take()
        if (kind, text) == ("o", "("):
            value = self.disjunction()
            self.expect(")")
            return self.methods(value)
        if (kind, text) == ("o", "["):
            items: list[str] = []
            while self.peek() != ("o", "]"):
                item = self.primary()
                if not isinstance(item, str):
                    raise _Unknown
                items.append(item)
                if self.peek() == ("o", ","):
                    self.take()
            self.take()
            return items
        if kind == "s":
            return self.methods(text)
        if kind == "w" and text in ("true", "false"):
            return text == "true"
        if kind == "w" and text in ("host_machine", "target_machine", "build_machine"):
            self.expect(".")
            method = self.take()[1]
            self.expect("(")
            self.expect(")")
            return self.methods(_MACHINE.get(method))
        if kind == "w" and self.peek() == ("o", ".") and self.at + 1 < len(self.tokens) \
                and self.tokens[self.at + 1] == ("w", "get_id"):
            self.at += 2
            self.expect("(")
            self.expect(")")
            return self.methods(_CompilerId())
        if kind == "w" and text in self.variables:
            return self.methods(self.variables[text])
        if kind == "w" and text not in ("and", "or", "not", "in"):
            self.skip_calls()  # get_option('simd'), cc.has_argument('-mavx2'): what the build decides
            return None
        raise _Unknown

    def skip_calls(self) -> None:
        """Past a name's calls and method calls (`x.y('a').z()`), whose value is not known here."""
        while self.peek() in (("o", "("), ("o", ".")):
            if self.take() == ("o", "."):
                self.take()
                continue
            depth = 1
            while depth:
                token = self.take()
                depth += {("o", "("): 1, ("o", ")"): -1}.get(token, 0)

    def methods(self, value: Value) -> Value:
        while self.peek() == ("o", "."):
            self.take()
            name = self.take()[1]
            self.expect("(")
            argument = self.primary() if self.peek() != ("o", ")") else None
            self.expect(")")
            if not isinstance(value, str) or (argument is not None and not isinstance(argument, str)):
                raise _Unknown
            if name == "startswith" and argument is not None:
                value = value.startswith(argument)
            elif name == "endswith" and argument is not None:
                value = value.endswith(argument)
            elif name == "contains" and argument is not None:
                value = argument in value
            elif name in ("to_lower", "to_upper", "strip"):
                value = value.lower() if name == "to_lower" else value.upper() if name == "to_upper" else value.strip()
            else:
                raise _Unknown
        return value


class _CompilerId(str):
    """The compiler's id: not MSVC (or clang-cl), whatever else it is."""

    def __eq__(self, other: object) -> bool:
        if other in ("msvc", "clang-cl", "intel-cl"):
            return False
        raise _Unknown

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__


def evaluate(text: str, variables: dict[str, Value]) -> Tri:
    if len(text) > MAX_CONDITION:
        return None
    try:
        value = _Condition(text, variables).whole()
    except (_Unknown, IndexError, RecursionError):
        return None
    return value if isinstance(value, bool) else None


def interpret(text: str, lines: LineIndex, name: str, blocks: Blocks) -> None:
    """Mark the lines of branches false on aarch64, and list the sources named only there."""
    variables: dict[str, Value] = {}
    stack: list[Frame] = []
    for number in range(1, lines.line_count + 1):
        raw = lines.line_text(number)
        code = raw.split("#", 1)[0] if "'" not in raw else raw  # a # inside a string is not a comment
        keyword = _KEYWORD.match(code)
        if keyword:
            word, rest = keyword.group(1), code[keyword.end():].strip()
            if word == "if":
                stack.append(Frame(live(stack)))
                stack[-1].enter(number, evaluate(rest, variables), f"if {rest}")
            elif word in ("elif", "else") and stack:
                frame = stack[-1]
                frame.leave(number, blocks)
                value = frame.next_value(evaluate(rest, variables) if word == "elif" else True)
                frame.enter(number, value, f"elif {rest}" if word == "elif" else f"else of {frame.reason}")
            elif word == "endif" and stack:
                stack[-1].leave(number, blocks)
                stack.pop()
            elif word == "foreach":
                stack.append(Frame(live(stack), branch=None, first_line=number + 1, reason="foreach"))
            elif word == "endforeach" and stack:
                stack.pop()
            continue
        state = live(stack)
        assignment = _ASSIGN.match(code)
        if assignment and state is not False:
            target, operator, expression = assignment.group(1), assignment.group(2), code[assignment.end():].strip()
            assigned = None if operator == "+=" else _value(expression, variables)
            variables[target] = assigned if state is True else None
        _sources(raw, lines.start_of(number), state, stack, blocks)


def _value(expression: str, variables: dict[str, Value]) -> Value:
    if len(expression) > MAX_CONDITION:
        return None
    try:
        return _Condition(expression, variables).whole()
    except (_Unknown, IndexError, RecursionError):
        return None


def _sources(raw: str, start: int, state: Tri, stack: list[Frame], blocks: Blocks) -> None:
    reason = next((f.reason for f in reversed(stack) if f.branch is False), "")
    for match in _STRING.finditer(raw):
        word = match.group(1)
        if not SOURCE_NAME.search(word) or len(word) > 512:
            continue
        if state is False:
            blocks.listed.append(Listed(start + match.start(1), start + match.end(1), reason))
        else:
            blocks.used_sources.add(_source_key(word))
