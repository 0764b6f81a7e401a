"""Every hostile case through the installed command: the exit code it must give, no traceback, no leak.

What each case must report in detail is asserted beside the code that handles it; this test holds every case
to the common contract (fixtures/hostile/__init__.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from armscan.rules_engine.loader import schema_path
from fixtures.hostile import all_cases
from fixtures.hostile.runner import run_case

CASES = all_cases()
SCHEMA = jsonschema.Draft202012Validator(json.loads(schema_path("result.schema.json").read_text()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_case(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    outcome = run_case(case, tmp_path, time_limit=90)
    assert outcome.exit_code is not None, f"{name} did not finish in 90 s"
    assert "Traceback" not in outcome.stderr and "internal error" not in outcome.stderr, outcome.stderr
    assert outcome.leaks == (), f"the secret reached {outcome.leaks}"
    assert outcome.exit_code == case.exit_code, outcome.stdout[-2000:] + outcome.stderr[-2000:]
    result = outcome.out / "result.json"
    if case.outputs and case.exit_code != 2:
        SCHEMA.validate(json.loads(result.read_text(encoding="utf-8")))


def test_every_case_is_registered_once() -> None:
    assert len(CASES) >= 1
    assert all(case.exit_code in (0, 1, 2, 3) for case in CASES.values())
