"""The short fuzz pass: a fixed number of derandomized hypothesis examples through every fuzz target, plus the
reproducers of what the long pass (benchmarks/fuzz.py) found. A target may return or raise its documented
errors; any other exception fails. Crashes another engineer is fixing are tolerated by signature (KNOWN) in
the pass, and their reproducers below are xfail until the fix lands."""

from __future__ import annotations

import functools
import io
import random
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from armscan.model import SkipReason
from fixtures.fuzzing import Target, mutate, run, targets

TARGETS = targets()
EXAMPLES = 200
# Crashes found by the fuzzer that belong to an item of the hardening issue someone else is fixing:
# (target, exception type, function it is raised in) -> the issue item. Each has an xfail reproducer below.
KNOWN: dict[tuple[str, str, str], str] = {}


@functools.cache
def _seeds(name: str) -> list[bytes]:
    return TARGETS[name].seeds()


def _signature(name: str, error: BaseException) -> tuple[str, str, str]:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "/armscan/" in f.filename]
    return name, type(error).__name__, frames[-1].name if frames else ""


def known(name: str, error: BaseException) -> str | None:
    """The issue item a crash belongs to, when someone else is fixing it."""
    signature = _signature(name, error)
    for key, item in KNOWN.items():
        if all(k in ("*", s) for k, s in zip(key, signature, strict=True)):
            return item
    return None


def _check(target: Target, data: bytes, scratch: Path) -> None:
    try:
        run(target, data, scratch)
    except Exception as e:
        if known(target.name, e) is None:
            raise


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_are_read(name: str, tmp_path: Path) -> None:
    seeds = _seeds(name)
    assert seeds, f"{name} has no seeds"
    for seed in seeds:
        run(TARGETS[name], seed, tmp_path)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz(name: str, tmp_path: Path) -> None:
    target, seeds = TARGETS[name], _seeds(name)

    @settings(derandomize=True, max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(rng=st.randoms(use_true_random=False))
    def check(rng: random.Random) -> None:
        _check(target, mutate(rng, target, seeds), tmp_path)

    check()


_DOCKER_WORDS = st.sampled_from(["FROM", "RUN", "ARG", "ENV", "COPY", "ADD", "CMD", "ENTRYPOINT", "from", "#", "\\",
                                 "--platform=", "${A}", "$A", "AS", "x86_64", "amd64", "=", '"', "'", "[", "]"])


@settings(derandomize=True, max_examples=200, deadline=None, database=None)
@given(lines=st.lists(st.lists(st.one_of(_DOCKER_WORDS, st.text(max_size=12)), max_size=8), max_size=12))
def test_dockerfile_text(lines: list[list[str]]) -> None:
    """Dockerfiles built from instruction words, flags, substitutions and odd text."""
    run(TARGETS["dockerfile"], "\n".join(" ".join(words) for words in lines).encode(), Path("."))


def test_mutations_are_deterministic() -> None:
    target = TARGETS["npm-lock"]
    first = [mutate(random.Random(7), target, _seeds("npm-lock")) for _ in range(5)]
    assert first == [mutate(random.Random(7), target, _seeds("npm-lock")) for _ in range(5)]
    assert len(set(first)) == 1  # same seed, same input
    assert len({mutate(random.Random(n), target, _seeds("npm-lock")) for n in range(20)}) > 10


def test_an_unexpected_exception_is_a_crash(tmp_path: Path) -> None:
    crashing = Target("broken", lambda data, scratch: [].pop(), lambda: [b""], expected=(KeyError,))
    with pytest.raises(IndexError):
        run(crashing, b"", tmp_path)
    documented = Target("documented", lambda data, scratch: {}["x"], lambda: [b""], expected=(KeyError,))
    run(documented, b"", tmp_path)


# Reproducers of what the long pass found ----------------------------------------------------------------------


def _lock_skips(tmp_path: Path, name: str, text: str) -> list[tuple[str, str]]:
    from armscan.python.lockfiles import read_lockfile

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = read_lockfile(path, name)
    return [(s.reason.value, s.detail) for s in result.skipped]


@pytest.mark.parametrize(("name", "text"), [
    ("Pipfile.lock", '{"default": {"numpy": {"version": "==numpy"}, "six": {"version": "==1.16.0"}}}'),
    ("poetry.lock",
     '[[package]]\nname = "numpy"\nversion = "1.0; rm"\n\n[[package]]\nname = "six"\nversion = "1.16"\n'),
])
def test_lock_entry_with_an_invalid_version_is_skipped(tmp_path: Path, name: str, text: str) -> None:
    from armscan.python.lockfiles import read_lockfile

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = read_lockfile(path, name)
    assert [(s.path, s.reason) for s in result.skipped] == [(name, SkipReason.MALFORMED)]
    assert "numpy" in result.skipped[0].detail and "not a valid version" in result.skipped[0].detail
    assert [str(r.requirement) for r in result.requirements] == ["six==1.16.0" if name == "Pipfile.lock"
                                                                 else "six==1.16"]


@pytest.mark.parametrize(("name", "text"), [
    ("poetry.lock", '[[package]]\nname = 1\nversion = "1.0"\n'),
    ("uv.lock", '[[package]]\nname = ["numpy"]\nversion = "1.0"\n'),
    ("pylock.toml", '[[packages]]\nname = 1.5\nversion = "1.0"\n'),
])
def test_lock_entry_with_a_mistyped_name_is_skipped(tmp_path: Path, name: str, text: str) -> None:
    assert [reason for reason, _ in _lock_skips(tmp_path, name, text)] == ["malformed"]


def test_requirements_include_with_a_nul_byte_is_skipped(tmp_path: Path) -> None:
    from armscan.python.requirements import read_requirements_file

    path = tmp_path / "requirements.txt"
    path.write_bytes(b"numpy==1.21.0\n-r other\x00.txt\n")
    result = read_requirements_file(path, "requirements.txt")
    assert [(s.path, s.reason) for s in result.skipped] == [("other\x00.txt", SkipReason.MALFORMED)]
    assert "NUL" in result.skipped[0].detail
    assert [str(r.requirement) for r in result.requirements] == ["numpy==1.21.0"]


def _report_document() -> dict[str, object]:
    import json

    return dict(json.loads(_seeds("report")[0]))


@pytest.mark.parametrize("change", ["document", "rules", "artifacts", "cpu_targets", "advice", "references"])
def test_report_on_a_mistyped_result_is_a_result_error(tmp_path: Path, change: str) -> None:
    import json

    from armscan.reporters.load import ResultError

    doc: object = _report_document()
    assert isinstance(doc, dict)
    rule = next(iter(doc["rules"].values()))
    if change == "document":
        doc = 5
    elif change in ("rules", "artifacts", "cpu_targets"):
        doc[change] = {"rules": "x", "artifacts": ["x"], "cpu_targets": ["x"]}[change]
    else:
        rule[change] = 1.5 if change == "advice" else [1]
    with pytest.raises(ResultError):
        TARGETS["report"].run(json.dumps(doc).encode(), tmp_path)


def test_deeply_nested_documents_are_documented_errors(tmp_path: Path) -> None:
    from armscan.config import ConfigError
    from armscan.config import load as load_config
    from armscan.image.manifest import ManifestError, load_document

    with pytest.raises(ManifestError):
        load_document(b"[" * 100_000)
    (tmp_path / ".armscan.toml").write_text("a = " + "[" * 100_000, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(tmp_path / ".armscan.toml", [])
    assert [reason for reason, _ in _lock_skips(tmp_path, "pylock.toml", "a = " + "[" * 100_000)] == ["malformed"]


def _ar(members: dict[str, bytes]) -> bytes:
    out = b"!<arch>\n"
    for name, body in members.items():
        out += f"{name + '/':16}{0:<12}{0:<6}{0:<6}{644:<8}{len(body):<10}`\n".encode() + body + b"\n" * (len(body) % 2)
    return out


def test_ar_members_of_unknown_machines_are_listed_as_unknown(ruleset: object) -> None:
    from armscan.analyzers.files import Collector, analyze_stream
    from armscan.limits import Limits

    short_import = (b"\0\0\xff\xff" + b"\0\0" + (0x1234).to_bytes(2, "little")).ljust(40, b"\0")
    x86_object = (0x8664).to_bytes(2, "little").ljust(40, b"\0")
    data = _ar({"inner.a": _ar({"x.o": b"\0" * 8}), "imp.obj": short_import, "x86.obj": x86_object})
    out = Collector()
    analyze_stream(io.BytesIO(data), len(data), "lib.a", "lib.a", ruleset, Limits(), out)  # type: ignore[arg-type]
    assert out.skipped == []
    [artifact] = out.artifacts
    assert [(s.name, s.format, s.machine) for s in artifact.slices] == [
        ("inner.a", "ar", "unknown"), ("imp.obj", "coff", "unknown"), ("x86.obj", "coff", "x86_64")]
    assert artifact.machines == ("x86_64",)


def test_wheel_tag_with_a_huge_python_version_is_not_a_version() -> None:
    from armscan.python.environment import MemoryReader, read_environment

    files = {"site/a-1.0.dist-info/METADATA": b"Name: a\nVersion: 1.0\n",
             "site/a-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: cp3" + b"1" * 5000 + b"-none-any\n",
             "pyvenv.cfg": b"version = 3." + b"1" * 5000 + b"\n"}
    env = read_environment(MemoryReader(files, "site"), "site", ["a-1.0.dist-info/METADATA"])
    assert [d.name for d in env.dists] == ["a"]
    assert env.python_version is None


def test_descriptor_with_mistyped_annotations_has_none() -> None:
    from armscan.image.manifest import Descriptor

    descriptor = Descriptor.of({"digest": "sha256:" + "0" * 64, "annotations": 1.5})
    assert descriptor.annotations == {}
    assert not descriptor.is_attestation


def test_pyproject_with_mistyped_project_fields_reads_nothing(tmp_path: Path) -> None:
    from armscan.python.requirements import read_pyproject

    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\ndependencies = true\nrequires-python = 3\n', encoding="utf-8")
    result = read_pyproject(path, "pyproject.toml")
    assert (result.requirements, result.skipped, result.requires_python) == ([], [], None)
    path.write_text("[project]\nx = " + "1" * 5000 + "\n", encoding="utf-8")
    result = read_pyproject(path, "pyproject.toml")
    assert [(s.reason, s.detail.split(":")[0]) for s in result.skipped] == [
        (SkipReason.MALFORMED, "pyproject.toml unreadable")]


def test_config_with_a_huge_integer_is_a_config_error(tmp_path: Path) -> None:
    from armscan.config import ConfigError, load

    path = tmp_path / ".armscan.toml"
    path.write_text("offline = " + "1" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path, [])


def test_gradle_variables_are_read_in_linear_time(tmp_path: Path) -> None:
    """A long word with no `=` after it took quadratic time (36 KB: 19 s); 400 KB must finish at once."""
    import subprocess
    import sys

    code = ("from pathlib import Path; from armscan.analyzers.java import _gradle_dependencies as g; "
            "print(len(g('def v = \"1\"\\n' + 'null' * 100_000 + ' \\n \"a:b:${v}\"', Path('.'), None)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.stdout.strip() == "1", done.stderr


def test_gradle_version_of_thousands_of_digits_is_compared(ruleset: object) -> None:
    from armscan.analyzers import java

    text = 'implementation "com.github.luben:zstd-jni:1' + "0" * 5000 + '"\n'
    findings, skipped = java.analyze("build.gradle", "build.gradle", text, Path("."), ruleset)  # type: ignore[arg-type]
    assert (findings, skipped) == ([], [])
    early = java.analyze("build.gradle", "build.gradle", 'implementation "com.github.luben:zstd-jni:1.0"\n',
                         Path("."), ruleset)[0]  # type: ignore[arg-type]
    assert [f.rule_id for f in early] == ["ARM-JAVA-UPGRADE-FOR-ARM64"]


def test_zip_member_with_an_empty_name_is_passed_over(ruleset: object) -> None:
    """zipfile truncates a name at a NUL byte; ZipInfo.is_dir() then fails on the empty name."""
    import zipfile

    from armscan.analyzers.files import Collector, analyze_stream
    from armscan.limits import Limits

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("@" * 8, b"data")
        archive.writestr("lib/libx.so", (Path(__file__).parent.parent / "fixtures/bin/hello-x86_64").read_bytes())
    data = out.getvalue().replace(b"@" * 8, b"\0" + b"@" * 7)
    assert "" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    found = Collector()
    analyze_stream(io.BytesIO(data), len(data), "pkg.jar", "pkg.jar", ruleset, Limits(), found)  # type: ignore[arg-type]
    assert found.skipped == []
    assert [(a.path, a.machines) for a in found.artifacts] == [("pkg.jar!lib/libx.so", ("x86_64",))]
    assert [f.location.path for f in found.findings] == ["pkg.jar!lib/libx.so"]


def test_installed_version_of_thousands_of_digits_is_skipped() -> None:
    from armscan.python.environment import MemoryReader, read_environment

    files = {"site/a-1.0.dist-info/METADATA": b"Name: a\nVersion: 1." + b"1" * 5000 + b"\n",
             "site/b-1.0.dist-info/METADATA": b"Name: b\nVersion: 1.0\n"}
    env = read_environment(MemoryReader(files, "site"), "site", [name.removeprefix("site/") for name in files])
    assert [d.name for d in env.dists] == ["b"]
    assert [(s.path, s.reason) for s in env.skipped] == [("site/a-1.0.dist-info/METADATA", SkipReason.MALFORMED)]
    assert "not a valid version" in env.skipped[0].detail


def test_elf_version_needs_count_is_bounded(tmp_path: Path) -> None:
    """sh_info of .gnu.version_r (the number of version needs) set to 0xFFFFFFFE: pyelftools walks them all.
    The fuzzer found it on its own, in a binary and in a binary inside an image layer."""
    import struct
    import subprocess
    import sys

    from elftools.elf.elffile import ELFFile

    data = bytearray((Path(__file__).parent.parent / "fixtures/bin/libmix-aarch64.so").read_bytes())
    elf = ELFFile(io.BytesIO(bytes(data)))
    index = next(i for i, s in enumerate(elf.iter_sections()) if s["sh_type"] == "SHT_GNU_verneed")
    struct.pack_into("<I", data, elf["e_shoff"] + index * elf["e_shentsize"] + 44, 0xFFFFFFFE)
    (tmp_path / "libmix.so").write_bytes(data)
    code = ("import sys; from armscan.analyzers.files import analyze_file; from armscan.limits import Limits; "
            "from armscan.rules_engine.loader import load_rules; "
            "out = analyze_file(sys.argv[1], 'libmix.so', load_rules(), Limits()); "
            "print([a.machines for a in out.artifacts], len(out.skipped))")
    try:
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "libmix.so")], capture_output=True,
                              text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("reading the version needs did not finish in 10 s")
    assert done.stdout.strip() == "[('aarch64',)] 0", done.stderr


def test_empty_rpm_database_is_unreadable_not_a_crash() -> None:
    from armscan.image.inventory import RPM_SQLITE, package_owners
    from armscan.image.rpmdb import RpmDbError, owners

    with pytest.raises(RpmDbError, match="not a readable RPM sqlite database"):
        owners(b"")
    assert package_owners({RPM_SQLITE: b""}) == {}


def test_wheel_file_name_with_a_version_of_thousands_of_digits_is_skipped() -> None:
    from armscan.python.wheelfiles import read_wheel_names

    huge = "wheelhouse/pkg-1" + "1" * 5000 + "-py3-none-any.whl"
    wheels, skipped = read_wheel_names([huge, "wheelhouse/pkg-1.0-py3-none-any.whl"])
    assert [w.version for w in wheels] == ["1.0"]
    assert [(s.path, s.reason) for s in skipped] == [(huge, SkipReason.MALFORMED)]
    assert skipped[0].detail.startswith("not a valid wheel file name")


def test_rpm_header_repeating_a_tag_is_read_once(tmp_path: Path) -> None:
    """100,000 entries each naming the same string array of 100,000 strings: 10^10 steps before."""
    import sqlite3
    import struct
    import subprocess
    import sys

    count, data = 100_000, b"usr/bin/\0" + b"\0" * 200_000
    entries = struct.pack(">IIII", 1118, 8, 0, 1) + struct.pack(">IIII", 1116, 4, 9, 1)
    entries += struct.pack(">IIII", 1117, 8, 13, 100_000) * (count - 2)
    blob = struct.pack(">II", count, len(data)) + entries + data[:9] + b"\0\0\0\0tool\0" + data[9:]
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)")
    connection.execute("INSERT INTO Packages (blob) VALUES (?)", (blob,))
    connection.commit()
    (tmp_path / "rpmdb.sqlite").write_bytes(connection.serialize())
    code = ("import sys; from armscan.image.rpmdb import owners; "
            "print(sorted(owners(open(sys.argv[1], 'rb').read()).items()))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "rpmdb.sqlite")], capture_output=True,
                          text=True, timeout=30)
    assert done.stdout.strip() == "[('usr/bin/tool', 'rpm:? - (?)')]", done.stderr


def test_rpm_rows_that_hold_no_blob_are_passed_over() -> None:
    import sqlite3

    from armscan.image.rpmdb import owners

    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)")
    connection.executemany("INSERT INTO Packages (blob) VALUES (?)", [(None,), (10**12,), ("text",)])
    connection.commit()
    assert owners(connection.serialize()) == {}
