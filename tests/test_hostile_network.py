"""Hostile servers, URLs, saved results and signals: what armscan reports for each, exactly.

The servers are those of the hostile cases (fixtures/hostile/network.py), on loopback only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from packaging.version import Version

from armscan.docker import phase as docker_phase
from armscan.image.manifest import Descriptor
from armscan.image.open import RegistrySettings
from armscan.image.reference import parse_registry
from armscan.image.registry import RegistryClient, RegistryError
from armscan.model import SkipReason
from armscan.plan import build_plan
from armscan.python.audit import Auditor, AuditUnavailable
from armscan.python.http import BadURL, Fetcher, FetchError, check_url, link_allowed, redact
from armscan.python.index import IndexError_, parse_json
from armscan.reporters.load import ResultError, load
from armscan.rules_engine.loader import RuleSet
from armscan.sources.tree import FileEntry
from fixtures.hostile import SECRET, SECRET_FILE, prepare
from fixtures.hostile import network as cases
from tests.conftest import armscan_exe, run_cli, scan
from tests.pyindex import IndexServer
from tests.test_python import options, statuses, tree

PASSWORD = "cr3t-Pa55"
BAD_URLS = [
    f"http://u:Se/{PASSWORD}@127.0.0.1/simple/",  # the password's '/' ends the host early: port 'Se'
    f"http://u:Se#{PASSWORD}@127.0.0.1/simple/",
    f"http://u:Se?{PASSWORD}@127.0.0.1/simple/",
    f"http://u:12/{PASSWORD}@127.0.0.1/simple/",  # parses, with the password in the path
    f"http://127.0.0.1/simple/ {PASSWORD}",
    "ftp://127.0.0.1/simple/",
    "http:///simple/",
]


@pytest.fixture(scope="module")
def index() -> IndexServer:
    with IndexServer() as server:
        yield server


# Item 1: leaks


@pytest.mark.parametrize("url", BAD_URLS)
def test_malformed_url_refused_without_echo(url: str) -> None:
    with pytest.raises(BadURL) as raised:
        check_url(url)
    assert PASSWORD not in str(raised.value)
    if "@" in url:
        assert redact(url) == "http://(malformed)"


def test_usable_urls_pass_and_keep_their_credentials_out_of_labels() -> None:
    for url in ("https://u:p%2Fq@host.example:8443/simple/", "file:///srv/index/", "http://[::1]:80/s/"):
        assert check_url(url) == url
    assert redact("https://u:p%2Fq@host.example:8443/simple/") == "https://host.example:8443/simple/"
    assert redact(BAD_URLS[0]) == "http://(malformed)"


@pytest.mark.parametrize(("flag", "what"), [
    ("--index-url", "--index-url"), ("--extra-index-url", "--extra-index-url"),
    ("--find-links", "--find-links"), ("--osv-url", "--osv-url"),
])
def test_malformed_url_option_is_a_one_line_usage_error(tmp_path: Path, flag: str, what: str) -> None:
    tree(tmp_path, "purepkg==1.0\n")
    audit = ["--audit"] if flag == "--osv-url" else []
    proc = run_cli("scan", str(tmp_path), flag, BAD_URLS[0], *audit, "--cache-dir", str(tmp_path / "c"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"error: {what}")
    assert "not a usable URL" in proc.stderr and PASSWORD not in proc.stdout + proc.stderr


def test_malformed_url_from_environment_or_settings(tmp_path: Path) -> None:
    tree(tmp_path, "purepkg==1.0\n")
    env = {**os.environ, "PIP_INDEX_URL": BAD_URLS[1], "PIP_CONFIG_FILE": os.devnull}
    proc = run_cli("scan", str(tmp_path), "--cache-dir", str(tmp_path / "c"), env=env)
    assert proc.returncode == 2 and "PIP_INDEX_URL" in proc.stderr and PASSWORD not in proc.stderr
    (tmp_path / ".armscan.toml").write_text(f'extra-index-url = ["{BAD_URLS[2]}"]\n')
    proc = run_cli("scan", str(tmp_path), "--cache-dir", str(tmp_path / "c"))
    assert proc.returncode == 2 and "extra-index-url" in proc.stderr and PASSWORD not in proc.stderr
    (tmp_path / ".armscan.toml").write_text('insecure-registry = ["u:p@host/path"]\n')
    proc = run_cli("scan", str(tmp_path), "--no-index")
    assert proc.returncode == 2 and "insecure-registry" in proc.stderr


def test_requirement_file_with_malformed_index_is_skipped(index: IndexServer, tmp_path: Path) -> None:
    tree(tmp_path, f"-i {BAD_URLS[0]}\npurepkg==1.0\n")
    result = scan(tmp_path, python=options(f"{index.url}/simple/"), display="")
    assert result.packages == () and not result.complete
    [skipped] = result.skipped
    assert skipped.path == "requirements.txt" and skipped.reason is SkipReason.MALFORMED
    assert skipped.detail.startswith("its -i/--index-url URL is not usable: malformed host or port")
    assert "1 requirement(s) were not checked" in skipped.detail
    assert PASSWORD not in json.dumps([skipped.detail, *result.errors])


@pytest.mark.parametrize("as_json", [True, False])
def test_index_link_to_a_local_file_is_not_followed(tmp_path: Path, as_json: bool) -> None:
    prepare(tmp_path)
    cache = tmp_path / "cache"
    with cases.serve(cases._file_url_index(tmp_path, as_json)) as url:
        project = tmp_path / "p"
        project.mkdir()
        result = scan(tree(project, "purepkg==1.0\n"), python=options(f"{url}/simple/", cache_dir=cache),
                      display="")
    assert statuses(result) == {"purepkg": "unknown"} and not result.complete
    [skipped] = result.skipped
    assert skipped.path == "requirements.txt:1" and skipped.reason is SkipReason.INDEX_ERROR
    assert "links to a file: URL outside the index" in skipped.detail
    assert not any(SECRET.encode() in p.read_bytes() for p in cache.rglob("*") if p.is_file())


def test_file_index_links_stay_inside_its_folder(tmp_path: Path) -> None:
    root = (tmp_path / "index").as_uri() + "/"
    (tmp_path / "index").mkdir()
    assert link_allowed(root + "pkg/pkg-1.0-py3-none-any.whl", root)
    assert link_allowed("https://files.example/pkg-1.0.whl", root)
    assert not link_allowed((tmp_path / SECRET_FILE).as_uri(), root)
    assert not link_allowed(root + "pkg/../../outside/secret.txt", root)
    assert not link_allowed((tmp_path / "x").as_uri(), "https://index.example/simple/")
    assert not link_allowed("ftp://files.example/x.whl", "https://index.example/simple/")


def test_file_index_is_read_offline_and_never_cached(tmp_path: Path) -> None:
    wheels = Path(__file__).resolve().parent.parent / "fixtures" / "pyindex" / "files"
    page = tmp_path / "index" / "nativeok"
    page.mkdir(parents=True)
    links = []
    for name in ("nativeok-1.0-cp38-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "nativeok-1.0.tar.gz"):
        (tmp_path / "index" / name).write_bytes((wheels / name).read_bytes())
        links.append(f'<a href="../{name}">{name}</a>\n')
    outside = f'<a href="{(tmp_path / SECRET_FILE).as_uri()}">x-1.0.tar.gz</a>\n'
    (page / "index.html").write_text("".join(links) + outside)
    prepare(tmp_path)
    project = tmp_path / "p"
    project.mkdir()
    cache = tmp_path / "cache"
    url = (tmp_path / "index").as_uri() + "/"
    result = scan(tree(project, "nativeok==1.0\n"), python=options(url, cache_dir=cache, offline=True), display="")
    assert statuses(result) == {"nativeok": "unknown"}  # the link outside the index's folder
    (page / "index.html").write_text("".join(links))
    result = scan(tree(project, "nativeok==1.0\n"), python=options(url, cache_dir=cache, offline=True), display="")
    assert statuses(result) == {"nativeok": "ready"} and result.complete
    assert [p for p in cache.rglob("*") if p.is_file()] == []


# Item 2: servers that drip; item 3: answers that crashed


def _fetch_error(respond: cases.Respond, timeout: float = 1.0) -> tuple[str, float]:
    with cases.serve(respond) as url:
        started = time.monotonic()
        with pytest.raises(FetchError) as raised:
            Fetcher(timeout=timeout, retries=2, backoff=0.01).get(f"{url}/simple/purepkg/")
        return str(raised.value), time.monotonic() - started


@pytest.mark.parametrize("headers_too", [False, True])
def test_dripping_index_times_out_once(headers_too: bool) -> None:
    message, seconds = _fetch_error(cases._dripping_index(headers_too))
    assert message.endswith("no complete answer within 1 s")
    assert seconds < 10  # each byte came within the timeout: without a deadline this took minutes


@pytest.mark.parametrize(("kind", "reason"), [
    ("status-line", "BadStatusLine: HTTP/1.1 two hundred OK"),
    ("headers", "HTTPException: got more than 100 headers"),
])
def test_broken_http_answers_are_fetch_errors(kind: str, reason: str) -> None:
    message, _ = _fetch_error(cases._broken_index(kind))
    assert message.endswith(f"purepkg/: not a valid HTTP answer ({reason})")


def test_deeply_nested_index_page_is_an_index_error() -> None:
    body = b'{"files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(IndexError_, match="nested too deeply"):
        parse_json(body, "https://index.example/simple/x/", "index")


def test_dripping_vulnerability_service_is_given_up_on() -> None:
    def respond(path: str, conn: socket.socket, stop: threading.Event) -> None:
        body = b'{"vulns": []}' + b" " * 100
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode())
        cases.drip(conn, body, stop)

    with cases.serve(respond) as url:
        started = time.monotonic()
        with pytest.raises(AuditUnavailable, match="OSV gave no complete answer within 1 s"):
            Auditor(osv_url=f"{url}/v1/query", timeout=1.0).vulnerabilities("purepkg", Version("1.0"))
        assert time.monotonic() - started < 10


def _registry(url: str, timeout: float = 1.0) -> RegistryClient:
    host = url.removeprefix("http://")
    return RegistryClient(parse_registry(f"{host}/team/base:1.0"), insecure=True, timeout=timeout, retries=2)


def test_dripping_registry_times_out_once() -> None:
    with cases.serve(cases._dripping_registry) as url:
        started = time.monotonic()
        with pytest.raises(RegistryError, match=r"unreachable or failing \(no complete answer within 1 s\)"):
            _registry(url).root()
        assert time.monotonic() - started < 10


@pytest.mark.parametrize("kind", ["status-line", "headers"])
def test_broken_registry_answers_are_registry_errors(kind: str) -> None:
    with cases.serve(cases._broken_index(kind)) as url:
        client = _registry(url)
        with pytest.raises(RegistryError, match=rf"^{client.label}: registry \S+ unreachable or failing \("):
            client.root()


def test_registry_blob_may_take_long_but_no_read_may_stall() -> None:
    def respond(path: str, conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
        for delay in (0.6, 0.6, 0.6, 3):  # 1.8 s in all for the first three reads, then a stall
            if stop.wait(delay):
                return
            conn.sendall(b"x" * 10)

    with cases.serve(respond) as url:
        descriptor = Descriptor("application/octet-stream", "sha256:" + "0" * 64, 40)
        with _registry(url).blob(descriptor) as stream:
            assert [stream.read(10) for _ in range(3)] == [b"x" * 10] * 3
            with pytest.raises(RegistryError, match="no complete answer within 1 s"):
                stream.read(10)


# Item 3: saved results


@pytest.mark.parametrize(("kind", "message"), [
    ("list", "the top level is a JSON list, not an object"),
    ("string", "the top level is a JSON string, not an object"),
    ("rules-list", "rules: must be of type object"),
    ("advice-list", "rules/ARM-X-Y/advice: must be of type object"),
])
def test_saved_result_that_is_not_one(tmp_path: Path, kind: str, message: str) -> None:
    saved = tmp_path / f"{kind}.json"
    saved.write_text(cases._bad_result(kind))
    with pytest.raises(ResultError) as raised:
        load(saved)
    assert str(raised.value) == f"{saved}: not an armscan JSON result: {message}"
    proc = run_cli("report", str(saved))
    assert proc.returncode == 2 and proc.stderr == f"error: {saved}: not an armscan JSON result: {message}\n"


def test_saved_result_with_a_finding_of_an_undescribed_rule(tmp_path: Path) -> None:
    doc = json.loads(cases._bad_result("advice-list"))
    doc["rules"] = {}
    (tmp_path / "r.json").write_text(json.dumps(doc))
    with pytest.raises(ResultError, match="findings/0: rule ARM-X-Y is not described under rules"):
        load(tmp_path / "r.json")


# Item 5: not "ready" for what was not checked


def test_missing_and_unmatched_packages_are_not_ready(index: IndexServer, tmp_path: Path) -> None:
    result = scan(tree(tmp_path, "nope-private\npurepkg==99.0\n"), python=options(f"{index.url}/simple/"),
                  display="")
    assert statuses(result) == {"nope-private": "missing", "purepkg": "no-match"} and result.complete
    assert sorted(f.rule_id for f in result.findings) == ["ARM-PY-NO-MATCHING-RELEASE", "ARM-PY-NOT-ON-INDEX"]
    plan = build_plan(result)
    assert plan.verdict == "unknown"
    assert plan.reason == "2 packages the index had no release of to judge (nope-private, purepkg)"


def test_index_answering_404_for_everything_is_an_index_error(tmp_path: Path) -> None:
    with cases.serve(cases._index_of_404s) as url:
        result = scan(tree(tmp_path, "purepkg==1.0\n"), python=options(f"{url}/wrong/"), display="")
    assert statuses(result) == {"purepkg": "unknown"} and not result.complete
    assert result.findings == ()
    [skipped] = result.skipped
    assert skipped.reason is SkipReason.INDEX_ERROR
    assert skipped.detail.endswith("not found (404) for the index itself; check the index URL")


def test_base_image_registry_timeout_makes_the_scan_incomplete(ruleset: RuleSet, tmp_path: Path) -> None:
    with cases.serve(cases._slow_registry) as url:
        host = url.removeprefix("http://")
        (tmp_path / "Dockerfile").write_text(f"FROM {host}/team/base:1.0\n")
        entry = FileEntry(str(tmp_path / "Dockerfile"), "Dockerfile", 30, str(tmp_path))
        done = docker_phase.run([entry], ruleset, RegistrySettings(insecure=frozenset({host}), timeout=1))
    assert done.findings == []
    [skipped] = done.skipped
    assert skipped.path == "Dockerfile:1" and skipped.reason is SkipReason.INDEX_ERROR
    assert done.errors == [skipped.detail] and "no complete answer within 1 s" in skipped.detail


# Item 4: signals


def _busy_tree(root: Path) -> Path:
    """A tree that takes two workers well over ten seconds: 2,000 sources full of x86 intrinsics."""
    body = "#include <immintrin.h>\n__m128 x = _mm_add_ps(a, b);\nasm(\"cpuid\");\n" * 200
    for number in range(2000):
        folder = root / f"d{number % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{number}.c").write_text(body)
    return root


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_stops_the_workers_and_writes_partial_results(tmp_path: Path, signum: signal.Signals) -> None:
    source = _busy_tree(tmp_path / "tree")
    out = tmp_path / "result.json"
    proc = subprocess.Popen([armscan_exe(), "scan", str(source), "--jobs", "2", "--offline", "-q", "--json",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        workers: list[int] = []
        for _ in range(300):  # the two workers exist once the walk is done and the pool started
            workers = _children(proc.pid)
            if len(workers) >= 2:
                break
            time.sleep(0.1)
        assert len(workers) >= 2, "the scan never started its workers"
        time.sleep(1.0)
        os.kill(proc.pid, signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 3, stderr
    name = signal.Signals(signum).name
    assert stderr.decode() == f"error: interrupted by {name} before every file was analyzed; the results are partial\n"
    result = json.loads(out.read_text())
    assert result["complete"] is False and result["stats"]["files_analyzed"] < result["stats"]["files_seen"]
    time.sleep(0.2)
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []


def test_a_file_index_follows_links_inside_its_mirror_only(tmp_path: Path) -> None:
    from armscan.python.http import link_allowed

    simple = tmp_path / "repo" / "simple"
    (simple / "six").mkdir(parents=True)
    (tmp_path / "repo" / "files").mkdir()
    index = simple.as_uri() + "/"
    assert link_allowed((tmp_path / "repo" / "files" / "six-1.0-py3-none-any.whl").as_uri(), index)
    assert link_allowed((simple / "six" / "six-1.0-py3-none-any.whl").as_uri(), index)
    assert not link_allowed((tmp_path / "secret.txt").as_uri(), index)
    assert not link_allowed("file:///etc/shadow", index)
    assert not link_allowed("file:///etc/shadow", "https://index.example/simple/")
    flat = tmp_path / "wheels"
    flat.mkdir()
    assert not link_allowed((tmp_path / "repo" / "files" / "x.whl").as_uri(), flat.as_uri() + "/")
