"""Python dependency readiness against a real HTTP index on loopback (tests/pyindex.py)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import jsonschema
import pytest
from packaging.utils import parse_wheel_filename

from armscan.python.analyze import PythonOptions
from armscan.python.http import redact
from armscan.python.requirements import read_pyproject, read_requirements_file
from armscan.python.target import PythonTarget
from armscan.resources import schema_path
from tests.conftest import run_cli, scan
from tests.pyindex import IndexServer

APP = "app==1.0\noldnative==1.0\n"


@pytest.fixture(scope="module")
def index() -> IndexServer:
    with IndexServer() as server:
        yield server


def options(url: str, **kw: object) -> PythonOptions:
    base = {"index_url": url, "python_version": (3, 11), "libc_version": (2, 26), "use_pip_config": False,
            "timeout": 2.0, "retries": 1}
    base.update(kw)
    return PythonOptions(**base)  # type: ignore[arg-type]


def tree(tmp_path: Path, text: str = APP, name: str = "requirements.txt") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


def statuses(result) -> dict[str, str]:
    return {p.name: p.status for p in result.packages}


@pytest.mark.parametrize(("wheel", "glibc", "ok"), [
    ("x-1-cp311-cp311-manylinux_2_28_aarch64.whl", (2, 26), False),
    ("x-1-cp311-cp311-manylinux_2_28_aarch64.whl", (2, 34), True),
    ("x-1-cp38-abi3-manylinux2014_aarch64.whl", (2, 26), True),
    ("x-1-cp311-cp311-manylinux_2_17_x86_64.whl", (2, 34), False),
    ("x-1-cp312-cp312-manylinux_2_17_aarch64.whl", (2, 34), False),
    ("x-1-py3-none-any.whl", (2, 17), True),
    ("x-1-cp311-cp311-musllinux_1_1_aarch64.whl", (2, 34), False),
])
def test_target_tags_like_pip_platform(wheel: str, glibc: tuple[int, int], ok: bool) -> None:
    target = PythonTarget((3, 11), "glibc", glibc)
    assert target.accepts(parse_wheel_filename(wheel)[3]) is ok


def test_musl_target() -> None:
    target = PythonTarget((3, 11), "musl", (1, 2))
    assert target.accepts(parse_wheel_filename("x-1-cp311-cp311-musllinux_1_1_aarch64.whl")[3])
    assert not target.accepts(parse_wheel_filename("x-1-cp311-cp311-manylinux_2_17_aarch64.whl")[3])


@pytest.mark.parametrize("prefix", ["/simple/", "/html/simple/"])
def test_every_verdict_with_json_and_html_pages(index: IndexServer, tmp_path: Path, prefix: str) -> None:
    result = scan(tree(tmp_path, "app[fast]==1.0\noldnative==1.0\n"), python=options(index.url + prefix),
                  display="")
    assert statuses(result) == {
        "app": "pure", "oldnative": "upgrade", "capper": "pure", "purepkg": "pure", "psycopg2": "sdist",
        "newglibc": "glibc", "nativeok": "ready",
    }  # intel-openmp is x86_64-only by marker, so an aarch64 target never installs it
    chains = {p.name: p.chain for p in result.packages}
    assert chains["psycopg2"] == ("app 1.0", "psycopg2 2.9.9")
    upgrade = next(f for f in result.findings if f.rule_id == "ARM-PY-UPGRADE-FOR-WHEEL")
    assert upgrade.location.path == "requirements.txt" and upgrade.location.line == 2
    assert "Upgrade to oldnative>=2.0" in upgrade.message
    assert "Held back by: capper 1.0, requirements.txt:2" in upgrade.message
    assert "Upgrade with it: capper 1.1" in upgrade.message
    build = next(f for f in result.findings if f.rule_id == "ARM-PY-BUILD-FROM-SOURCE")
    assert "libpq-dev" in build.message and "psycopg2-binary" in build.message
    assert result.complete


def test_newer_glibc_target_accepts_manylinux_2_28(index: IndexServer, tmp_path: Path) -> None:
    result = scan(tree(tmp_path, "newglibc==1.0\n"), python=options(index.url + "/simple/", libc_version=(2, 34)))
    assert statuses(result) == {"newglibc": "ready"}
    assert result.findings == ()


def test_every_problem_reported_in_one_run(index: IndexServer, tmp_path: Path) -> None:
    text = "intel-openmp==2024.0.0\noldnative==1.0\npsycopg2==2.9.9\nnewglibc==1.0\nnope-private\n"
    result = scan(tree(tmp_path, text), python=options(index.url + "/simple/"))
    assert sorted(f.rule_id for f in result.findings) == [
        "ARM-PY-BUILD-FROM-SOURCE", "ARM-PY-GLIBC-TOO-OLD", "ARM-PY-NO-AARCH64", "ARM-PY-NOT-ON-INDEX",
        "ARM-PY-UPGRADE-FOR-WHEEL",
    ]


def test_metadata_is_fetched_once_per_file_and_pep658_used(index: IndexServer, tmp_path: Path) -> None:
    index.requests.clear()
    scan(tree(tmp_path, "app==1.0\n"), python=options(index.url + "/simple/"))
    assert any(r.endswith(".whl.metadata") for r in index.requests)
    assert not any(r.startswith("/files/") and r.endswith(".whl") for r in index.requests)


@pytest.mark.parametrize(("prefix", "words"), [
    ("/garbage/simple/", "neither JSON nor HTML"),
    ("/error/simple/", "HTTP 500 after 2 attempts"),
    ("/auth/simple/", "access denied (401)"),
])
def test_broken_index_makes_packages_unknown_never_ready(index: IndexServer, tmp_path: Path, prefix: str,
                                                          words: str) -> None:
    result = scan(tree(tmp_path, "purepkg==1.0\n"), python=options(index.url + prefix))
    assert not result.complete
    assert statuses(result) == {"purepkg": "unknown"}
    assert [s.reason.value for s in result.skipped] == ["index-error"]
    assert words in result.skipped[0].detail and words in result.errors[0]
    assert result.findings == ()


def test_hanging_index_times_out(index: IndexServer, tmp_path: Path) -> None:
    start = time.monotonic()
    result = scan(tree(tmp_path, "purepkg==1.0\n"), python=options(index.url + "/hang/simple/", timeout=0.5,
                                                                   retries=0))
    assert time.monotonic() - start < 4
    assert statuses(result) == {"purepkg": "unknown"} and not result.complete


def test_credentials_are_used_and_never_shown(index: IndexServer, tmp_path: Path) -> None:
    url = index.url.replace("http://", "http://user:s3cret@") + "/auth/simple/"
    result = scan(tree(tmp_path, "purepkg==1.0\nnope-private\n"), python=options(url))
    assert statuses(result) == {"purepkg": "pure", "nope-private": "missing"}
    proc = run_cli("scan", str(tmp_path), "--index-url", url, "--json", "-", "--python-version", "3.11",
                   "--cache-dir", str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    assert "s3cret" not in proc.stdout + proc.stderr
    assert "s3cret" not in "".join(p.read_text(errors="replace") for p in (tmp_path / "cache").rglob("*.json"))
    assert redact(url) in proc.stdout


def test_netrc_credentials_and_no_credentials_to_another_host(index: IndexServer, tmp_path: Path) -> None:
    host, port = index.server.server_address[:2]
    (tmp_path / "netrc").write_text(f"machine {host}\n  login user\n  password s3cret\n")
    (tmp_path / "netrc").chmod(0o600)
    (tmp_path / "p").mkdir()
    project = tree(tmp_path / "p", "purepkg==1.0\n")
    env = {**os.environ, "NETRC": str(tmp_path / "netrc")}
    proc = run_cli("scan", str(project), "--index-url", f"{index.url}/auth/simple/", "--python-version", "3.11",
                   "--cache-dir", str(tmp_path / "c1"), "--json", "-", "-q", env=env)
    assert proc.returncode == 0, proc.stderr
    assert [(p["name"], p["status"]) for p in json.loads(proc.stdout)["packages"]] == [("purepkg", "pure")]
    # a redirect to the same origin keeps the credentials; one to another host (localhost) never gets them
    index.authorizations.clear()
    url = f"http://user:s3cret@{host}:{port}"
    proc = run_cli("scan", str(project), "--index-url", f"{url}/redirect-same/simple/", "--extra-index-url",
                   f"{url}/redirect/simple/", "--python-version", "3.11", "--cache-dir", str(tmp_path / "c2"),
                   "--json", "-", "-q")
    assert json.loads(proc.stdout)["packages"][0]["status"] == "pure"
    redirected = [auth for h, auth in index.authorizations if h.startswith("localhost")]
    assert redirected and not any(redirected)
    assert all(auth for h, auth in index.authorizations if h.startswith(host))
    assert "s3cret" not in proc.stdout + proc.stderr


def test_offline_uses_the_cache_and_is_unknown_without_it(index: IndexServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (tmp_path / "p").mkdir()
    project = tree(tmp_path / "p", "app==1.0\n")
    online = scan(project, python=options(index.url + "/simple/", cache_dir=cache))
    offline = scan(project, python=options(index.url + "/simple/", cache_dir=cache, offline=True))
    assert statuses(offline) == statuses(online) and offline.complete
    cold = scan(project, python=options(index.url + "/simple/", cache_dir=tmp_path / "empty", offline=True))
    assert set(statuses(cold).values()) == {"unknown"} and not cold.complete


def test_hash_pins_and_mirror(index: IndexServer, tmp_path: Path) -> None:
    import hashlib

    files = Path(__file__).resolve().parent.parent / "fixtures" / "pyindex" / "files"
    arm = files / "nativeok-1.0-cp38-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"
    x86 = files / "nativeok-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    x86_hash = hashlib.sha256(x86.read_bytes()).hexdigest()
    arm_hash = hashlib.sha256(arm.read_bytes()).hexdigest()
    only_x86 = scan(tree(tmp_path, f"nativeok==1.0 --hash=sha256:{x86_hash}\n"),
                    python=options(index.url + "/simple/"))
    (finding,) = only_x86.findings
    assert finding.rule_id == "ARM-PY-HASHES-X86-ONLY" and arm.name in finding.message
    both = scan(tree(tmp_path, f"nativeok==1.0 --hash=sha256:{x86_hash} --hash=sha256:{arm_hash}\n"),
                python=options(index.url + "/simple/"))
    assert both.findings == ()
    mirrored = scan(tree(tmp_path, "nativeok==1.0\n"),
                    python=options(index.url + "/mirror/simple/", extra_index_urls=(index.url + "/simple/",)))
    assert [f.rule_id for f in mirrored.findings] == ["ARM-PY-MIRROR-LACKS-AARCH64"]
    only_mirror = scan(tree(tmp_path, "nativeok==1.0\n"), python=options(index.url + "/mirror/simple/"))
    assert statuses(only_mirror) == {"nativeok": "sdist"}


def test_requirement_file_includes_loops_and_odd_lines(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("-r requirements.txt\npurepkg>=1.0 ; python_version >= '3.8'\n")
    (tmp_path / "constraints.txt").write_text("oldnative<2\n")
    (tmp_path / "requirements.txt").write_text(
        "-r base.txt\n-c constraints.txt\n--index-url https://mirror.example/simple\n"
        "-e ./local\nlocalpkg @ https://example.com/x.whl\nnot a valid requirement!!\n"
        "oldnative \\\n  --hash=sha256:abc\n")
    parsed = read_requirements_file(tmp_path / "requirements.txt", "requirements.txt")
    assert [(r.name, r.source, r.line, r.hashes) for r in parsed.requirements] == [
        ("purepkg", "base.txt", 2, ()), ("oldnative", "requirements.txt", 7, ("sha256:abc",))]
    assert str(parsed.constraints["oldnative"]) == "<2"
    assert parsed.index_url == "https://mirror.example/simple"
    reasons = sorted(s.detail.split(" ")[0] for s in parsed.skipped)
    assert len(parsed.skipped) == 4 and "requirements" in reasons  # the loop back to requirements.txt


def test_pyproject_pep621_and_poetry(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nrequires-python = ">=3.9"\ndependencies = ["purepkg>=1", "capper==1.0"]\n')
    parsed = read_pyproject(tmp_path / "pyproject.toml", "pyproject.toml")
    assert [(r.name, str(r.requirement.specifier), r.line) for r in parsed.requirements] == [
        ("purepkg", ">=1", 4), ("capper", "==1.0", 4)]
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry.dependencies]\npython = "^3.10"\nnumpy = "^1.24.2"\nlocal = { path = "../x" }\n'
        'psycopg2 = { version = "~2.9", extras = ["pool"] }\n')
    parsed = read_pyproject(tmp_path / "pyproject.toml", "pyproject.toml")
    assert [(r.name, str(r.requirement)) for r in parsed.requirements] == [
        ("numpy", "numpy<2,>=1.24.2"), ("psycopg2", "psycopg2[pool]<2.10,>=2.9")]
    assert parsed.requires_python == ">=3.10,<4" and len(parsed.skipped) == 1
    (tmp_path / "pyproject.toml").write_text("[project\nbroken")
    assert read_pyproject(tmp_path / "pyproject.toml", "pyproject.toml").skipped[0].reason.value == "malformed"


def test_cli_end_to_end_json_validates_and_exit_codes(index: IndexServer, tmp_path: Path) -> None:
    tree(tmp_path, APP)
    common = ["--python-version", "3.11", "--glibc", "2.26", "--cache-dir", str(tmp_path / "cache"), "--json", "-"]
    proc = run_cli("scan", str(tmp_path), "--index-url", index.url + "/simple/", *common)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(json.loads(schema_path("result.schema.json").read_text())).validate(doc)
    assert doc["targets"] == ["AWS Graviton2 (Neoverse N1, Armv8.2)", "Amazon Linux 2023",
                              "CPython 3.11, Linux aarch64, glibc 2.26"]
    assert {p["name"]: p["status"] for p in doc["packages"]}["oldnative"] == "upgrade"
    broken = run_cli("scan", str(tmp_path), "--index-url", index.url + "/error/simple/", "--timeout", "1", *common)
    assert broken.returncode == 3
    assert json.loads(broken.stdout)["complete"] is False
    skipped = run_cli("scan", str(tmp_path), "--no-index", "--json", "-")
    assert skipped.returncode == 0 and json.loads(skipped.stdout)["packages"] == []
    bad = run_cli("scan", str(tmp_path), "--python-version", "three")
    assert bad.returncode == 2 and "--python-version" in bad.stderr


@pytest.mark.online
def test_live_pypi_numpy_has_aarch64_wheels(tmp_path: Path) -> None:
    result = scan(tree(tmp_path, "numpy==1.26.4\n"), python=PythonOptions(python_version=(3, 11),
                                                                         use_pip_config=False))
    assert statuses(result)["numpy"] == "ready"


POETRY_LOCK = """
[[package]]
name = "app"
version = "1.0"

[package.dependencies]
capper = "1.0"
purepkg = ">=1.0"
psycopg2 = "*"
newglibc = "*"

[[package]]
name = "capper"
version = "1.0"

[package.dependencies]
oldnative = "<2"

[[package]]
name = "oldnative"
version = "1.0"

[[package]]
name = "purepkg"
version = "1.0"

[[package]]
name = "psycopg2"
version = "2.9.9"

[[package]]
name = "newglibc"
version = "1.0"
"""


def test_poetry_lock_gives_chains_from_its_roots(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["nativeok"]\n')
    tree(tmp_path, POETRY_LOCK, "poetry.lock")
    result = scan(tmp_path, python=options(index.url + "/simple/"), display="")
    chains = {p.name: (p.chain, p.status, p.source) for p in result.packages}
    assert chains["oldnative"] == (("app 1.0", "capper 1.0", "oldnative 1.0"), "upgrade", "poetry.lock:3")
    assert "nativeok" not in chains  # the lock, not pyproject.toml, says what is installed
    assert sorted(f.rule_id for f in result.findings) == [
        "ARM-PY-BUILD-FROM-SOURCE", "ARM-PY-GLIBC-TOO-OLD", "ARM-PY-UPGRADE-FOR-WHEEL"]


def test_pipfile_uv_and_pylock(index: IndexServer, tmp_path: Path) -> None:
    pipfile = {"_meta": {}, "default": {"oldnative": {"version": "==1.0", "hashes": []}},
               "develop": {"purepkg": {"version": "==1.0"}}}
    (tmp_path / "a").mkdir()
    tree(tmp_path / "a", json.dumps(pipfile), "Pipfile.lock")
    (tmp_path / "b").mkdir()
    tree(tmp_path / "b", '[[package]]\nname = "proj"\nversion = "0"\nsource = { editable = "." }\n'
                        'dependencies = [{ name = "intel-openmp" }]\n\n'
                        '[[package]]\nname = "intel-openmp"\nversion = "2024.0.0"\n', "uv.lock")
    (tmp_path / "c").mkdir()
    tree(tmp_path / "c", 'lock-version = "1.0"\n[[packages]]\nname = "newglibc"\nversion = "1.0"\n', "pylock.toml")
    tree(tmp_path / "c", "this is not toml = [", "pylock.ci.toml")
    result = scan(tmp_path, python=options(index.url + "/simple/"), display="")
    assert {(p.name, p.status, p.source) for p in result.packages} == {
        ("oldnative", "upgrade", "a/Pipfile.lock:1"), ("purepkg", "pure", "a/Pipfile.lock:1"),
        ("intel-openmp", "none", "b/uv.lock:8"), ("newglibc", "glibc", "c/pylock.toml:3")}
    assert [(s.path, s.reason.value) for s in result.skipped] == [("c/pylock.ci.toml", "malformed")]


def test_find_links_folder_page_and_requirement_file_option(index: IndexServer, tmp_path: Path) -> None:
    files = Path(__file__).resolve().parent.parent / "fixtures" / "pyindex" / "files"
    (tmp_path / "a").mkdir()
    tree(tmp_path / "a", "oldnative==1.0\napp==1.0\n")
    expected = {"oldnative": "upgrade", "app": "pure", "capper": "pure", "purepkg": "pure", "psycopg2": "sdist",
                "newglibc": "glibc"}
    for location in (str(files), f"{index.url}/flat/"):
        proc = run_cli("scan", str(tmp_path / "a"), "--no-index", "--find-links", location, "--python-version",
                       "3.11", "--glibc", "2.26", "--cache-dir", str(tmp_path / "cache"), "--json", "-", "-q")
        assert {p["name"]: p["status"] for p in json.loads(proc.stdout)["packages"]} == expected, location
    # a requirement file's own -f (relative to the file) and --no-index, as pip reads them
    (tmp_path / "b" / "wheels").mkdir(parents=True)
    x86 = "nativeok-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    shutil.copy(files / x86, tmp_path / "b" / "wheels")
    tree(tmp_path / "b", "--no-index\n-f wheels\nnativeok==1.0\n")
    result = scan(tmp_path / "b", python=options(index.url + "/simple/"), display="")
    assert statuses(result) == {"nativeok": "none"}  # the full index has its aarch64 wheel: not asked
    assert run_cli("scan", str(tmp_path), "--find-links", str(tmp_path / "nope")).returncode == 2
