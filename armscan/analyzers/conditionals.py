"""The #if / #elif / #else structure of a C-family file, to tell ported x86 code from unported."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from armscan.analyzers.text import LineIndex
from armscan.model import PortStatus

# Patterns start with a literal character so that the regex engine can skip ahead quickly; every macro
# name starts with an underscore, and the look-behind after it stands in for a leading word boundary.
# Anchored at line starts and possessive, so that a line holding many `#if` costs one pass.
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(ifdef|ifndef|if|elifdef|elifndef|elif|else|endif|error)\b"
                        r"((?:[^\\\n]|\\\n?)*+)", re.MULTILINE)
X86_MACROS = re.compile(
    r"_(?<![\w]_)(?:_x86_64__|_x86_64|_amd64__|_amd64|_i386__|_i386|_i486__|_i586__|_i686__|M_X64|M_AMD64"
    r"|M_IX86(?:_FP)?|_X86__|X86_|_x86__|_SSE\d?\w*__|_AVX\w*__|_FMA4?__|_BMI2?__|_POPCNT__"
    r"|_PCLMUL__|_AES__|_F16C__|_MMX__|_LZCNT__|_SHA__|_XOP__|_RDRND__)\b"
)
ARCH_MACROS = re.compile(
    r"_(?<![\w]_)(?:_x86_64__|_x86_64|_amd64__|_amd64|_i386__|_i386|_i486__|_i586__|_i686__|M_X64|M_AMD64"
    r"|M_IX86|_X86__|X86_|_x86__)\b"
)
ARM_MACROS = re.compile(
    r"_(?<![\w]_)(?:_aarch64__|_arm64__|_arm64|M_ARM64(?:EC)?|_arm__|M_ARM|_ARM_NEON\w*|_ARM_ARCH\w*"
    r"|_ARM_FEATURE_\w+|_thumb__|_ARM_64BIT_STATE|_ARM_EABI__)\b"
)
ARM_INCLUDE = re.compile(r"#[ \t]*include[ \t]*[<\"](?:arm_neon|arm_sve|arm_acle|sse2neon|simde/)")
_COMMENT = re.compile(r"/\*(?:.*?\*/|.*)|//.*")  # an unclosed comment runs to the end: one pass on any line
# Names that mark a conditional as a SIMD/x86 switch even without a predefined macro (HAVE_SSE2, USE_AVX).
_X86_SWITCH = re.compile(r"(?i)sse|avx|x86|x64|amd64|i386|simd|intrin|mmx")


@dataclass
class Branch:
    kind: str
    condition: str
    line: int
    end_line: int
    chain: Chain
    has_error: bool = False
    error_line: int | None = None


@dataclass
class Chain:
    start_line: int
    parent: Branch | None
    branches: list[Branch] = field(default_factory=list)
    end_line: int = 0

    @property
    def mentions_arm(self) -> bool:
        return any(ARM_MACROS.search(b.condition) for b in self.branches)

    @property
    def mentions_x86(self) -> bool:
        return any(X86_MACROS.search(b.condition) for b in self.branches)

    @property
    def mentions_x86_arch(self) -> bool:
        return any(ARCH_MACROS.search(b.condition) for b in self.branches)

    @property
    def has_else(self) -> bool:
        return any(b.kind == "else" for b in self.branches)


class Conditionals:
    """All preprocessor chains of one file."""

    def __init__(self, text: str, lines: LineIndex) -> None:
        self.chains: list[Chain] = []
        self.branches: list[Branch] = []
        self.unbalanced = False
        self._change_lines: list[int] | None = None
        self._change_owners: list[Branch | None] = []
        self._index: dict[int, int] = {}
        self._arm_around: list[bool] = []  # by branch index: it or an enclosing branch is in a chain naming ARM
        self._x86_around: list[bool] = []  # it or an enclosing branch is taken on an x86 or SIMD condition
        stack: list[Chain] = []
        for match in _DIRECTIVE.finditer(text):
            word, rest = match.group(1), " ".join(match.group(2).replace("\\\n", " ").split())
            line = lines.line_of(match.start())
            if word.startswith("if"):
                parent = stack[-1].branches[-1] if stack else None
                chain = Chain(start_line=line, parent=parent)
                self.chains.append(chain)
                stack.append(chain)
                self._open(chain, "if", _condition(word, rest), line)
            elif word == "error":
                if stack and not stack[-1].branches[-1].has_error:
                    stack[-1].branches[-1].has_error = True
                    stack[-1].branches[-1].error_line = line
            elif not stack:
                self.unbalanced = True
            elif word == "endif":
                chain = stack.pop()
                chain.branches[-1].end_line = line
                chain.end_line = line
            else:
                chain = stack[-1]
                chain.branches[-1].end_line = line
                kind = "else" if word == "else" else "elif"
                self._open(chain, kind, _condition(word, rest), line)
        end = lines.line_count
        for chain in stack:
            self.unbalanced = True
            chain.branches[-1].end_line = end
            chain.end_line = end
        self.has_arm_path = any(c.mentions_arm for c in self.chains) or bool(ARM_INCLUDE.search(text))

    def _open(self, chain: Chain, kind: str, condition: str, line: int) -> None:
        branch = Branch(kind=kind, condition=condition, line=line, end_line=line, chain=chain)
        chain.branches.append(branch)
        self.branches.append(branch)

    def enclosing(self, line: int) -> list[Branch]:
        """Branches whose body holds the line, innermost first."""
        inside = []
        branch = self._innermost(line)
        while branch is not None:
            inside.append(branch)
            branch = branch.chain.parent
        return inside

    def state_of(self, line: int) -> PortStatus:
        innermost = self._innermost(line)
        if innermost is None:
            return PortStatus.UNPORTED
        index = self._index[id(innermost)]
        if self._arm_around[index] or self.has_arm_path:
            return PortStatus.PORTED
        return PortStatus.FALLBACK if self._x86_around[index] else PortStatus.UNPORTED

    def _innermost(self, line: int) -> Branch | None:
        if self._change_lines is None:
            self._index_lines()
        assert self._change_lines is not None
        at = bisect.bisect_right(self._change_lines, line) - 1
        return self._change_owners[at] if at >= 0 else None

    def _index_lines(self) -> None:
        """Where the innermost enclosing branch changes, and what each branch's enclosing branches say about
        ARM and x86, so that a line's state costs a binary search however many blocks or levels the file has.

        Branches nest (a stack parse) and are listed in the order they open: a sweep with a stack gives, in line
        order, each line from which another branch is innermost (a branch holds the lines strictly inside it).
        """
        lines: list[int] = []
        owners: list[Branch | None] = []
        stack: list[Branch] = []
        arm_chain: dict[int, bool] = {}
        for index, branch in enumerate(self.branches):
            self._index[id(branch)] = index
            while stack and stack[-1].end_line <= branch.line:
                ended = stack.pop()
                lines.append(max(ended.end_line, lines[-1]))  # one that holds no line ends where it opened
                owners.append(stack[-1] if stack else None)
            stack.append(branch)
            lines.append(branch.line + 1)
            owners.append(branch)
            chain = branch.chain
            if id(chain) not in arm_chain:
                arm_chain[id(chain)] = chain.mentions_arm
            parent = self._index[id(chain.parent)] if chain.parent is not None else None
            x86 = branch.kind != "else" and bool(X86_MACROS.search(branch.condition)
                                                 or _X86_SWITCH.search(branch.condition))
            self._arm_around.append(arm_chain[id(chain)] or (parent is not None and self._arm_around[parent]))
            self._x86_around.append(x86 or (parent is not None and self._x86_around[parent]))
        while stack:
            ended = stack.pop()
            lines.append(max(ended.end_line, lines[-1]))
            owners.append(stack[-1] if stack else None)
        self._change_lines, self._change_owners = lines, owners


def _condition(word: str, rest: str) -> str:
    rest = _COMMENT.sub("", rest).strip()
    if word in ("ifdef", "elifdef"):
        return f"defined({rest})"
    if word in ("ifndef", "elifndef"):
        return f"!defined({rest})"
    return rest
