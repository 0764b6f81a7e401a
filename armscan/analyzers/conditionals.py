"""The #if / #elif / #else structure of a C-family file, to tell ported x86 code from unported.

Each branch is evaluated as the aarch64 compiler would (armscan.analyzers.preprocessor), with the file's own
#define / #undef before it and those of the project headers it includes: a line is compiled for aarch64, not
compiled, or unknown (the build decides). Only where that is unknown do the names in the conditions decide.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from armscan.analyzers.preprocessor import _ABSENT, FUNCTION, MAYBE, UNDEFINED, Definition, Evaluator, is_reserved
from armscan.analyzers.text import LineIndex
from armscan.model import PortStatus

# The macros a project header leaves defined, given its name as included and the nesting depth.
HeaderMacros = Callable[[str, int], dict[str, Definition] | None]

# Patterns start with a literal character so that the regex engine can skip ahead quickly; every macro
# name starts with an underscore, and the look-behind after it stands in for a leading word boundary.
# Anchored at line starts and possessive, so that a line holding many `#if` costs one pass.
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(ifdef|ifndef|if|elifdef|elifndef|elif|else|endif|error|define|undef|include)\b"
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
# A project's own switch for its ARM path (HH_TARGET_NEON, CROARING_USENEON, USE_AARCH64_ASM)
ARM_SWITCH = re.compile(r"(?i)neon|aarch64|arm64")
ARM_INCLUDE = re.compile(r"#[ \t]*include[ \t]*[<\"](?:arm_neon|arm_sve|arm_acle|sse2neon|simde/)")
_COMMENT = re.compile(r"/\*(?:.*?\*/|.*)|//.*")  # an unclosed comment runs to the end: one pass on any line
# Names that mark a conditional as a SIMD/x86 switch even without a predefined macro (HAVE_SSE2, USE_AVX).
X86_SWITCH = re.compile(r"(?i)sse|avx|x86|x64|amd64|i386|simd|intrin|mmx|cpuid|aes_?ni|pclmul|ia32|rdrand|rdseed"
                        r"|(?<![a-z])(?:bmi2?|popcnt|lzcnt)(?![a-z])")
# Other architectures, whose SIMD code (PowerPC VSX, LoongArch LSX emulating __m128i) is not x86 code.
FOREIGN_MACROS = re.compile(
    r"_(?<![\w]_)(?:_powerpc\w*|_ppc\w*|_PPC\w*|_POWERPC__|_ALTIVEC__|_VSX__|_loongarch\w*|_mips\w*|_MIPS\w*"
    r"|_s390\w*|_riscv\w*|_wasm\w*|_sparc\w*|_e2k__|_ia64__|M_PPC)\b"
)
_DEFINE = re.compile(r"\s*+([A-Za-z_]\w*+)(\(?)\s*+(.*)", re.DOTALL)
_QUOTED = re.compile(r'\s*"([^"\n]{1,512})"')
_ANGLED = re.compile(r"\s*<([^>\n]{1,512})>")  # <roaring/portability.h>: the project's own, when the tree has it


@dataclass
class Branch:
    kind: str
    condition: str
    line: int
    end_line: int
    chain: Chain
    has_error: bool = False
    error_line: int | None = None
    taken: bool | None = None  # aarch64 takes this branch of its chain (where the chain itself is compiled)
    compiled: bool | None = None  # its body is compiled for aarch64: it and every enclosing branch taken


@dataclass
class Chain:
    start_line: int
    parent: Branch | None
    branches: list[Branch] = field(default_factory=list)
    end_line: int = 0

    @property
    def mentions_arm(self) -> bool:
        return any(ARM_MACROS.search(b.condition) or ARM_SWITCH.search(b.condition) for b in self.branches)

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
    """All preprocessor chains of one file, each branch evaluated for aarch64."""

    def __init__(self, text: str, lines: LineIndex, headers: HeaderMacros | None = None, depth: int = 0,
                 language: str | None = None, configured_off: frozenset[str] = frozenset()) -> None:
        """`configured_off`: macros the project's configure step defines only on x86 (see analyzers/configured.py)."""
        self.chains: list[Chain] = []
        self.branches: list[Branch] = []
        self.unbalanced = False
        self.macros: dict[str, Definition] = {}  # what the file (and the headers it includes) define, at its end
        self._headers = headers
        self._configured_off = configured_off
        self._depth = depth
        self._pending: list[tuple[str, bool | None]] = []  # includes not read yet, and whether aarch64 reads them
        # C or C++ when the file name says (a header can be either: __cplusplus stays unknown there)
        self._evaluator = Evaluator(self._lookup, language)
        self._change_lines: list[int] | None = None
        self._change_owners: list[Branch | None] = []
        self._index: dict[int, int] = {}
        self._arm_around: list[bool] = []  # by branch index: it or an enclosing branch is in a chain naming ARM
        self._x86_around: list[bool] = []  # it or an enclosing branch is taken on an x86 or SIMD condition
        self._foreign_around: list[bool] = []  # it or an enclosing branch not compiled tests another architecture
        stack: list[Chain] = []
        previous: tuple[str, str] | None = None  # the directive before, for the include-guard idiom
        for match in _DIRECTIVE.finditer(text):
            word, raw = match.group(1), match.group(2).replace("\\\n", " ")
            rest = " ".join(raw.split())
            line = lines.line_of(match.start())
            compiled = stack[-1].branches[-1].compiled if stack else True
            if word.startswith("if"):
                parent = stack[-1].branches[-1] if stack else None
                chain = Chain(start_line=line, parent=parent)
                self.chains.append(chain)
                stack.append(chain)
                self._open(chain, "if", _condition(word, rest), line, compiled)
            elif word == "error":
                if stack and not stack[-1].branches[-1].has_error:
                    stack[-1].branches[-1].has_error = True
                    stack[-1].branches[-1].error_line = line
            elif word in ("define", "undef", "include"):
                if compiled is not False:
                    self._directive(word, _COMMENT.sub("", raw), compiled, previous, stack)
                elif word == "define" and (defined := _DEFINE.match(raw)) is not None:
                    # defined only where aarch64 does not compile (`#elif defined(__x86_64__)` / `#define IS_X64`):
                    # not defined there, unless the file defines it elsewhere
                    self.macros.setdefault(defined.group(1), UNDEFINED)
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
                outer = chain.parent.compiled if chain.parent is not None else True
                self._open(chain, kind, _condition(word, rest), line, outer)
            previous = (word, rest)
        end = lines.line_count
        for chain in stack:
            self.unbalanced = True
            chain.branches[-1].end_line = end
            chain.end_line = end
        self.has_arm_path = any(c.mentions_arm for c in self.chains) or bool(ARM_INCLUDE.search(text))
        if depth and self._pending:  # a header read for the macros it leaves defined
            self._read_pending()

    def _open(self, chain: Chain, kind: str, condition: str, line: int, outer: bool | None) -> None:
        branch = Branch(kind=kind, condition=condition, line=line, end_line=line, chain=chain)
        earlier = [b.taken for b in chain.branches]
        if True in earlier or outer is False:  # not read by aarch64's preprocessor: not worked out
            branch.taken = False if True in earlier else None
        else:
            truth = True if kind == "else" else self._evaluator.truth(condition)
            branch.taken = False if truth is False else truth if None not in earlier else None
        branch.compiled = False if outer is False or branch.taken is False else (
            True if outer and branch.taken else None)
        chain.branches.append(branch)
        self.branches.append(branch)

    def _directive(self, word: str, body: str, compiled: bool | None, previous: tuple[str, str] | None,
                   stack: list[Chain]) -> None:
        """A #define, #undef or #include on a line aarch64 compiles (True) or may compile (None)."""
        if word == "include":
            named = _QUOTED.match(body) or _ANGLED.match(body)
            if named and self._headers:
                self._pending.append((named.group(1), compiled))
            return
        match = _DEFINE.match(body)
        if match is None:
            return
        name = match.group(1)
        if word == "undef":
            self._set(name, UNDEFINED, compiled)
            return
        if (previous is not None and previous[0] in ("ifndef", "if") and stack and len(stack[-1].branches) == 1
                and stack[-1].branches[0].taken is None
                and stack[-1].branches[0].condition.replace(" ", "") in (f"!defined({name})", f"!defined{name}")):
            self._guard(stack)  # #ifndef X / #define X: an include guard, not an architecture test
        self._set(name, FUNCTION if match.group(2) else " ".join(match.group(3).split()), compiled)

    def _lookup(self, name: str) -> object:
        found = self.macros.get(name, _ABSENT)
        if found is _ABSENT and self._pending and not is_reserved(name):
            self._read_pending()
            found = self.macros.get(name, _ABSENT)
        if found is _ABSENT and name in self._configured_off:
            return UNDEFINED
        return found

    def _read_pending(self) -> None:
        """Read the headers included so far, at the first condition that names a macro the file does not define
        (most never do): their macros count where the file says nothing of the name itself since."""
        assert self._headers is not None
        pending, self._pending = self._pending, []
        for header, compiled in pending:
            for name, definition in (self._headers(header, self._depth) or {}).items():
                if name not in self.macros:
                    self._set(name, definition, compiled)

    def _guard(self, stack: list[Chain]) -> None:
        branch = stack[-1].branches[0]
        outer = branch.chain.parent.compiled if branch.chain.parent is not None else True
        branch.taken = True
        branch.compiled = outer

    def _set(self, name: str, definition: Definition, compiled: bool | None) -> None:
        if compiled:
            self.macros[name] = definition
        elif self.macros.get(name, _ABSENT) != definition or is_reserved(name):
            self.macros[name] = MAYBE

    def note(self, line: int) -> str | None:
        """Why x86 code on this line is not compiled for aarch64, or why that is not known, in one sentence."""
        enclosing = self.enclosing(line)
        for branch in enclosing:
            if branch.taken is False and (branch.chain.parent is None or branch.chain.parent.compiled is not False):
                taken = next((b for b in branch.chain.branches if b.taken), None)
                where = f"the {_describe(branch)}"
                if taken is None:
                    return f"aarch64 does not take {where}."
                return f"aarch64 does not take {where}; it takes line {taken.line} ({_describe(taken, False)})."
        unknown = next((b for b in enclosing if b.taken is None), None)
        if unknown is None:
            return None
        return (f"Whether aarch64 compiles it depends on the build: the {_describe(unknown)} names a macro neither "
                f"the compiler nor the project's headers define.")

    def enclosing(self, line: int) -> list[Branch]:
        """Branches whose body holds the line, innermost first."""
        inside = []
        branch = self._innermost(line)
        while branch is not None:
            inside.append(branch)
            branch = branch.chain.parent
        return inside

    def state_of(self, line: int) -> PortStatus | None:
        """The port state of x86 code on this line; None when the line is another architecture's code that
        aarch64 does not compile (PowerPC, LoongArch...), which is not x86 code to port."""
        innermost = self._innermost(line)
        if innermost is None:
            return PortStatus.UNPORTED
        index = self._index[id(innermost)]
        if innermost.compiled is False:
            if self._foreign_around[index]:
                return None
            return PortStatus.PORTED if self._arm_around[index] or self.has_arm_path else PortStatus.FALLBACK
        if innermost.compiled:
            return PortStatus.UNPORTED  # aarch64 compiles it, whatever the names in the conditions say
        if self._arm_around[index] or self.has_arm_path:
            return PortStatus.PORTED
        return PortStatus.FALLBACK if self._x86_around[index] else PortStatus.UNPORTED

    def x86_only(self, line: int) -> bool:
        """Whether aarch64 does not compile this line, or (where the build decides) only an x86-named switch
        (HAVE_AVX2, __SSE4_1__) lets it in."""
        innermost = self._innermost(line)
        if innermost is None or innermost.compiled:
            return False
        return innermost.compiled is False or self._x86_around[self._index[id(innermost)]]

    def compiled(self, line: int) -> bool | None:
        """Whether aarch64 compiles this line (None: the build decides)."""
        innermost = self._innermost(line)
        return True if innermost is None else innermost.compiled

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
                                                 or X86_SWITCH.search(branch.condition))
            self._arm_around.append(arm_chain[id(chain)] or (parent is not None and self._arm_around[parent]))
            self._x86_around.append(x86 or (parent is not None and self._x86_around[parent]))
            foreign = branch.taken is False and bool(FOREIGN_MACROS.search(branch.condition)) and not x86
            self._foreign_around.append(foreign or (parent is not None and self._foreign_around[parent]))
        while stack:
            ended = stack.pop()
            lines.append(max(ended.end_line, lines[-1]))
            owners.append(stack[-1] if stack else None)
        self._change_lines, self._change_owners = lines, owners


def _describe(branch: Branch, where: bool = True) -> str:
    first = branch.chain.branches[0]
    text = (f"#else of #if {first.condition[:80]}" if branch.kind == "else"
            else f"#{branch.kind} {branch.condition[:80]}")
    return f"{text} on line {branch.line}" if where else text


def _condition(word: str, rest: str) -> str:
    rest = _COMMENT.sub("", rest).strip()
    if word in ("ifdef", "elifdef"):
        return f"defined({rest})"
    if word in ("ifndef", "elifndef"):
        return f"!defined({rest})"
    return rest
