"""What each Python verdict means for the user, in words: finding messages and package records."""

from __future__ import annotations

from armscan.model import PackageRecord
from armscan.python import knowledge
from armscan.python.target import PythonTarget
from armscan.python.verdict import Verdict


def chain_text(verdict: Verdict) -> str:
    return " -> ".join(verdict.chain)


def describe(verdict: Verdict, target: PythonTarget) -> str:
    where = chain_text(verdict)
    kb = knowledge.about(verdict.name)
    name, version = verdict.chain[-1].split(" ")[0], verdict.version
    if verdict.status == "upgrade":
        first = verdict.first_with_wheel or verdict.upgrade_to
        text = f"{where}: no wheel for {target.describe()}; {first} is the first release with one. "
        if verdict.audit:
            text += f"{verdict.audit} "
        text += f"Upgrade to {name}>={verdict.upgrade_to}."
        if verdict.blockers:
            text += f" Held back by: {', '.join(verdict.blockers)}."
        if verdict.parent_fixes:
            text += f" Upgrade with it: {', '.join(verdict.parent_fixes)}."
        if verdict.has_sdist:
            text += f" Otherwise {version} builds from source."
        return text
    if verdict.status == "glibc":
        text = (f"{where}: its aarch64 wheels need glibc {verdict.needs_glibc}, the target has "
                f"{target.libc_version[0]}.{target.libc_version[1]}.")
        if verdict.upgrade_to:
            text += f" {verdict.upgrade_to} has a wheel the target accepts."
            if verdict.audit:
                text += f" {verdict.audit}"
        elif verdict.has_sdist:
            text += " It can be built from source on the target."
        return text
    if verdict.status == "sdist":
        needs = ", ".join(kb.build) if kb.build else "whatever its setup needs (not in the knowledge base)"
        rpm = f" (RPM: {', '.join(kb.build_rpm)})" if kb.build_rpm else ""
        text = (f"{where}: no aarch64 wheel in any release; pip builds {version} from source, which needs gcc, "
                f"python3-dev and {needs}{rpm}.")
        if kb.alternatives:
            text += f" Alternatives with wheels: {', '.join(kb.alternatives)}."
        return text
    if verdict.status == "none":
        text = f"{where}: no release has a wheel for {target.describe()}, and there is no sdist to build."
        if kb.alternatives:
            text += f" Alternatives: {', '.join(kb.alternatives)}."
        return text
    if verdict.status == "missing":
        return f"{where}: {verdict.detail}; it may be a private package. Its aarch64 readiness is unknown."
    return f"{where}: {verdict.detail}."


def record(verdict: Verdict, note: str = "") -> PackageRecord:
    return PackageRecord(
        ecosystem="pypi",
        name=verdict.name,
        version=verdict.version,
        status=verdict.status,
        chain=verdict.chain,
        source=f"{verdict.origin.source}:{verdict.origin.line}",
        file=verdict.wheel,
        detail="; ".join(part for part in (
            verdict.detail or (f"upgrade to {verdict.upgrade_to}" if verdict.upgrade_to else ""), note) if part),
    )
