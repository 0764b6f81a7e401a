"""Rule files are held to what keeps scans fast and reports useful."""

from __future__ import annotations

import re
import re._constants as sre_constants
import re._parser as sre_parse
from pathlib import Path
from typing import Any

import pytest

from armscan.resources import rules_dir
from armscan.rules_engine.loader import Rule, RuleSet

HOT_LANGUAGES = {"c", "go", "rust", "asm"}


def _starts_with_literal(items: Any) -> bool:
    if not items:
        return False
    op, value = items[0]
    if op is sre_constants.LITERAL:
        return True
    if op is sre_constants.SUBPATTERN:
        return _starts_with_literal(value[-1])
    if op is sre_constants.BRANCH:
        return all(_starts_with_literal(branch) for branch in value[1])
    return False


def test_patterns_on_source_files_start_with_a_literal(ruleset: RuleSet) -> None:
    """A leading \\b, ^ or look-behind makes Python's regex engine try every offset: 10-50x slower."""
    slow = []
    for rule in ruleset.rules:
        if not HOT_LANGUAGES & set(rule.languages):
            continue
        for pattern in rule.patterns:
            parsed = sre_parse.parse(pattern.pattern, pattern.flags)
            if not _starts_with_literal(list(parsed)):
                slow.append(f"{rule.id}: {pattern.pattern[:60]}")
    assert not slow, "\n".join(slow)


def test_every_rule_has_advice_and_references(ruleset: RuleSet) -> None:
    for rule in ruleset.rules:
        assert isinstance(rule, Rule)
        assert len(rule.advice) > 40, rule.id
        assert rule.references and all(r.startswith("https://") for r in rule.references), rule.id
        assert rule.message.strip(), rule.id


def test_rule_ids_are_stable_and_unique(ruleset: RuleSet) -> None:
    ids = [r.id for r in ruleset.rules]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"ARM-[A-Z0-9]+(-[A-Z0-9]+)+", i) for i in ids)





def test_no_project_data_is_git_ignored() -> None:
    """A rule or fixture that .gitignore hides works here and vanishes from every clone."""
    import shutil
    import subprocess

    from tests.conftest import REPO

    if not (REPO / ".git").exists() or not shutil.which("git"):
        import pytest

        pytest.skip("not a git checkout")
    proc = subprocess.run(["git", "ls-files", "--others", "--ignored", "--exclude-standard", "rules", "fixtures",
                           "reports", "armscan/schemas"], capture_output=True, text=True, cwd=REPO, check=True)
    hidden = [line for line in proc.stdout.splitlines() if "__pycache__" not in line]
    assert not hidden, hidden


def test_invalid_rule_files_are_refused_with_every_problem_named(tmp_path: Path) -> None:
    import shutil

    from armscan.rules_engine.loader import RuleError, load_rules

    root = tmp_path / "rules"
    shutil.copytree(rules_dir(), root)
    broken = root / "c" / "x86-intrinsics.yaml"
    broken.write_text(broken.read_text().replace("severity: blocker", "severity: catastrophic", 1))
    (root / "c" / "extra.yaml").write_text("rules:\n  - id: ARM-C-INTRIN-HEADER\n    title: dup\n")
    with pytest.raises(RuleError) as caught:
        load_rules(root)
    text = str(caught.value)
    assert "c/x86-intrinsics.yaml: rules/0/severity: 'catastrophic' is not one of" in text
    assert "c/extra.yaml: rules/0:" in text  # missing required keys
    # the same files fail again: a validation result is only remembered for files that passed
    with pytest.raises(RuleError):
        load_rules(root)
