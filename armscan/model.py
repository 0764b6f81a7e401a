"""The one result model that every analyzer produces and every reporter reads."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(str, enum.Enum):
    """How much a finding stands in the way of running on aarch64."""

    BLOCKER = "blocker"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.BLOCKER: 4,
}


class Confidence(str, enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Effort(str, enum.Enum):
    """A rough size of the work a finding asks for."""

    TRIVIAL = "trivial"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class WorkKind(str, enum.Enum):
    """The kind of work a finding calls for; the planner groups by it."""

    RECOMPILE = "recompile"
    PORT_SOURCE = "port-source"
    FIX_BUILD = "fix-build"
    UPGRADE_DEPENDENCY = "upgrade-dependency"
    BUILD_FROM_SOURCE = "build-from-source"
    REPLACE_DEPENDENCY = "replace-dependency"
    REBUILD_IMAGE = "rebuild-image"
    VERIFY = "verify"


class PortStatus(str, enum.Enum):
    """Whether the code a finding points at already has an aarch64 path."""

    UNPORTED = "unported"
    FALLBACK = "fallback"  # x86-only fast path; aarch64 builds take a generic branch
    PORTED = "ported"


class SkipReason(str, enum.Enum):
    """Why something in the input could not be checked."""

    UNREADABLE = "unreadable"
    SPECIAL_FILE = "special-file"
    VANISHED = "vanished"
    SYMLINK_OUTSIDE = "symlink-outside-tree"
    SYMLINK_BROKEN = "symlink-broken"
    SYMLINK_LOOP = "symlink-loop"
    TOO_LARGE = "too-large"
    ARCHIVE_LIMIT = "archive-limit"
    ZIP_BOMB = "zip-bomb"
    MALFORMED = "malformed"
    NOT_FOUND = "not-found"
    ANALYSIS_FAILED = "analysis-failed"
    INDEX_ERROR = "index-error"
    OUTSIDE_TREE = "outside-tree"  # a scanned file names a file outside the scanned tree: never read

    @property
    def leaves_unknown(self) -> bool:
        """Whether part of the input went unchecked, so the result cannot be complete. Links out of the tree
        and what the user chose not to check (offline, local sources) are recorded but are not gaps."""
        return self not in _NOT_GAPS


_NOT_GAPS = frozenset({SkipReason.SYMLINK_OUTSIDE, SkipReason.SYMLINK_BROKEN, SkipReason.SYMLINK_LOOP,
                       SkipReason.NOT_FOUND})
UNCHECKED = "some inputs could not be checked (see the skipped list): they are unknown, not ready"


@dataclass(frozen=True)
class Location:
    """Where a finding is: a file in the tree, optionally a member inside an archive."""

    path: str
    line: int | None = None
    column: int | None = None
    end_column: int | None = None
    snippet: str | None = None  # the whole source line
    match: str | None = None  # the text the rule matched


PRODUCT = "product"  # the scope of code that ships; the others are named in rules/knowledge/scopes.yaml


@dataclass(frozen=True)
class Finding:
    rule_id: str
    title: str
    severity: Severity
    confidence: Confidence
    effort: Effort
    work: WorkKind
    message: str
    advice: str
    location: Location
    references: tuple[str, ...] = ()
    status: PortStatus = PortStatus.UNPORTED
    suppressed: str | None = None  # "baseline", or "inline: <reason>": reported, but not counted by the gate
    # "product", or the kind of code that does not ship it is in (test, bench, ci...): counted by the gate and
    # the verdict only when it is the product, unless the user asks for every scope
    scope: str = PRODUCT
    places: int = 1  # the places this record stands for: more than one for the record of matches past the cap

    @property
    def ported(self) -> bool:
        return self.status is PortStatus.PORTED


@dataclass(frozen=True)
class ElfDetails:
    """What later checks need from an ELF file, beyond its header."""

    needed: tuple[str, ...] = ()
    soname: str | None = None
    interpreter: str | None = None
    max_glibc: str | None = None
    glibc_versions: tuple[str, ...] = ()
    min_load_align: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class IsaUse:
    """An AArch64 instruction-set extension an ELF's code uses."""

    feature: str  # lse, rcpc, dotprod, fp16, sve, bf16, i8mm
    count: int
    unguarded: int  # uses not selected at run time: they run whatever the CPU
    first_unguarded: int | None = None  # virtual address
    function: str | None = None


@dataclass(frozen=True)
class Slice:
    """One architecture-specific part of a binary: a Mach-O slice or an ar member."""

    name: str
    format: str
    machine: str
    kind: str | None = None


@dataclass(frozen=True)
class Artifact:
    """A native binary found in the input."""

    path: str
    format: str
    machines: tuple[str, ...]
    kind: str
    size: int
    bits: int | None = None
    endianness: str | None = None
    elf: ElfDetails | None = None
    imports: tuple[str, ...] = ()  # libraries a PE or Mach-O binary loads; for ELF see elf.needed
    slices: tuple[Slice, ...] = ()
    notes: tuple[str, ...] = ()
    owner: str | None = None  # the installed package it belongs to, e.g. "pypi:numpy 1.18.5"
    isa: tuple[IsaUse, ...] = ()  # AArch64 extensions its code uses (aarch64 ELF executables and libraries)
    packed: str | None = None  # "upx" for a UPX-packed executable

    @property
    def is_x86_only(self) -> bool:
        return bool(self.machines) and all(m in X86_MACHINES for m in self.machines)

    @property
    def has_aarch64(self) -> bool:
        return "aarch64" in self.machines


X86_MACHINES = frozenset({"x86_64", "i386"})


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: SkipReason
    detail: str
    scope: str = PRODUCT


@dataclass(frozen=True)
class PackageRecord:
    """A dependency as the target would install it: every one checked, ready or not."""

    ecosystem: str
    name: str
    version: str | None
    status: str
    chain: tuple[str, ...]
    source: str
    file: str | None = None  # what the target would install
    detail: str = ""


@dataclass(frozen=True)
class ImageRecord:
    """A container image as analyzed: what platforms it offers and which one was looked into."""

    reference: str
    digest: str | None = None
    platforms: tuple[str, ...] = ()  # every platform of its index, attestations left out
    analyzed_platform: str | None = None
    config_platform: str | None = None  # what the analyzed manifest's config says
    arm64: str = "unknown"  # yes | no | mislabeled | unknown
    os: str | None = None
    base: str | None = None
    base_platforms: tuple[str, ...] = ()
    suggested_tag: str | None = None  # the nearest tag that has linux/arm64, when this one has not
    layers: int = 0
    compressed_bytes: int = 0


@dataclass(frozen=True)
class FileOutcome:
    """What analyzing one file produced; merged into the scan result."""

    path: str
    size: int = 0
    artifacts: tuple[Artifact, ...] = ()
    findings: tuple[Finding, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    source_scanned: bool = False


@dataclass(frozen=True)
class RuleInfo:
    """A rule as the outputs describe it: advice for each port status."""

    id: str
    title: str
    severity: Severity
    confidence: Confidence
    effort: Effort
    work: WorkKind
    advice: tuple[tuple[PortStatus, str], ...]
    references: tuple[str, ...]


@dataclass(frozen=True)
class RulePackInfo:
    name: str
    version: str
    rules: int


@dataclass(frozen=True)
class Stats:
    files_seen: int = 0
    files_analyzed: int = 0
    source_files_scanned: int = 0
    bytes_read: int = 0
    duration_seconds: float = 0.0


@dataclass(frozen=True)
class CompileSummary:
    """How much of the C and C++ code `--compile` had the aarch64 compiler check."""

    units: int = 0  # translation units compiled for aarch64
    failed: int = 0  # of them, those the compiler rejected (or could not finish)
    not_checked: int = 0  # C/C++ source files of the scanned trees that no unit compiled, headers left out
    not_built: int = 0  # of them, those the aarch64 build leaves out (the rest: in a tree it could not configure)
    builds: tuple[str, ...] = ()  # for each scanned tree, how its aarch64 compile commands were had


@dataclass(frozen=True)
class ScanResult:
    tool_version: str
    inputs: tuple[str, ...]
    started_at: str
    rule_packs: tuple[RulePackInfo, ...]
    artifacts: tuple[Artifact, ...]
    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...]
    stats: Stats
    complete: bool = True
    errors: tuple[str, ...] = field(default_factory=tuple)
    rules: tuple[RuleInfo, ...] = ()
    packages: tuple[PackageRecord, ...] = ()
    targets: tuple[str, ...] = ()
    images: tuple[ImageRecord, ...] = ()
    cpu_targets: tuple[tuple[str, str], ...] = ()  # (id, name) of each --target CPU, for per-target verdicts
    compile: CompileSummary | None = None  # None: --compile was not asked for

    def __post_init__(self) -> None:
        # One rule wherever a result is made or loaded: a gap in what was checked makes it incomplete.
        if any(s.reason.leaves_unknown for s in self.skipped):
            object.__setattr__(self, "complete", False)
            if UNCHECKED not in self.errors:
                object.__setattr__(self, "errors", (*self.errors, UNCHECKED))

    def findings_at_or_above(self, threshold: Severity, *, every_scope: bool = False) -> list[Finding]:
        """What the gate counts: suppressed findings (baseline, inline) are left out, and so is code that does
        not ship (tests, benchmarks, CI...) unless `every_scope`."""
        return [f for f in self.findings if f.severity.at_least(threshold) and f.suppressed is None
                and (every_scope or f.scope == PRODUCT)]
