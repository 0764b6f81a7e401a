"""Target CPUs and systems (rules/targets/*.yaml), and what they say about aarch64 binaries that were found:
instructions beyond the CPU, segments aligned below the system's page size, UPX packing, a glibc too old,
the wrong C library.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from armscan.analyzers.source import Hit, to_finding
from armscan.model import Artifact, Finding, Location
from armscan.resources import rules_dir
from armscan.rules_engine.loader import RuleSet, load_validated

FEATURE_NAMES = {"lse": "LSE atomics (Armv8.1)", "rcpc": "RCpc loads (Armv8.3 LDAPR)",
                 "dotprod": "dot-product instructions (Armv8.2)", "fp16": "half-precision arithmetic (Armv8.2)",
                 "sve": "SVE", "sve2": "SVE2", "bf16": "BFloat16 instructions", "i8mm": "Int8 matrix multiply"}


class TargetError(Exception):
    """An unknown target name, or profile files that do not validate."""


@dataclass(frozen=True)
class Cpu:
    id: str
    name: str
    features: frozenset[str]


@dataclass(frozen=True)
class System:
    id: str
    name: str
    libc: str
    libc_version: tuple[int, int] | None
    page_size: int
    libc_owner: str = ""  # where the C library comes from, when not the system itself (an image's own OS)

    @property
    def libc_name(self) -> str:
        return self.libc_owner or self.name


@dataclass(frozen=True)
class Targets:
    cpus: tuple[Cpu, ...]
    system: System

    def describe(self) -> tuple[str, ...]:
        return (*(f"{c.name}" for c in self.cpus), self.system.name)

    def with_own_libc(self, owner: str, libc: str, version: tuple[int, int] | None) -> Targets:
        """The targets for an image, whose binaries load its own C library: the kernel (page size) is still the
        system's."""
        if version is None and libc == self.system.libc:
            return self
        return replace(self, system=replace(self.system, libc=libc, libc_version=version, libc_owner=owner))


@lru_cache(maxsize=1)
def _profiles() -> tuple[dict[str, Any], dict[str, Any]]:
    folder = rules_dir() / "targets"
    data = load_validated({f"targets/{name}": folder / name for name in ("cpus.yaml", "systems.yaml")},
                          "targets.schema.json", "target profiles")
    return data["targets/cpus.yaml"], data["targets/systems.yaml"]


def _pair(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    major, _, minor = text.partition(".")
    return int(major), int(minor)


def cpu_names() -> list[str]:
    cpus, _ = _profiles()
    return sorted({c["id"] for c in cpus["cpus"]} | {a for c in cpus["cpus"] for a in c.get("aliases", [])})


def resolve(cpu_ids: list[str], system_id: str | None) -> Targets:
    cpus_data, systems_data = _profiles()
    by_name = {}
    for cpu in cpus_data["cpus"]:
        for name in (cpu["id"], *cpu.get("aliases", [])):
            by_name[name] = Cpu(cpu["id"], cpu["name"], frozenset(cpu["features"]))
    chosen = []
    for name in cpu_ids or [cpus_data["default"]]:
        key = name.strip().lower()
        if key not in by_name and "." in key and not key.startswith("armv"):
            key = key.split(".")[0]  # an instance type (c6g.xlarge) names its family
        if key not in by_name:
            raise TargetError(f"unknown --target {name!r}; known: {', '.join(cpu_names())}")
        if by_name[key] not in chosen:
            chosen.append(by_name[key])
    systems = {s["id"]: s for s in systems_data["systems"]}
    system_key = (system_id or systems_data["default"]).strip().lower()
    if system_key not in systems:
        raise TargetError(f"unknown --os {system_id!r}; known: {', '.join(sorted(systems))}")
    raw = systems[system_key]
    system = System(raw["id"], raw["name"], raw["libc"], _pair(raw.get(raw["libc"])), int(raw["page-size"]))
    return Targets(tuple(chosen), system)


def _finding(ruleset: RuleSet, variant: str, artifact: Artifact, detail: str, match: str) -> list[Finding]:
    rule = ruleset.variant("target", variant)
    if rule is None:
        return []
    hit = Hit(line=0, column=0, end_column=None, snippet=match, match=match, detail=detail)
    found = to_finding(rule, hit, artifact.path)
    return [replace(found, location=Location(path=artifact.path, snippet=match, match=match))]


def check(artifacts: list[Artifact] | tuple[Artifact, ...], ruleset: RuleSet, targets: Targets) -> list[Finding]:
    findings: list[Finding] = []
    system = targets.system
    for artifact in artifacts:
        if artifact.machines != ("aarch64",) or artifact.format != "elf":
            continue
        unguarded = [u for u in artifact.isa if u.unguarded]
        for cpu in targets.cpus:
            missing = [u for u in unguarded if u.feature not in cpu.features]
            if missing:
                what = "; ".join(f"{FEATURE_NAMES.get(u.feature, u.feature)}: {u.unguarded} instruction"
                                 f"{'s' if u.unguarded != 1 else ''}"
                                 + (f", first at {u.first_unguarded:#x}" if u.first_unguarded is not None else "")
                                 + (f" in {u.function}" if u.function else "") for u in missing)
                detail = (f"runs instructions {cpu.name} does not have, with no run-time check: {what}. "
                          f"It dies with SIGILL (illegal instruction) there.")
                findings += _finding(ruleset, "isa", artifact, detail, cpu.id)
        details = artifact.elf
        if details is not None and details.min_load_align and details.min_load_align < system.page_size:
            detail = (f"its PT_LOAD segments are aligned to {details.min_load_align} bytes, below the "
                      f"{system.page_size // 1024} KB pages of {system.name}: the kernel refuses to load it.")
            findings += _finding(ruleset, "page-size", artifact, detail, f"align {details.min_load_align}")
        if artifact.packed == "upx":
            detail = (f"packed with UPX, whose stub maps memory for 4 KB pages: it fails on 64 KB-page kernels"
                      f"{' such as ' + system.name if system.page_size > 4096 else ''} and defeats debugging.")
            findings += _finding(ruleset, "upx", artifact, detail, "UPX!")
        interpreter = (details.interpreter or "") if details else ""
        if system.libc == "glibc" and "ld-musl" in interpreter:
            findings += _finding(ruleset, "libc", artifact, f"built for musl ({interpreter}), but {system.libc_name} "
                                                            "uses glibc: it does not start there.", interpreter)
        elif system.libc == "musl" and "ld-linux" in interpreter:
            findings += _finding(ruleset, "libc", artifact, f"built for glibc ({interpreter}), but {system.libc_name} "
                                                            "uses musl: it does not start there.", interpreter)
        needed = _pair(details.max_glibc) if details and details.max_glibc else None
        if system.libc == "glibc" and needed and system.libc_version and needed > system.libc_version:
            detail = (f"needs GLIBC_{details.max_glibc if details else ''} symbols, and {system.libc_name} has glibc "
                      f"{system.libc_version[0]}.{system.libc_version[1]}: it fails with \"version not found\".")
            findings += _finding(ruleset, "glibc", artifact, detail, f"GLIBC_{details.max_glibc if details else ''}")
    return findings
