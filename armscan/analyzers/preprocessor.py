"""#if expressions evaluated as the aarch64 compiler would: true, false, or unknown.

The macros are those GCC predefines for aarch64-linux-gnu (rules/targets/aarch64-predefined.yaml), the C library
limits every build sees, and the project's own #define / #undef. A name the compiler reserves (`__x86_64__`,
`_M_X64`) that aarch64 does not predefine is not defined; any other name the project does not define could come
from the build (-DHAVE_AVX2, a generated config.h), so a condition that depends on it is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache

from armscan.resources import load_yaml, rules_dir

Value = int | None  # None: unknown


class Maybe:
    """A macro the project defines or undefines under a condition whose outcome is unknown."""


class Function:
    """A function-like macro: defined, but its value in an #if is not worked out."""


MAYBE = Maybe()
FUNCTION = Function()
UNDEFINED = None
# What the project says of a name: its body, FUNCTION, MAYBE, or UNDEFINED (#undef, or defined only where
# aarch64 does not compile).
Definition = str | Function | Maybe | None

MAX_EXPRESSION = 4096  # characters; a longer condition is unknown
_MAX_DEPTH = 64  # nesting of parentheses, unary operators and macro bodies
_MAX_TOKENS = 1024
_MAX_WORK = 250_000  # tokens one evaluator reads over all its conditions: past it, every condition is unknown
_MAX_EXPANSIONS = 256  # macro bodies evaluated for one condition: `#define A (B+B)` chains double at each level

_TOKEN = re.compile(
    r"[ \t]*+(?:(0[xX][0-9a-fA-F]++|0[bB][01]++|[0-9]++)[uUlL]{0,3}+|([A-Za-z_]\w*+)"
    r"|('(?:\\[^\n]|[^'\\\n]){1,8}+')|(&&|\|\||==|!=|<=|>=|<<|>>|[-+*/%<>!~&|^?:(),]))"
)
_RESERVED = re.compile(r"__|_[A-Z]")
_SET_BY_BUILD = re.compile(r"\w*_SOURCE$|_FILE_OFFSET_BITS$|_TIME_BITS$|__USE_|__GLIBC|_REENTRANT$|_THREAD_SAFE$"
                           r"|_DEBUG$|__STDC_WANT_|__STDC_\w+_MACROS$|__cplusplus$|_BITS_|_LIBC|__UCLIBC|__MUSL")
_PRECEDENCE = {
    "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, ">": 7, "<=": 7, ">=": 7,
    "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
}


class _Unknown(Exception):
    """The expression cannot be worked out (syntax it does not know, a bound reached)."""


@cache
def predefined(language: str = "c") -> Mapping[str, str]:
    data = load_yaml((rules_dir() / "targets" / "aarch64-predefined.yaml").read_text(encoding="utf-8"))
    macros = {str(k): str(v) for k, v in data["c"].items()}
    macros.update((str(k), str(v)) for k, v in data["library"].items())
    if language == "c++":
        macros.update((str(k), str(v)) for k, v in data["cxx"].items())
    return macros


def is_reserved(name: str) -> bool:
    """A name only the compiler defines: not defined when aarch64 does not predefine it. Those the C library or
    the build sets (`_GNU_SOURCE`, `_FILE_OFFSET_BITS`, `__USE_*`, `__GLIBC__`) are not among them."""
    return _RESERVED.match(name) is not None and _SET_BY_BUILD.match(name) is None


class Evaluator:
    """Evaluates one condition with a lookup of the project's macros (that falls back on the predefined ones)."""

    def __init__(self, lookup: Callable[[str], object], language: str | None = "c") -> None:
        """`language`: "c", "c++", or None for a header that either may include (its __cplusplus is unknown)."""
        self._lookup = lookup
        self._predefined = dict(predefined(language or "c"))
        if language == "c":
            self._predefined.pop("__cplusplus", None)
        self._language = language
        self._budget = 0
        self._work = _MAX_WORK

    def truth(self, expression: str) -> bool | None:
        value = self.value(expression)
        return None if value is None else value != 0

    def value(self, expression: str) -> Value:
        if len(expression) > MAX_EXPRESSION:
            return None
        self._budget = _MAX_EXPANSIONS
        try:
            parser = _Parser(self._tokens(expression), self, 0)
            result = parser.ternary(0)
            if parser.at < len(parser.tokens):
                raise _Unknown
            return result
        except (_Unknown, RecursionError, ValueError):
            return None

    def defined(self, name: str) -> bool | None:
        found = self._lookup(name)
        if isinstance(found, Maybe):
            return None
        if found is not _ABSENT:
            return found is not UNDEFINED
        if name in self._predefined:
            return True
        return False if is_reserved(name) or (name == "__cplusplus" and self._language == "c") else None

    def macro_value(self, name: str, depth: int) -> Value:
        found = self._lookup(name)
        if isinstance(found, (Maybe, Function)):
            return None
        if found is _ABSENT:
            body = self._predefined.get(name)
            if body is None:
                return 0 if is_reserved(name) or (name == "__cplusplus" and self._language == "c") else None
        elif found is UNDEFINED:
            return 0
        else:
            body = str(found)
        self._budget -= 1
        if depth >= _MAX_DEPTH or self._budget < 0 or not body.strip():
            raise _Unknown
        parser = _Parser(self._tokens(body), self, depth + 1)
        result = parser.ternary(depth + 1)
        if parser.at < len(parser.tokens):
            raise _Unknown
        return result


    def _tokens(self, text: str) -> list[str]:
        if self._work <= 0:
            raise _Unknown
        tokens = _tokens(text)
        self._work -= len(tokens) + 1
        return tokens


_ABSENT = object()  # the project says nothing of the name


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    at = 0
    end = len(text.rstrip())
    while at < end:
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise _Unknown
        number = match.group(1)
        tokens.append(str(int(number, 0) if not number.startswith("0") or number[1:2] in ("x", "X", "b", "B", "")
                          else int(number, 8)) if number else match.group(match.lastindex or 0))
        at = match.end()
        if len(tokens) > _MAX_TOKENS:
            raise _Unknown
    return tokens


class _Parser:
    """Precedence climbing over the tokens of one expression, with unknown values carried through."""

    def __init__(self, tokens: list[str], evaluator: Evaluator, depth: int) -> None:
        self.tokens = tokens
        self.at = 0
        self.evaluator = evaluator
        self.base = depth

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise _Unknown
        self.at += 1
        return token

    def ternary(self, depth: int) -> Value:
        if depth - self.base > _MAX_DEPTH:
            raise _Unknown
        condition = self.binary(1, depth)
        if self._peek() != "?":
            return condition
        self._take()
        yes = self.ternary(depth + 1)
        self._take(":")
        no = self.ternary(depth + 1)
        if condition is None:
            return yes if yes == no else None
        return yes if condition else no

    def binary(self, lowest: int, depth: int) -> Value:
        left = self.unary(depth)
        while (op := self._peek()) in _PRECEDENCE and _PRECEDENCE[op] >= lowest:
            self._take()
            right = self.binary(_PRECEDENCE[op] + 1, depth)
            left = _apply(op, left, right)
        return left

    def unary(self, depth: int) -> Value:
        if depth - self.base > _MAX_DEPTH:
            raise _Unknown
        token = self._take()
        if token in ("!", "-", "+", "~"):
            value = self.unary(depth + 1)
            if value is None:
                return None
            return {"!": int(not value), "-": -value, "+": value, "~": ~value}[token]
        if token == "(":
            value = self.ternary(depth + 1)
            self._take(")")
            return value
        if token[0].isdigit():
            return int(token)
        if token[0] == "'":
            body = token[1:-1]
            return ord(body[-1]) if len(body) == 1 else None
        if token == "defined":
            parenthesized = self._peek() == "("
            if parenthesized:
                self._take()
            name = self._take()
            if not (name[0].isalpha() or name[0] == "_"):
                raise _Unknown
            if parenthesized:
                self._take(")")
            found = self.evaluator.defined(name)
            return None if found is None else int(found)
        if not (token[0].isalpha() or token[0] == "_"):
            raise _Unknown
        if self._peek() == "(":  # a function-like macro (__has_include, __GNUC_PREREQ): its arguments skipped
            self._skip_arguments()
            return None
        return self.evaluator.macro_value(token, depth)

    def _skip_arguments(self) -> None:
        level = 0
        while (token := self._take()) is not None:
            level += 1 if token == "(" else -1 if token == ")" else 0
            if level == 0:
                return


def _apply(op: str, left: Value, right: Value) -> Value:
    if op == "&&":
        if left == 0 or right == 0:
            return 0
        return None if left is None or right is None else 1
    if op == "||":
        if (left is not None and left != 0) or (right is not None and right != 0):
            return 1
        return None if left is None or right is None else 0
    if left is None or right is None:
        return None
    if op in ("/", "%"):
        if right == 0:
            return None
        quotient = abs(left) // abs(right) * (1 if (left < 0) == (right < 0) else -1)
        return quotient if op == "/" else left - quotient * right
    if op in ("<<", ">>") and not 0 <= right < 128:
        return None
    result: int = {
        "|": lambda: left | right, "^": lambda: left ^ right, "&": lambda: left & right,
        "==": lambda: int(left == right), "!=": lambda: int(left != right), "<": lambda: int(left < right),
        ">": lambda: int(left > right), "<=": lambda: int(left <= right), ">=": lambda: int(left >= right),
        "<<": lambda: left << right, ">>": lambda: left >> right, "+": lambda: left + right,
        "-": lambda: left - right, "*": lambda: left * right,
    }[op]()
    return result if abs(result) < 1 << 128 else None
