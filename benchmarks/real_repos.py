"""Source verdicts on real repositories: armscan against what the aarch64 compiler says.

Usage: python benchmarks/real_repos.py CORPUS_DIR [--armscan PATH] [--data FILE] [--peer CMD] [--only NAME]

CORPUS_DIR holds one folder per project, named as in the data file (benchmarks/data/real_repos.yaml), each
a checkout of the project at the commit the data names. The corpus itself is not part of this repository:
clone or unpack the projects at those commits yourself.

For each project this runs `armscan scan DIR --json - --offline --no-index` (Dockerfiles excluded: their base
images need a registry, which an offline scan leaves "not fully checked") and prints: the verdict expected
and got, the blocker+high findings in the product's code, the true positives among them (a finding in a file
the data lists as a true place, and on one of its lines when the data gives lines), precision, recall
(true places with at least one finding), the findings in code that does not ship (tests, benchmarks, fuzzers,
examples, CI: counted apart, never in precision), the plan's days, and the time taken; then the totals.
The truth in the data comes from building each project for aarch64 with the cross compiler.

With --peer CMD (or a `porting-advisor` command on PATH) the leading peer, Arm's Porting Advisor (AWS's "Porting
Advisor for Graviton", not on PyPI: CMD is e.g. "python3 SRC/porting-advisor.py"), runs on each folder as well;
its JSON report is scored the same way and printed as a second table with its times; otherwise "peer not
installed".
Exit status: 0 when every project met its target (verdict as expected, no false blocker/high finding in the
product, every true place found), 1 when some did not, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "benchmarks" / "data" / "real_repos.yaml"
SEVERE = frozenset({"blocker", "high"})
VERDICTS = frozenset({"ready", "not-ready"})
# Container images are not source: their base images need a registry, which this offline benchmark does not ask
NOT_SOURCE = ("--exclude", "Dockerfile", "--exclude", "Dockerfile.*", "--exclude", "*.Dockerfile")
# Folder names whose contents do not ship with the product.
NOT_PRODUCT_DIRS = frozenset({
    "test", "tests", "testing", "testdata", "test-data", "unittest", "unittests",
    "bench", "benches", "benchmark", "benchmarks",
    "fuzz", "fuzzing", "fuzzer", "fuzzers", "oss-fuzz",
    "example", "examples", "sample", "samples", "demo", "demos",
    "original", "reference", "reference_impl",
    "ci", ".ci", ".github", ".circleci", ".travis", ".gitlab", ".cirrus", "appveyor",
    "doc", "docs", "contrib",
    "cmake", "m4",  # build-system modules and the probe sources they compile at configure time
})
NOT_PRODUCT_FILES = frozenset({".travis.yml", "appveyor.yml", ".cirrus.yml", ".gitlab-ci.yml", "azure-pipelines.yml"})
# File names (without extension) that mark a test, benchmark, fuzzer or example wherever it stands.
NOT_PRODUCT_STEMS = frozenset({"example", "examples", "demo", "test", "tests", "bench", "benchmark", "fuzz", "fuzzer"})
NOT_PRODUCT_AFFIXES = ("test_", "bench_", "fuzz_", "_test", "_tests", "_bench", "_benchmark", "_fuzz", "_fuzzer")


class DataError(Exception):
    """The expected-results file is not of the documented form."""


@dataclass(frozen=True)
class Place:
    """A product file that does not build for aarch64; lines empty means the whole file."""

    path: str
    lines: frozenset[int] = frozenset()

    def covers(self, path: str, line: int | None) -> bool:
        return path == self.path and (not self.lines or line in self.lines)


@dataclass(frozen=True)
class Project:
    name: str
    url: str
    commit: str
    kind: str
    verdict: str  # ready | not-ready
    truth: str  # how the truth was obtained, one line
    places: tuple[Place, ...] = ()
    not_product: tuple[str, ...] = ()  # extra path prefixes (relative, posix) that do not ship


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the project folder, posix
    line: int | None
    rule_id: str
    severity: str


@dataclass(frozen=True)
class Score:
    name: str
    expected: str
    got: str
    product: int  # blocker+high findings in product code
    true_positives: int
    places: int
    places_found: int
    not_product: int  # blocker+high findings in code that does not ship
    days: float
    seconds: float
    complete: bool
    false_places: tuple[str, ...] = field(default=())  # product files with false blocker/high findings

    @property
    def verdict_ok(self) -> bool:
        if self.expected == "ready":
            return self.got == "ready"
        return self.got in ("ready-after-work", "blocked")  # "not fully checked" is not a not-ready verdict

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.product if self.product else None

    @property
    def recall(self) -> float | None:
        return self.places_found / self.places if self.places else None

    @property
    def met(self) -> bool:
        return self.verdict_ok and self.true_positives == self.product and self.places_found == self.places


def _place(raw: Any, where: str) -> Place:
    if isinstance(raw, str):
        return Place(raw)
    if isinstance(raw, dict) and isinstance(raw.get("path"), str):
        lines = raw.get("lines") or []
        if not isinstance(lines, list) or not all(isinstance(n, int) and n > 0 for n in lines):
            raise DataError(f"{where}: lines must be a list of line numbers")
        return Place(raw["path"], frozenset(lines))
    raise DataError(f"{where}: a place is a path or {{path, lines}}")


def load_projects(path: Path) -> list[Project]:
    """Read and check the expected results; every problem found is reported together."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise DataError(f"{path}: {e}") from e
    raw_projects = doc.get("projects") if isinstance(doc, dict) else None
    if not isinstance(raw_projects, list):
        raise DataError(f"{path}: no 'projects' list")
    problems: list[str] = []
    projects: list[Project] = []
    for i, raw in enumerate(raw_projects):
        where = f"{path}: project {i + 1}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: not a mapping")
            continue
        missing = [k for k in ("name", "url", "commit", "kind", "verdict", "truth") if not isinstance(raw.get(k), str)]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        if raw["verdict"] not in VERDICTS:
            problems.append(f"{where} ({raw['name']}): verdict must be one of {sorted(VERDICTS)}")
            continue
        try:
            places = tuple(_place(p, f"{where} ({raw['name']})") for p in raw.get("places") or [])
        except DataError as e:
            problems.append(str(e))
            continue
        if raw["verdict"] == "ready" and places:
            problems.append(f"{where} ({raw['name']}): a ready project has no true places")
            continue
        projects.append(Project(raw["name"], raw["url"], raw["commit"], raw["kind"], raw["verdict"], raw["truth"],
                                places, tuple(str(p).strip("/") for p in raw.get("not_product") or [])))
    names = [p.name for p in projects]
    problems += [f"{path}: project {n} listed twice" for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise DataError("\n".join(problems))
    return projects


def is_product(path: str, project: Project) -> bool:
    pure = PurePosixPath(path)
    stem = pure.stem.lower()
    if (any(part.lower() in NOT_PRODUCT_DIRS for part in pure.parts[:-1]) or pure.name in NOT_PRODUCT_FILES
            or stem in NOT_PRODUCT_STEMS or stem.startswith(NOT_PRODUCT_AFFIXES[:3])
            or stem.endswith(NOT_PRODUCT_AFFIXES[3:])):
        return False
    return not any(path == prefix or path.startswith(prefix + "/") for prefix in project.not_product)


def _relative(path_text: str, base: Path) -> str:
    path = Path(path_text)
    try:
        return path.resolve().relative_to(base).as_posix() if path.is_absolute() else path.as_posix()
    except ValueError:
        return path.as_posix()


def findings_of(result: dict[str, Any], root: Path) -> list[Finding]:
    """The unsuppressed findings of an armscan JSON result, with paths made relative to the project folder."""
    base = root.resolve()
    found: list[Finding] = []
    for raw in result.get("findings", []):
        if raw.get("suppressed"):
            continue
        location = raw.get("location") or {}
        line = location.get("line")
        found.append(Finding(_relative(str(location.get("path", "")), base), line if isinstance(line, int) else None,
                             str(raw.get("rule_id", "")), str(raw.get("severity", ""))))
    return found


def tally(project: Project, findings: Sequence[Finding], got: str, days: float, seconds: float,
          complete: bool = True) -> Score:
    """Compare blocker/high findings with the project's truth."""
    severe = [f for f in findings if f.severity in SEVERE]
    product = [f for f in severe if is_product(f.path, project)]
    true = [f for f in product if any(p.covers(f.path, f.line) for p in project.places)]
    found = [p for p in project.places if any(p.covers(f.path, f.line) for f in product)]
    false_places = tuple(sorted({f.path for f in product if f not in true}))
    return Score(project.name, project.verdict, got, len(product), len(true), len(project.places), len(found),
                 len(severe) - len(product), round(days, 1), seconds, complete, false_places)


def score(project: Project, result: dict[str, Any], root: Path, seconds: float) -> Score:
    """Compare one armscan result with the project's truth."""
    plan = result.get("plan") or {}
    days = float(plan["days"]) if isinstance(plan.get("days"), (int, float)) else \
        sum(float(item.get("days") or 0) for item in plan.get("items", []))  # required work; optional apart
    return tally(project, findings_of(result, root), str(plan.get("verdict", "?")), days, seconds,
                 bool(result.get("complete", False)))


# The peer (Arm's Porting Advisor, as AWS ships it) writes each issue as "IssueType: PATH:LINE (function): text"
# or "IssueType: PATH: text"; it has no severities, so every issue counts as blocker/high here.
_PEER_ISSUE = re.compile(r"(\w+): (\S+?)(?::(\d+))?(?: |:|$)")


def peer_findings(report: dict[str, Any], root: Path) -> list[Finding]:
    base = root.resolve()
    found: list[Finding] = []
    for issue in report.get("issues", []):
        match = _PEER_ISSUE.match(str(issue))
        if match:
            line = int(match[3]) if match[3] else None
            found.append(Finding(_relative(match[2], base), line, match[1], "high"))
    return found


def run_armscan(armscan: Sequence[str], folder: Path, extra: Sequence[str] = ()) -> tuple[dict[str, Any] | None,
                                                                                         float, str]:
    """armscan's JSON result for FOLDER (None when it gave none), the seconds taken, and its error output."""
    start = time.perf_counter()
    proc = subprocess.run([*armscan, "scan", str(folder), "--json", "-", "--offline", "--no-index", "-q",
                           *NOT_SOURCE, *extra],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    try:
        return json.loads(proc.stdout), seconds, proc.stderr.strip()
    except json.JSONDecodeError:
        return None, seconds, (proc.stderr.strip() or f"exit {proc.returncode} with no JSON")[-500:]


def run_peer(peer: Sequence[str], project: Project, folder: Path) -> Score | str:
    """The peer's JSON report for FOLDER, scored like armscan's (its verdict: ready when it reports nothing)."""
    with tempfile.TemporaryDirectory() as scratch:
        report_path, log_path = Path(scratch) / "report.json", Path(scratch) / "log.txt"
        start = time.perf_counter()
        proc = subprocess.run([*peer, str(folder), "--output", str(report_path), "--output-format", "json",
                               "--no-progress", "--quiet", "--log-file", str(log_path)],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - start
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return f"peer gave no report (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
    findings = peer_findings(report, folder)
    return tally(project, findings, "not-ready" if findings else "ready", 0.0, seconds)


def checkout_commit(folder: Path) -> str | None:
    if not (folder / ".git").exists():
        return None
    proc = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() or None


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def table(scores: Iterable[Score]) -> list[str]:
    rows = list(scores)
    header = (f"{'project':<20} {'expected':<10} {'got':<17} {'prod b+h':>8} {'TP':>5} {'prec':>5} "
              f"{'places':>7} {'recall':>6} {'non-prod':>8} {'days':>6} {'time':>7}")
    lines = [header, "-" * len(header)]
    for s in rows:
        mark = "" if s.verdict_ok else " !"
        lines.append(f"{s.name:<20} {s.expected:<10} {s.got + mark:<17} {s.product:>8} {s.true_positives:>5} "
                     f"{_ratio(s.precision):>5} {f'{s.places_found}/{s.places}':>7} {_ratio(s.recall):>6} "
                     f"{s.not_product:>8} {s.days:>6} {s.seconds:>6.2f}s")
    product = sum(s.product for s in rows)
    true = sum(s.true_positives for s in rows)
    places = sum(s.places for s in rows)
    found = sum(s.places_found for s in rows)
    lines.append("-" * len(header))
    lines.append(f"{'overall':<20} {'':<10} {f'{sum(s.verdict_ok for s in rows)}/{len(rows)} verdicts':<17} "
                 f"{product:>8} {true:>5} {_ratio(true / product if product else None):>5} "
                 f"{f'{found}/{places}':>7} {_ratio(found / places if places else None):>6} "
                 f"{sum(s.not_product for s in rows):>8} {round(sum(s.days for s in rows), 1):>6} "
                 f"{sum(s.seconds for s in rows):>6.2f}s")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="folder with one checkout per project, named as in the data")
    parser.add_argument("--armscan", default=None, help="armscan command (default: the one beside this Python)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="expected results (YAML)")
    parser.add_argument("--peer", default=None, help="Porting Advisor command; the folder and its options are appended")
    parser.add_argument("--only", action="append", default=[], help="run only this project; repeatable")
    parser.add_argument("--details", action="store_true", help="list the product files with false findings")
    parser.add_argument("--scan-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for armscan scan (e.g. --scan-arg=--compile); repeatable")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"no such folder: {args.corpus}", file=sys.stderr)
        return 2
    try:
        projects = load_projects(args.data)
    except DataError as e:
        print(e, file=sys.stderr)
        return 2
    if args.only:
        projects = [p for p in projects if p.name in args.only]
    beside = Path(sys.executable).with_name("armscan")
    armscan = shlex.split(args.armscan) if args.armscan else [str(beside) if beside.exists() else "armscan"]
    peer = shlex.split(args.peer) if args.peer else ([found] if (found := shutil.which("porting-advisor")) else None)

    scores: list[Score] = []
    peer_scores: list[Score] = []
    for project in projects:
        folder = args.corpus / project.name
        if not folder.is_dir():
            print(f"{project.name}: missing ({project.url} at {project.commit})")
            continue
        commit = checkout_commit(folder)
        if commit and commit != project.commit:
            print(f"{project.name}: checked out at {commit[:12]}, the data is for {project.commit[:12]}")
        result, seconds, errors = run_armscan(armscan, folder, args.scan_arg)
        if result is None:
            print(f"{project.name}: armscan gave no result: {errors}")
            continue
        scores.append(s := score(project, result, folder, seconds))
        if not s.complete:
            print(f"{project.name}: armscan's result is incomplete")
        if args.details and s.false_places:
            print(f"{project.name}: false blocker/high findings in {', '.join(s.false_places)}")
        if peer:
            peer_score = run_peer(peer, project, folder)
            if isinstance(peer_score, str):
                print(f"{project.name}: {peer_score}")
            else:
                peer_scores.append(peer_score)
    print("\n".join(table(scores)))
    if peer and peer_scores:
        print(f"\npeer ({' '.join(peer)}): every issue counted as blocker/high; its verdict is ready when it "
              "reports nothing; no plan, so no days")
        print("\n".join(table(peer_scores)))
    elif not peer:
        print("peer not installed")
    return 0 if scores and len(scores) == len(projects) and all(s.met for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
