"""Built-in checks for C-family files: inline x86 assembly and #if chains that know no ARM."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from armscan.analyzers.conditionals import ARCH_MACROS, X86_MACROS, X86_SWITCH, Branch, Chain
from armscan.model import PortStatus

if TYPE_CHECKING:
    from armscan.analyzers.source import Hit, SourceFile
    from armscan.rules_engine.loader import Rule

_ASM_WORD = re.compile(r"asm(?:__)?\b")
_ASM_TAIL = re.compile(r"(?:\s+(?:__volatile__|volatile|__inline__|inline|goto))*\s*([({])|[ \t]+(?=[a-z])")
X86_ASM_BODY = re.compile(
    r"%%?(?:[re]?(?:ax|bx|cx|dx|si|di)|[er](?:sp|bp)|r(?:8|9|1[0-5])[dwb]?|[xyz]mm\d+|[abcd][lh]|eflags|rip)\b"
    r"|\b(?:[er][abcd]x|[er][sd]i|[er][sb]p|[xyz]mm\d+|r(?:8|9|1[0-5])[dwb]?)\b"
    r"|\b(?:cpuid|rdtscp?|rdrand|rdseed|rdpmc|xgetbv|xsetbv|pause|lfence|mfence|sfence|cmpxchg(?:8b|16b)?[bwlq]?"
    r"|xadd[bwlq]?|xchg[bwlq]?|bswap[lq]?|mov[bwlq]|movs[bwlqd]|movz[bw][wlq]|movabsq?|lea[lq]|push[lqfa]|pop[lqfa]"
    r"|cli|sti|hlt|outb|inb|outw|inw|outl|int3|rep|lock|crc32[bwlq]|popcnt[lq]?|bsr[lq]?|bsf[lq]?|tzcnt|lzcnt"
    r"|pdep|pext|vzeroupper|prefetcht[012]|prefetchnta|clflush(?:opt)?|emms|fldcw|fnstcw|fstcw|stmxcsr|ldmxcsr"
    r"|xbegin|xend|xabort|xtest)\b",
    re.IGNORECASE,
)
_BODY_LIMIT = 4000


_BRACKETS = {"(": re.compile(r"[()]"), "{": re.compile(r"[{}]")}


def _body_end(text: str, open_at: int, opener: str) -> int:
    """Where the asm statement opened at `open_at` closes (its matching bracket), or where its window ends."""
    depth = 0
    end = min(len(text), open_at + _BODY_LIMIT)
    for bracket in _BRACKETS[opener].finditer(text, open_at, end):
        depth += 1 if bracket.group() == opener else -1
        if depth == 0:
            return bracket.start()
    return end


def _statement_start(text: str, word: re.Match[str]) -> int | None:
    """Where `asm`, `__asm` or `__asm__` begins, or None when the match is part of a longer name."""
    start = word.start()
    if text.startswith("__", start - 2):
        start -= 2
    elif word.group() != "asm":
        return None
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return None
    return start


def inline_asm(source: SourceFile, rule: Rule) -> Iterator[Hit]:
    text = source.text
    if "asm" not in text:
        return
    seen: set[int] = set()
    examined_to = 0  # an asm word inside the body of one already examined is not another statement
    for word in _ASM_WORD.finditer(text):
        start = _statement_start(text, word)
        if start is None or start < examined_to or source.in_c_comment(start):
            continue
        match = _ASM_TAIL.match(text, word.end())
        if match is None:
            continue
        opener = match.group(1)
        if opener:
            examined_to = _body_end(text, match.start(1), opener)
            body = text[match.start(1) + 1 : examined_to]
        elif text[start:word.end()] == "__asm":  # MSVC single-line form: __asm mov eax, 1
            line_end = text.find("\n", match.end(), match.end() + _BODY_LIMIT)
            examined_to = line_end if line_end >= 0 else min(len(text), match.end() + _BODY_LIMIT)
            body = text[match.end() : examined_to]
        else:
            continue
        found = X86_ASM_BODY.search(body)
        if not found:
            continue
        line = source.lines.line_of(start)
        if line in seen:
            continue
        seen.add(line)
        state = PortStatus.PORTED if source.is_x86_variant else source.conditionals.state_of(line)
        if state is None or source.is_other_arch:
            continue  # another architecture's code, which aarch64 does not compile
        note = source.conditionals.note(line) if state is not PortStatus.UNPORTED and not source.is_x86_variant \
            else None
        yield source.hit_at(start, match.end(), state, detail=found.group().strip(), note=note)


def _chain_hit(source: SourceFile, line: int, variant: str, detail: str) -> Hit:
    start = source.lines.start_of(line)
    end = start + len(source.lines.line_text(line))
    return source.hit_at(start, end, PortStatus.UNPORTED, variant=variant, detail=detail)


def _x86_conditions(chain: Chain) -> str:
    names = []
    for branch in chain.branches:
        names.extend(X86_MACROS.findall(branch.condition))
    return ", ".join(dict.fromkeys(names))


_NOT_DEFINED = re.compile(r"!\s*defined\s*\(?\s*(\w+)\s*\)?")


def _off_x86(branch: Branch) -> bool:
    """A branch taken on every architecture but x86: `#ifndef __x86_64__`, `#if !defined(__i386__) && ...`."""
    parts = [_NOT_DEFINED.fullmatch(p.strip()) for p in branch.condition.split("&&")]
    return all(m is not None and ARCH_MACROS.fullmatch(m.group(1)) for m in parts)


_IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*")


def _configured_before(chain: Chain, error_branch: Branch) -> bool:
    """Whether a branch before the #error tests what the build configures (SIZEOF_SIZE_T, HAVE_STDINT_H): then the
    #error is reached only when the build leaves it out, on any architecture, not on all but x86."""
    for branch in chain.branches:
        if branch is error_branch:
            return False
        for name in _IDENTIFIER.findall(branch.condition):
            if name != "defined" and not (ARCH_MACROS.fullmatch(name) or X86_MACROS.fullmatch(name)
                                          or X86_SWITCH.search(name)):
                return True
    return False


def arch_chains(source: SourceFile, rule: Rule) -> Iterator[Hit]:
    """One hit per #if chain that tests x86 macros and has no ARM branch, judged by the branch aarch64 takes."""
    if not X86_MACROS.search(source.text):
        return
    conditionals = source.conditionals
    for chain in conditionals.chains:
        if not chain.mentions_x86 or chain.mentions_arm:
            continue
        if chain.parent is not None and chain.parent.compiled is False:
            continue  # aarch64 never reads this chain
        detail = _x86_conditions(chain)
        taken = next((b for b in chain.branches if b.taken), None)
        if taken is not None and taken.has_error and taken.error_line is not None:
            if chain.parent is None and source.declares_x86_only:
                yield _chain_hit(source, taken.error_line, "x86-only-file", detail)
                continue
            yield _chain_hit(source, taken.error_line, "error", f"{detail}; aarch64 reaches the #error")
            continue
        error_branch = next((b for b in chain.branches if (b.kind == "else" or _off_x86(b)) and b.has_error), None)
        if (taken is None and error_branch is not None and error_branch.error_line is not None
                and not _configured_before(chain, error_branch)):
            yield _chain_hit(source, error_branch.error_line, "error", detail)
            continue
        if conditionals.has_arm_path or source.is_x86_variant:
            continue
        if taken is not None and taken.kind != "else":
            yield _chain_hit(source, chain.start_line, "fallback",
                             f"{detail}; aarch64 takes line {taken.line}: #{taken.kind} {taken.condition}")
            continue
        if chain.has_else:
            variant = "fallback"
            detail += "; aarch64 takes the #else" if taken is not None else ""
        elif ARCH_MACROS.search(" ".join(b.condition for b in chain.branches)):
            variant = "no-arm-branch"
        else:
            variant = "feature-only"
        yield _chain_hit(source, chain.start_line, variant, detail)
