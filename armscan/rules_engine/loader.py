"""Load and validate the rule packs under rules/."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from armscan.model import Confidence, Effort, PortStatus, RuleInfo, RulePackInfo, Severity, WorkKind
from armscan.resources import load_yaml, rules_dir, schema_path

# Checks that read one file's text; binary and python rules are run by their own analyzers.
FILE_CHECKS = frozenset({"regex", "c-arch-chain", "c-inline-asm", "asm-file", "go-arch-file", "build-x86-sources"})


class RuleError(Exception):
    """A rule file is invalid; the message names every problem found."""


@dataclass(frozen=True)
class Override:
    severity: Severity | None = None
    confidence: Confidence | None = None
    message: str | None = None
    advice: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    confidence: Confidence
    effort: Effort
    work: WorkKind
    message: str
    advice: str
    references: tuple[str, ...]
    source_file: str
    check: str = "regex"
    variant: str | None = None
    languages: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()
    language_globs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    context: str | None = None
    unless_file: re.Pattern[str] | None = None
    unless_line: re.Pattern[str] | None = None
    ported_if_file: re.Pattern[str] | None = None
    fallback_if_file: re.Pattern[str] | None = None
    when_ported: Override = field(default_factory=Override)
    when_guarded: Override = field(default_factory=Override)

    def info(self) -> RuleInfo:
        def advice(override: Override) -> str:
            return " ".join(override.advice.split()) if override.advice else self.advice

        return RuleInfo(
            id=self.id,
            title=self.title,
            severity=self.severity,
            confidence=self.confidence,
            effort=self.effort,
            work=self.work,
            advice=(
                (PortStatus.UNPORTED, self.advice),
                (PortStatus.FALLBACK, advice(self.when_guarded)),
                (PortStatus.PORTED, advice(self.when_ported)),
            ),
            references=self.references,
        )

    def applies_to(self, file_name: str) -> bool:
        return any(fnmatch.fnmatchcase(file_name, g) for g in self.globs)

    def language_of(self, file_name: str) -> str | None:
        """Which of this rule's languages the file is written in (None for extra `files` globs)."""
        for language, globs in self.language_globs:
            if any(fnmatch.fnmatchcase(file_name, g) for g in globs):
                return language
        return None


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    pack: RulePackInfo

    def by_id(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def variant(self, check: str, variant: str) -> Rule | None:
        """The rule a built-in check reports a variant under; None when that rule is disabled."""
        for rule in self.rules:
            if rule.check == check and rule.variant == variant:
                return rule
        return None

    def for_file(self, file_name: str) -> tuple[Rule, ...]:
        index = _INDEXES.get(id(self.rules))
        if index is None or index.rules is not self.rules:
            index = _GlobIndex(self.rules)
            _INDEXES[id(self.rules)] = index
        return index.lookup(file_name)

    def name_for_rules(self, file_name: str) -> str:
        """The name the rules know a file by: a C-family or assembly file whose suffix is in capitals and is no
        suffix of its own (X.C, Y.H and Z.CPP are C++ to compilers; on Windows any spelling works) is known
        by its lower-case suffix; X.S (preprocessed assembly) keeps its own."""
        stem, dot, suffix = file_name.rpartition(".")
        if not dot or suffix == suffix.lower() or self.for_file(file_name):
            return file_name
        lowered = f"{stem}.{suffix.lower()}"
        folded = any(f"*.{suffix.lower()}" in globs for r in self.rules for language, globs in r.language_globs
                     if language in ("c", "asm"))
        return lowered if folded else file_name

    def source_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.check in FILE_CHECKS)

    def without(self, disabled: frozenset[str]) -> RuleSet:
        kept = tuple(r for r in self.rules if r.id not in disabled)
        return RuleSet(rules=kept, pack=RulePackInfo(self.pack.name, self.pack.version, len(kept)))

    def only_file(self, source_file: str) -> RuleSet:
        kept = tuple(r for r in self.rules if r.source_file == source_file)
        return RuleSet(rules=kept, pack=self.pack)


class _GlobIndex:
    """Answers "which rules apply to this file name" without trying every glob on every file."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        rules = tuple(r for r in rules if r.check in FILE_CHECKS)
        self._by_suffix: dict[str, list[Rule]] = {}
        self._by_name: dict[str, list[Rule]] = {}
        self._other: list[tuple[str, Rule]] = []
        for rule in rules:
            for glob in rule.globs:
                if glob.startswith("*.") and not any(c in glob[2:] for c in "*?["):
                    self._by_suffix.setdefault(glob[1:], []).append(rule)
                elif not any(c in glob for c in "*?["):
                    self._by_name.setdefault(glob, []).append(rule)
                else:
                    self._other.append((glob, rule))
        self._cache: dict[str, tuple[Rule, ...]] = {}

    def lookup(self, name: str) -> tuple[Rule, ...]:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        found: dict[str, Rule] = {}
        dot = name.find(".")
        while dot >= 0:
            for rule in self._by_suffix.get(name[dot:], ()):
                found.setdefault(rule.id, rule)
            dot = name.find(".", dot + 1)
        for rule in self._by_name.get(name, ()):
            found.setdefault(rule.id, rule)
        for glob, rule in self._other:
            if rule.id not in found and fnmatch.fnmatchcase(name, glob):
                found[rule.id] = rule
        result = tuple(r for r in self.rules if r.id in found and r.check in FILE_CHECKS)
        if len(self._cache) < 50_000:
            self._cache[name] = result
        return result


_INDEXES: dict[int, _GlobIndex] = {}


def jsonschema_validator(schema_name: str = "rules.schema.json") -> Any:
    import jsonschema  # 70 ms to import: only when data files have not been validated before

    if schema_name == "rules.schema.json":
        return jsonschema.Draft202012Validator(_rule_schema())
    return jsonschema.Draft202012Validator(json.loads(schema_path(schema_name).read_text(encoding="utf-8")))


def validation_memo(texts: dict[str, str], schema_name: str = "rules.schema.json") -> Path | None:
    """A marker that data files with exactly this content (and this schema) passed validation before."""
    import platformdirs

    digest = hashlib.sha256(schema_path(schema_name).read_bytes())
    for source, text in sorted(texts.items()):
        digest.update(f"\0{source}\0{text}".encode())
    try:
        return Path(platformdirs.user_cache_dir("armscan")) / "validated-rules" / digest.hexdigest()
    except OSError:
        return None


def load_validated(paths: dict[str, Path], schema_name: str, what: str) -> dict[str, Any]:
    """Data files (name -> path) parsed as YAML and checked against a schema once per content; every problem
    of every file in one RuleError."""
    texts = {name: path.read_text(encoding="utf-8") for name, path in paths.items()}
    data = {name: load_yaml(text) for name, text in texts.items()}
    memo = validation_memo(texts, schema_name)
    if memo is None or not memo.exists():
        validator = jsonschema_validator(schema_name)
        problems = [f"{name}: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                    for name, doc in data.items() for e in validator.iter_errors(doc)]
        if problems:
            raise RuleError(f"invalid {what}:\n  " + "\n  ".join(problems))
        if memo is not None:
            remember_valid(memo)
    return data


def remember_valid(memo: Path) -> None:
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.touch()
    except OSError:
        pass  # a read-only cache only costs validating again next time


@lru_cache(maxsize=1)
def _rule_schema() -> dict[str, Any]:
    with schema_path("rules.schema.json").open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


def _compile(pattern: str, where: str, problems: list[str]) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.MULTILINE)
    except re.error as e:
        problems.append(f"{where}: pattern {pattern!r} does not compile: {e}")
        return None


def _override(data: dict[str, Any] | None) -> Override:
    if not data:
        return Override()
    return Override(
        severity=Severity(data["severity"]) if "severity" in data else None,
        confidence=Confidence(data["confidence"]) if "confidence" in data else None,
        message=data.get("message"),
        advice=data.get("advice"),
    )


def _build_rule(raw: dict[str, Any], source: str, languages: dict[str, list[str]], problems: list[str]) -> Rule:
    where = f"{source}: {raw['id']}"
    globs: list[str] = []
    for language in raw.get("languages", []):
        if language not in languages:
            problems.append(f"{where}: unknown language {language!r}")
        globs.extend(languages.get(language, []))
    globs.extend(raw.get("files", []))
    patterns = tuple(p for p in (_compile(s, where, problems) for s in raw.get("patterns", [])) if p)

    def optional(key: str) -> re.Pattern[str] | None:
        return _compile(raw[key], where, problems) if key in raw else None

    return Rule(
        id=raw["id"],
        title=raw["title"],
        severity=Severity(raw["severity"]),
        confidence=Confidence(raw["confidence"]),
        effort=Effort(raw["effort"]),
        work=WorkKind(raw["work"]),
        message=raw["message"].strip(),
        advice=" ".join(raw["advice"].split()),
        references=tuple(raw["references"]),
        source_file=source,
        check=raw.get("check", "regex"),
        variant=raw.get("variant"),
        languages=tuple(raw.get("languages", [])),
        globs=tuple(dict.fromkeys(globs)),
        language_globs=tuple((lang, tuple(languages.get(lang, []))) for lang in raw.get("languages", [])),
        patterns=patterns,
        context=raw.get("context"),
        unless_file=optional("unless-file-matches"),
        unless_line=optional("unless-line-matches"),
        ported_if_file=optional("ported-if-file-matches"),
        fallback_if_file=optional("fallback-if-file-matches"),
        when_ported=_override(raw.get("when-ported")),
        when_guarded=_override(raw.get("when-guarded")),
    )


def load_rules(directory: Path | None = None) -> RuleSet:
    """Load every rule file, validate all of them, and raise one RuleError listing every problem."""
    root = directory or rules_dir()
    if not root.is_dir():
        raise RuleError(f"rule directory {root} does not exist")
    problems: list[str] = []
    try:
        pack = load_yaml((root / "pack.yaml").read_text(encoding="utf-8"))
        languages = load_yaml((root / "languages.yaml").read_text(encoding="utf-8"))["languages"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        raise RuleError(f"rule pack metadata in {root} is unreadable: {e}") from e
    texts: dict[str, str] = {}
    for path in sorted(root.rglob("*.yaml")):
        if path.parent == root or any(p.endswith(".examples") for p in path.parts) or path.parent.name in (
                "knowledge", "targets"):
            continue
        source = path.relative_to(root).as_posix()
        try:
            texts[source] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"{source}: not readable: {e}")
    memo = validation_memo(texts)
    validator = None if memo is not None and memo.exists() else jsonschema_validator()
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for source, text in texts.items():
        try:
            data = load_yaml(text)
        except yaml.YAMLError as e:
            problems.append(f"{source}: not readable YAML: {e}")
            continue
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)) if validator else []
        if errors:
            problems.extend(f"{source}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
            continue
        for raw in data["rules"]:
            if raw["id"] in seen:
                problems.append(f"{source}: rule id {raw['id']} is also defined in {seen[raw['id']]}")
                continue
            seen[raw["id"]] = source
            rules.append(_build_rule(raw, source, languages, problems))
    if problems:
        raise RuleError("invalid rules:\n  " + "\n  ".join(problems))
    if validator is not None and memo is not None:
        remember_valid(memo)
    info = RulePackInfo(name=str(pack["name"]), version=str(pack["version"]), rules=len(rules))
    return RuleSet(rules=tuple(rules), pack=info)
