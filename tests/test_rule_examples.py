"""Every rule file runs over the examples beside it; inline marks say what must and must not match.

`ruleid: ID` marks a line that must be reported (not as ported), `ported: ID` one that must be reported as
already ported, and `ok: ID` one that must not be reported. Where the port state matters, `unported: ID` says the
line must be reported as code aarch64 compiles as it is, and `fallback: ID` as an x86 path aarch64 does not take.
A finding on an unmarked line fails too.
Binary examples (and JSON ones, which allow no comments, with a `line`) carry their expectations in
expect.yaml; so do image examples, which are tags of the fixture
image layout scanned with their base images in a real local registry.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from armscan.python.analyze import PythonOptions
from armscan.resources import rules_dir
from armscan.rules_engine.loader import RuleSet
from armscan.targets import resolve as resolve_targets
from tests.conftest import scan
from tests.pyindex import IndexServer

MARK = re.compile(r"(?://|#|;|/\*|<!--)\s*(ruleid|ok|ported|unported|fallback):\s*([A-Z0-9-]+(?:\s*,\s*[A-Z0-9-]+)*)")
RULE_FILES = sorted(p for p in rules_dir().rglob("*.yaml") if p.parent != rules_dir() and ".examples" not in str(p)
                    and p.parent.name not in ("knowledge", "targets"))


def _marks(root: Path) -> dict[tuple[str, str, int], str]:
    """(rule id, path relative to the examples folder, line) -> mark."""
    expected: dict[tuple[str, str, int], str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "expect.yaml"):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        pending: list[tuple[str, str]] = []
        for number, line in enumerate(lines, start=1):
            match = MARK.search(line)
            if match and line.strip().startswith(("//", "#", ";", "/*", "<!--")):
                pending.extend((match.group(1), rid.strip()) for rid in match.group(2).split(","))
                continue
            for kind, rule_id in pending:
                expected[(rule_id, path.relative_to(root).as_posix(), number)] = kind
            pending = []
    expect_file = root / "expect.yaml"
    if expect_file.exists():
        for name, entries in yaml.safe_load(expect_file.read_text())["files"].items():
            for entry in entries:
                kind, rule_id = next(iter(entry.items()))
                expected[(rule_id, name, entry.get("line", 0))] = kind
    return expected


def _image_examples(examples: Path, rules: RuleSet, tmp_path: Path) -> None:
    """Image rules: each example is a tag of the fixture layout, built with a base image from a real registry."""
    from armscan.image.analyze import ImageOptions, analyze_image
    from armscan.image.local import OciLayout
    from armscan.image.open import RegistrySettings, registry_opener
    from fixtures.images.build import build_layout
    from tests.registry import Registry

    cases = yaml.safe_load((examples / "expect.yaml").read_text())["images"]
    rule_ids = {r.id for r in rules.rules}
    kinds: dict[str, set[str]] = defaultdict(set)
    with Registry(tmp_path / "registry", auth=False) as registry:
        fixtures = tmp_path / "fixtures"
        build_layout(fixtures)
        registry.push(f"oci:{fixtures}:1.0", "base/debian:12")
        registry.push(f"oci:{fixtures}:1.2", "base/debian-multi:12")
        opener = registry_opener(RegistrySettings(insecure=frozenset({registry.host}), timeout=10))
        problems = []
        for case in cases:
            layout = tmp_path / case["base"].replace("/", "_").replace(":", "_")
            if not layout.exists():
                build_layout(layout, base=f"{registry.host}/{case['base']}")
            source = OciLayout(str(layout), case["tag"], f"oci:{case['tag']}")
            result = analyze_image(source.label, source, opener, rules, ImageOptions())
            found = {f.rule_id for f in result.findings}
            for entry in case["expect"]:
                kind, rule_id = next(iter(entry.items()))
                kinds[rule_id].add(kind)
                if (kind == "ruleid") != (rule_id in found):
                    problems.append(f"{case['tag']} (base {case['base']}): {rule_id} {kind} but found {sorted(found)}")
    assert not problems, "\n".join(problems)
    for rule_id in rule_ids:
        assert "ruleid" in kinds[rule_id], f"{rule_id} has no positive example"
        assert "ok" in kinds[rule_id], f"{rule_id} has no negative example"


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda p: p.relative_to(rules_dir()).as_posix())
def test_rule_examples(rule_file: Path, ruleset: RuleSet, tmp_path: Path) -> None:
    source = rule_file.relative_to(rules_dir()).as_posix()
    rules = ruleset.only_file(source)
    examples = rule_file.with_suffix(".examples")
    assert examples.is_dir(), f"{source} has no examples folder {examples.name}"
    if any(r.check == "image" for r in rules.rules):
        _image_examples(examples, rules, tmp_path)
        return
    expected = _marks(examples)
    rule_ids = {r.id for r in rules.rules}
    for rule_id in rule_ids:
        kinds = {kind for (rid, _, _), kind in expected.items() if rid == rule_id}
        assert kinds & {"ruleid", "ported", "unported", "fallback"}, f"{rule_id} has no positive example"
        assert "ok" in kinds, f"{rule_id} has no negative example"
    assert {rid for rid, _, _ in expected} <= rule_ids, "a mark names a rule that is not in this file"

    if any(r.check == "python" for r in rules.rules):
        with IndexServer() as index:
            python = PythonOptions(index_url=f"{index.url}/mirror/simple/", extra_index_urls=(f"{index.url}/simple/",),
                                   python_version=(3, 11), libc_version=(2, 26), use_pip_config=False)
            result = scan(examples, rules, display="", use_ignore_files=False, python=python)
    elif any(r.check == "compile" for r in rules.rules):
        from armscan.compile.phase import CompileOptions
        from tests.registry import ensure_tools

        ensure_tools("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++",
                     packages=("gcc-aarch64-linux-gnu", "g++-aarch64-linux-gnu", "make"))
        result = scan(examples, rules, display="", use_ignore_files=False, compile=CompileOptions(jobs=2))
    else:
        settings = yaml.safe_load((examples / "expect.yaml").read_text()) if (examples / "expect.yaml").exists() else {}
        targets = resolve_targets(settings["targets"], settings.get("os")) if "targets" in settings else None
        result = scan(examples, rules, display="", use_ignore_files=False, targets=targets)
    assert not result.skipped, result.skipped
    found: dict[tuple[str, str, int], list[bool]] = defaultdict(list)
    states: dict[tuple[str, str, int], list[str]] = defaultdict(list)
    for finding in result.findings:
        found[(finding.rule_id, finding.location.path, finding.location.line or 0)].append(finding.ported)
        states[(finding.rule_id, finding.location.path, finding.location.line or 0)].append(finding.status.value)

    problems = []
    for key, kind in sorted(expected.items()):
        ported_flags = found.get(key, [])
        if kind == "ok" and ported_flags:
            problems.append(f"{key}: must not match, but did")
        elif kind == "ruleid" and False not in ported_flags:
            problems.append(f"{key}: must match (not as ported), found {ported_flags}")
        elif kind == "ported" and True not in ported_flags:
            problems.append(f"{key}: must match as ported, found {ported_flags}")
        elif kind in ("unported", "fallback") and kind not in states.get(key, []):
            problems.append(f"{key}: must match as {kind}, found {states.get(key, [])}")
    for key in sorted(found):
        if expected.get(key) not in ("ruleid", "ported", "unported", "fallback"):
            problems.append(f"{key}: matched an unmarked line")
    assert not problems, "\n".join(problems)
