"""Built-in check: a standalone x86 assembly file with no aarch64 counterpart."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from armscan.analyzers.cfamily import X86_ASM_BODY
from armscan.analyzers.conditionals import ARM_MACROS
from armscan.analyzers.counterparts import has_arm_counterpart, is_arm_named
from armscan.model import PortStatus

if TYPE_CHECKING:
    from armscan.analyzers.source import Hit, SourceFile
    from armscan.rules_engine.loader import Rule

# Leading blanks are [ \t]*, not \s*: \s would run on over every empty line below, at every line start.
_GO_ASM = re.compile(r"^[ \t]*TEXT\s+(?:·|\\u00b7|\S*·)|#include\s+\"textflag\.h\"", re.MULTILINE)
_NASM = re.compile(r"^[ \t]*(?:bits\s+(?:16|32|64)|default\s+rel|section\s+\.text|%define\s|%macro\s|cpu\s+x64)\b",
                   re.IGNORECASE | re.MULTILINE)
_COMMENT = re.compile(r"^\s*(?:;|#(?!\s*(?:if|ifdef|ifndef|elif|else|endif|include|define)\b)|//|@)")
_MIN_EVIDENCE = 2
_ATT_REGISTER = re.compile(r"%(?:[re]?(?:ax|bx|cx|dx|si|di|sp|bp)|r(?:8|9|1[0-5])[dwb]?|[xyz]mm\d+|[abcd][lh]|rip)\b")


def x86_asm_file(source: SourceFile, rule: Rule) -> Iterator[Hit]:
    text = source.text
    if _GO_ASM.search(text):
        return  # Go assembly is judged with its package by the Go check
    relative = os.path.relpath(source.path, source.root) if source.root else source.display
    folder = os.path.basename(os.path.dirname(relative))
    if is_arm_named(source.name) or (folder not in ("", ".", "..") and is_arm_named(folder)):
        return  # ARM's own assembly (celt/arm/celt_pitch_xcorr_arm.s), whatever words it shares with x86
    first = None
    evidence = 0
    for match in _NASM.finditer(text):
        first = first if first is not None else match.start()
        evidence += _MIN_EVIDENCE
        break
    lines = source.lines
    code_lines = 0  # a file of one instruction is judged by that one
    for line_no in range(1, lines.line_count + 1):
        if evidence >= _MIN_EVIDENCE and first is not None:
            break
        line = lines.line_text(line_no)
        if not line.strip() or _COMMENT.match(line):
            continue
        code = re.split(r"\s(?:;|//|#)", line, maxsplit=1)[0]
        code_lines += 0 if code.lstrip().startswith(".") else 1
        found = X86_ASM_BODY.search(code)
        if found:
            # an AT&T register (%rax, %xmm0) is x86 on its own; a bare word (rep, lock, eax) needs company
            evidence += _MIN_EVIDENCE if _ATT_REGISTER.search(code) else 1
            if first is None:
                first = lines.start_of(line_no) + found.start()
    if first is None or evidence < min(_MIN_EVIDENCE, max(code_lines, 1)):
        return
    state: PortStatus | None = PortStatus.UNPORTED
    if ARM_MACROS.search(text) or has_arm_counterpart(source.name, source.siblings, require_x86_name=False):
        state = PortStatus.PORTED
    elif "#" in text:  # preprocessed assembly (.S): under `#ifdef HAVE_AMD64_ASM` aarch64 assembles none of it
        state = source.conditionals.state_of(lines.line_of(first))
        if state is None:
            return  # another architecture's branch
    assert state is not None
    end = text.find("\n", first)
    yield source.hit_at(first, end if end >= 0 else len(text), state, variant="x86")
