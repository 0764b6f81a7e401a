"""Run the source rules that apply to one file and turn their hits into findings."""

from __future__ import annotations

import bisect
import itertools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

from armscan.analyzers import buildfiles, configured
from armscan.analyzers.conditionals import Conditionals
from armscan.analyzers.counterparts import Siblings, has_arm_counterpart, in_other_arch_folder, is_x86_named
from armscan.analyzers.includes import Headers
from armscan.analyzers.rustcfg import RustCfg, declared_only_under_cfg
from armscan.analyzers.text import LineIndex, snippet
from armscan.model import Confidence, Finding, Location, PortStatus, Severity
from armscan.rules_engine.loader import Rule

# Linear on any input: an unterminated comment runs to the end of the file and an unterminated string to the end
# of its line (as a compiler reads them), and a character literal is short (a Rust lifetime is no literal), so
# no failed attempt scans far.
_C_COMMENTS = re.compile(r"//[^\n]*|/\*(?:.*?\*/|.*)|\"(?:\\.|[^\"\\\n])*\"?|'(?:\\.|[^'\\\n]){0,16}'", re.DOTALL)
_HASH_COMMENT = re.compile(r"^\s*#")
# Where a match is not code: comments and string literals of source, comments of build scripts
# (whose flags sit in strings), whole-line # comments of make-like files.
_CXX_SUFFIXES = (".cc", ".cpp", ".cxx", ".c++", ".mm", ".cu")
_CODE = frozenset({"c", "go", "rust"})
_C_COMMENTS_ONLY = frozenset({"cargo-build"})
_HASH_STYLE = frozenset({"make", "cmake", "setup-py", "meson", "autotools", "bazel", "dockerfile"})
_X86_HEADER = re.compile(
    r'^[ \t]*#[ \t]*include[ \t]*[<"](?:[a-z]?mmintrin|immintrin|x86intrin|ammintrin|cpuid)\.h[>"]', re.MULTILINE)
_X86_IN_NAME = re.compile(r"(?i)x86|amd64")  # xxh_x86dispatch.c, not only x86 as a word of its own
_OTHER_ARCH_HEADER = re.compile(
    r'^[ \t]*#[ \t]*include[ \t]*[<"](?:[\w.-]*/)?(?:altivec|lsxintrin|lasxintrin|msa|riscv_vector|vecintrin'
    r'|wasm_simd128|loongson[-_]mmintrin|ppu_intrinsics|spu_intrinsics)\.h[>"]', re.MULTILINE)


@dataclass(frozen=True)
class Hit:
    """One place a check found, before it becomes a finding."""

    line: int
    column: int
    end_column: int | None
    snippet: str
    match: str
    state: PortStatus = PortStatus.UNPORTED
    variant: str | None = None
    detail: str | None = None
    note: str | None = None  # a sentence added to the message (which branch aarch64 takes)


class SourceFile:
    """One text file under analysis, with lazily computed structure."""

    def __init__(self, path: str, display: str, name: str, text: str, siblings: Siblings,
                 root: str | None = None) -> None:
        self.path = path
        self.root = root  # the scanned tree, whose headers an #include may name; None: includes not followed
        self.display = display
        self.name = name
        self.text = text
        self.siblings = siblings

    @cached_property
    def lines(self) -> LineIndex:
        return LineIndex(self.text)

    @cached_property
    def conditionals(self) -> Conditionals:
        language = "c++" if self.name.endswith(_CXX_SUFFIXES) else "c" if self.name.endswith((".c", ".m")) else None
        return Conditionals(self.text, self.lines, Headers(self.path, self.root) if self.root else None,
                            language=language, configured_off=configured.undefined_on_aarch64(self.root))

    @cached_property
    def has_inline_marks(self) -> bool:
        return "armscan:" in self.text

    @cached_property
    def has_counterpart(self) -> bool:
        return has_arm_counterpart(self.name, self.siblings)

    @cached_property
    def declares_x86_only(self) -> bool:
        """An x86-named file (xxh_x86dispatch.c) that stops the build everywhere but x86 before anything else: an
        x86 variant by its own word, which aarch64 builds leave out."""
        if "error" not in self.text or not (is_x86_named(self.name) or _X86_IN_NAME.search(self.name)):
            return False
        return any(chain.parent is None and any(b.has_error and b.taken for b in chain.branches)
                   for chain in self.conditionals.chains)

    @cached_property
    def is_x86_variant(self) -> bool:
        """An x86 file that aarch64 builds replace: by an ARM file beside it, or by leaving it out."""
        return self.has_counterpart or self.declares_x86_only

    @cached_property
    def rust_left_out(self) -> RustCfg:
        return RustCfg(self.text, self.lines)

    def rust_state(self, line: int) -> PortStatus:
        return PortStatus.FALLBACK if self.rust_left_out.left_out(line) else PortStatus.UNPORTED

    @cached_property
    def is_rust_x86_variant(self) -> bool:
        """A Rust module named for x86 that its parent declares only under a cfg not known to hold on aarch64."""
        return is_x86_named(self.name) and declared_only_under_cfg(self.path, self.root)

    @cached_property
    def is_other_arch(self) -> bool:
        """Another architecture's code: in a folder named for one (simd/mips64/), or including that
        architecture's SIMD header outside a branch for it, with no x86 one. aarch64 does not compile it."""
        relative = os.path.relpath(self.path, self.root) if self.root else self.display
        if in_other_arch_folder(relative):
            return True
        if _X86_HEADER.search(self.text):
            return False
        return any(self.conditionals.state_of(self.lines.line_of(m.start())) is not None
                   for m in _OTHER_ARCH_HEADER.finditer(self.text))

    @cached_property
    def _c_spans(self) -> tuple[_Spans, _Spans]:
        comments = _Spans()
        everything = _Spans()
        for m in _C_COMMENTS.finditer(self.text):
            if self.text.startswith("/", m.start()):
                comments.add(m.start(), m.end())
            everything.add(m.start(), m.end())
        return comments, everything

    def in_c_comment(self, offset: int) -> bool:
        return self._c_spans[0].holds(offset)

    def in_c_comment_or_string(self, offset: int) -> bool:
        return self._c_spans[1].holds(offset)

    def hit_at(self, start: int, end: int, state: PortStatus = PortStatus.UNPORTED, **kw: str | None) -> Hit:
        line = self.lines.line_of(start)
        line_start = self.lines.start_of(line)
        text = self.lines.line_text(line)
        end_col = end - line_start + 1 if end - line_start <= len(text) else None
        match = self.text[start:end]
        return Hit(line, start - line_start + 1, end_col, snippet(text), snippet(match, 120), state, **kw)


class _Spans:
    """Non-overlapping spans of a text, added in order."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, start: int, end: int) -> None:
        self.starts.append(start)
        self.ends.append(end)

    def holds(self, offset: int) -> bool:
        i = bisect.bisect_right(self.starts, offset) - 1
        return i >= 0 and offset < self.ends[i]


Check = Callable[[SourceFile, Rule], Iterator[Hit]]


def _regex_check(source: SourceFile, rule: Rule) -> Iterator[Hit]:
    for start, end, state in _regex_matches(source, rule):
        yield source.hit_at(start, end, state)


def _regex_matches(source: SourceFile, rule: Rule, cap: int | None = None, more: _Unlisted | None = None,
                   ) -> Iterator[tuple[int, int, PortStatus]]:
    """Where a regex rule matches (at most once a line), before any hit is made. Past `cap` matches, the rest
    are only counted into `more`: this loop can run millions of times, so it calls as little as it can."""
    text = source.text
    if rule.context == "dockerfile":
        text = _join_continuations(text)
    language = rule.language_of(source.name)
    hash_style = language in _HASH_STYLE
    file_state = None
    if rule.ported_if_file is not None and rule.ported_if_file.search(source.text):
        file_state = PortStatus.PORTED
    elif rule.fallback_if_file is not None and rule.fallback_if_file.search(source.text):
        file_state = PortStatus.FALLBACK
    seen: set[int] = set()
    line_starts: list[int] = []
    span_starts: list[int] = []
    span_ends: list[int] = []
    prepared = False  # lines and comment spans cost a pass over the text: only once some pattern matches
    state_of: Callable[[int], PortStatus | None] | None = None  # per line, where #if blocks make lines differ
    judged = file_state is not None
    unless_line = rule.unless_line
    # Past the cap, a rule whose matches need no line-by-line look (no # comments, unless-line or inline marks)
    # is counted in bulk: a million matches cost a second one by one.
    bulk = more is not None and cap is not None and not hash_style and unless_line is None
    listed = 0
    for index, pattern in enumerate(rule.patterns):
        matches = pattern.finditer(text)
        for match in matches:
            if not prepared:
                prepared = True
                line_starts = source.lines.starts
                spans = source._c_spans[1] if language in _CODE else \
                    source._c_spans[0] if language in _C_COMMENTS_ONLY else None
                if spans is not None:
                    span_starts, span_ends = spans.starts, spans.ends
            begin = match.start()
            start = match.start(1) if match.lastindex else begin
            line = bisect.bisect_right(line_starts, start)
            if line in seen:
                continue
            at = bisect.bisect_right(span_starts, begin) - 1
            if at >= 0 and begin < span_ends[at]:
                continue  # in a comment (or string literal) where the language has them
            if hash_style:
                line_text = source.lines.line_text(line)
                if _HASH_COMMENT.match(line_text) and not line_text.lstrip().startswith("#include"):
                    continue
            if unless_line is not None and unless_line.search(text[begin : match.end()]):
                continue
            seen.add(line)
            if not judged:  # on the first match: most files have none, and #if structure costs a pass
                judged = True
                if rule.context == "c-preprocessor" and source.is_other_arch:
                    return  # another architecture's code, which aarch64 does not compile
                file_state = _file_context_state(source, rule, language)
                state_of = _line_states(source, language) if file_state is None else None
            line_state = state_of(line) if state_of is not None else file_state or PortStatus.UNPORTED
            if line_state is None:
                continue  # another architecture's code, which aarch64 does not compile
            state = line_state
            if more is None or cap is None or listed < cap:
                listed += 1
                yield start, match.end(1) if match.lastindex else match.end(), state
                if bulk and listed == cap and not source.has_inline_marks:
                    assert more is not None
                    rest = itertools.chain(matches, *(p.finditer(text) for p in rule.patterns[index + 1 :]))
                    _count_rest(rest, seen, line_starts, (span_starts, span_ends), state_of or state, more)
                    return
            else:
                more.add(line, state, source if source.has_inline_marks else None)


def _count_rest(matches: Iterator[re.Match[str]], seen: set[int], line_starts: list[int],
                spans: tuple[list[int], list[int]], state: Callable[[int], PortStatus | None] | PortStatus,
                more: _Unlisted) -> None:
    """Count the lines the remaining matches are on (once a line, none in `seen`, none inside a span), in
    chunks of arrays: the same count as one match at a time, at a fraction of the cost."""
    import numpy as np

    starts = np.asarray(line_starts)
    span_starts, span_ends = np.asarray(spans[0], dtype=np.int64), np.asarray(spans[1], dtype=np.int64)
    found = []
    while chunk := [(m.start(), m.start(1 if m.lastindex else 0)) for m in itertools.islice(matches, 65_536)]:
        offsets = np.asarray(chunk, dtype=np.int64)
        lines = np.searchsorted(starts, offsets[:, 1], side="right")
        if len(span_starts):
            at = np.searchsorted(span_starts, offsets[:, 0], side="right") - 1
            inside = (at >= 0) & (offsets[:, 0] < span_ends[np.maximum(at, 0)])
            lines = lines[~inside]
        found.append(np.unique(lines))
    if not found:
        return
    lines = np.unique(np.concatenate(found))
    if seen:
        lines = lines[~np.isin(lines, np.fromiter(seen, dtype=np.int64, count=len(seen)))]
    if len(lines):
        found_lines = lines.tolist()
        if not isinstance(state, PortStatus):
            judged = [(line, state(line)) for line in found_lines]
            found_lines = [line for line, s in judged if s is not None]
            states = {s for _, s in judged if s is not None}
        else:
            states = {state}
        if found_lines:
            more.add_lines(len(found_lines), found_lines[0], states)


def _note(source: SourceFile, rule: Rule, start: int, state: PortStatus) -> str | None:
    """For x86 code judged by its #if conditions, the sentence that says which way aarch64 goes."""
    if state is PortStatus.UNPORTED or rule.context != "c-preprocessor" or source.is_x86_variant:
        return None
    return source.conditionals.note(source.lines.line_of(start))


def _file_context_state(source: SourceFile, rule: Rule, language: str | None = None) -> PortStatus | None:
    """The port state of every match of the rule in this file, or None when it is decided line by line."""
    if language in buildfiles.LANGUAGES:  # flags under a condition false on aarch64 are not passed there;
        return PortStatus.PORTED if source.has_counterpart else None  # arch/x86/Makefile.in is x86's own
    if rule.context == "rust-cfg":
        return PortStatus.FALLBACK if source.is_rust_x86_variant else None
    if rule.context != "c-preprocessor":
        return PortStatus.UNPORTED
    if source.is_x86_variant:
        return PortStatus.PORTED
    return None if source.conditionals.branches else PortStatus.UNPORTED


def _line_states(source: SourceFile, language: str | None) -> Callable[[int], PortStatus | None]:
    if language == "rust":  # only rules judged by cfg attributes get here
        return source.rust_state
    blocks = buildfiles.blocks_of(source, language)
    return blocks.state_of if blocks is not None else source.conditionals.state_of


def _join_continuations(text: str) -> str:
    """Dockerfile instructions continue over lines; join them without moving any offset.

    The escape character and newline of a continued line become spaces, and comment lines inside a
    continued instruction (which Docker drops) become spaces too.
    """
    escape = "`" if re.match(r"(?:#[^\n]*\n)*#\s*escape\s*=\s*`", text) else "\\"
    out: list[str] = []
    continuing = False
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if continuing and body.lstrip().startswith("#"):
            out.append(" " * len(line))
            continue
        stripped = body.rstrip()
        if stripped.endswith(escape):
            out.append(stripped[:-1] + " " * (len(line) - len(stripped) + 1))
            continuing = True
        else:
            out.append(line)
            continuing = False
    return "".join(out)


def _checks() -> dict[str, Check]:
    from armscan.analyzers import asmfiles, cfamily, golang

    return {
        "regex": _regex_check,
        "c-inline-asm": cfamily.inline_asm,
        "c-arch-chain": cfamily.arch_chains,
        "asm-file": asmfiles.x86_asm_file,
        "go-arch-file": golang.arch_file,
        "build-x86-sources": buildfiles.x86_only_sources,
    }


_CHECKS: dict[str, Check] = {}


def analyze_text(source: SourceFile, rules: tuple[Rule, ...], cap: int | None = None) -> list[Finding]:
    """Findings of every rule in `rules` on one file.

    A built-in check with variants runs once per file; each hit names its variant, and the rule of
    that variant (when it is among `rules`) reports it. Past `cap` findings of one rule, the rest are
    counted into one finding of that rule that says how many were not listed.
    """
    if not _CHECKS:
        _CHECKS.update(_checks())
    findings: list[Finding] = []
    variants = {(r.check, r.variant): r for r in rules if r.variant is not None}
    ran: set[str] = set()
    listed: dict[str, int] = {}
    unlisted: dict[str, _Unlisted] = {}
    for rule in rules:
        if rule.variant is not None:
            if rule.check in ran:
                continue
            ran.add(rule.check)
        elif rule.unless_file is not None and rule.unless_file.search(source.text):
            continue
        if rule.check == "regex":  # the common case, and the one that can match millions of times
            more = _Unlisted(rule, cap) if cap is not None else None
            for start, end, state in _regex_matches(source, rule, cap, more):
                note = _note(source, rule, start, state)
                findings.append(to_finding(rule, source.hit_at(start, end, state, note=note), source.display))
            if more is not None and more.count:
                unlisted[rule.id] = more
            continue
        for hit in _CHECKS[rule.check](source, rule):
            target = variants.get((rule.check, hit.variant)) if hit.variant is not None else rule
            if target is None:
                continue
            if cap is None or listed.get(target.id, 0) < cap:
                listed[target.id] = listed.get(target.id, 0) + 1
                findings.append(to_finding(target, hit, source.display))
                continue
            if target.id not in unlisted:
                unlisted[target.id] = _Unlisted(target, cap)
            unlisted[target.id].add(hit.line, hit.state, source if source.has_inline_marks else None)
    findings.extend(more.finding(source.display) for more in unlisted.values())
    return findings


class _Unlisted:
    """The findings of one rule past the cap: counted exactly, judged at the worst of them."""

    def __init__(self, rule: Rule, listed: int) -> None:
        self.rule = rule
        self.listed = listed
        self.count = 0
        self.suppressed = 0
        self.first_line = 0
        self.worst: PortStatus | None = None
        self._rank: dict[PortStatus, int] = {}

    def add(self, line: int, state: PortStatus, marked: SourceFile | None = None) -> None:
        """One more finding past the cap, on `line`; `marked`: its file, when it has inline marks to check."""
        self.count += 1
        self.first_line = min(self.first_line or line, line)
        if marked is not None and _inline_reason(marked, line, self.rule.id) is not None:
            self.suppressed += 1  # as the gate would mark it, had it been listed
            return
        self.add_state(state)

    def add_lines(self, count: int, first_line: int, states: set[PortStatus]) -> None:
        """`count` more, none marked inline, the first on `first_line`, in these states."""
        self.count += count
        self.first_line = min(self.first_line or first_line, first_line)
        for state in states:
            self.add_state(state)

    def add_state(self, state: PortStatus) -> None:
        if not self._rank:
            self._rank.update((s, _judge(self.rule, s)[0].rank) for s in PortStatus)
        if self.worst is None or self._rank[state] > self._rank[self.worst]:
            self.worst = state

    def finding(self, path: str) -> Finding:
        state = self.worst or PortStatus.UNPORTED
        severity, confidence, _message, advice = _judge(self.rule, state)
        message = (f"{self.count} more matches of {self.rule.id} in this file not listed (the first {self.listed} "
                   f"are; the next is on line {self.first_line})")
        if self.suppressed:
            message += f"; {self.suppressed} of them are marked armscan: ignore"
        everything_ignored = self.suppressed == self.count
        return Finding(
            rule_id=self.rule.id, title=self.rule.title, severity=severity, confidence=confidence,
            effort=self.rule.effort, work=self.rule.work, message=message + ".", advice=advice,
            location=Location(path=path), references=self.rule.references, status=state,
            suppressed=f"inline: all {self.count} marked armscan: ignore" if everything_ignored else None,
            places=self.count,
        )


def _inline_reason(source: SourceFile, line: int, rule_id: str) -> str | None:
    from armscan.gate import inline_suppression

    lines = [source.lines.line_text(n) for n in (line - 1, line) if n >= 1]
    return inline_suppression(lines, len(lines), rule_id)


def _judge(rule: Rule, state: PortStatus) -> tuple[Severity, Confidence, str, str]:
    """Severity, confidence, message and advice of the rule's finding for code in this port state."""
    override = None
    if state is PortStatus.PORTED:
        override = rule.when_ported
    elif state is PortStatus.FALLBACK:
        override = rule.when_guarded
    severity = rule.severity
    confidence = rule.confidence
    message = rule.message
    advice = rule.advice
    if override is not None:
        severity = override.severity or (Severity.INFO if state is PortStatus.PORTED else severity)
        confidence = override.confidence or confidence
        message = override.message or message
        advice = " ".join(override.advice.split()) if override.advice else advice
    return severity, confidence if isinstance(confidence, Confidence) else Confidence(confidence), message, advice


def to_finding(rule: Rule, hit: Hit, path: str) -> Finding:
    severity, confidence, message, advice = _judge(rule, hit.state)
    message = message.replace("{match}", hit.match).replace("{detail}", hit.detail or "")
    if hit.note:
        message = f"{message} {hit.note}"
    return Finding(
        rule_id=rule.id,
        title=rule.title,
        severity=severity,
        confidence=confidence,
        effort=rule.effort,
        work=rule.work,
        message=" ".join(message.split()),
        advice=advice,
        location=Location(
            path=path, line=hit.line, column=hit.column, end_column=hit.end_column, snippet=hit.snippet,
            match=hit.match,
        ),
        references=rule.references,
        status=hit.state,
    )
