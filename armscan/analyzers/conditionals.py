"""The #if / #elif / #else structure of a C-family file, to tell ported x86 code from unported."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from armscan.analyzers.text import LineIndex
from armscan.model import PortStatus

# Patterns start with a literal character so that the regex engine can skip ahead quickly; every macro
# name starts with an underscore, and the look-behind after it stands in for a leading word boundary.
_DIRECTIVE = re.compile(r"#[ \t]*(ifdef|ifndef|if|elifdef|elifndef|elif|else|endif|error)\b((?:[^\n]*\\\n)*[^\n]*)")
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
_LINE_START = re.compile(r"[ \t]*")
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
        stack: list[Chain] = []
        for match in _DIRECTIVE.finditer(text):
            if not _at_line_start(text, match.start()):
                continue
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
        inside = [b for b in self.branches if b.line < line < b.end_line]
        inside.sort(key=lambda b: b.line, reverse=True)
        return inside

    def state_of(self, line: int) -> PortStatus:
        enclosing = self.enclosing(line)
        if any(b.chain.mentions_arm for b in enclosing):
            return PortStatus.PORTED
        if enclosing and self.has_arm_path:
            return PortStatus.PORTED
        for branch in enclosing:
            if branch.kind != "else" and (X86_MACROS.search(branch.condition) or _X86_SWITCH.search(branch.condition)):
                return PortStatus.FALLBACK
        return PortStatus.UNPORTED


def _at_line_start(text: str, offset: int) -> bool:
    line_start = text.rfind("\n", 0, offset) + 1
    return _LINE_START.fullmatch(text, line_start, offset) is not None


def _condition(word: str, rest: str) -> str:
    rest = re.sub(r"/\*.*?\*/|//.*$", "", rest).strip()
    if word in ("ifdef", "elifdef"):
        return f"defined({rest})"
    if word in ("ifndef", "elifndef"):
        return f"!defined({rest})"
    return rest
