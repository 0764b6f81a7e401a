"""The HTML report in real headless Chromium (Debian's chromium, driven by Playwright): it loads without
console errors, the filters change what is shown, hostile file names stay text, and 20,000 findings work."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from armscan.model import Confidence, Effort, Finding, Location, PortStatus, Severity, WorkKind
from armscan.reporters import html_report
from tests.conftest import DEMO, run_cli, scan
from tests.registry import ensure_tools

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ensure_tools("chromium", packages=("chromium",))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        yield launched
        launched.close()


def open_page(browser: Any, path: Path) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 2000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(path.as_uri())
    return page, problems


def count(page: Any) -> str:
    return str(page.locator("#finding-count").text_content())


def test_demo_report_loads_and_filters(browser: Any, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    run_cli("scan", str(DEMO), "--offline", "--no-index", "--html", str(report), "-q")
    page, problems = open_page(browser, report)
    assert count(page) == "23 of 23 findings"
    page.select_option("#f-scope", "other")  # the benchmark, not part of the product
    assert count(page) == "1 of 23 findings"
    assert "not part of the product: bench" in str(page.locator("#finding-rows tr").first.text_content())
    page.select_option("#f-scope", "product")
    assert count(page) == "22 of 23 findings"
    page.select_option("#f-scope", "")
    page.select_option("#f-severity", "blocker")
    assert count(page) == "10 of 23 findings"
    assert page.locator("#finding-rows tr").count() == 10
    page.select_option("#f-severity", "")
    page.fill("#f-search", "mixer.c")
    assert count(page) == "5 of 23 findings"
    page.fill("#f-search", "mixer")  # and platform.h, whose #error line names the mixer
    assert count(page) == "6 of 23 findings"
    page.fill("#f-search", "")
    page.select_option("#f-status", "ported")
    assert count(page) == "6 of 23 findings"
    assert set(page.locator("#finding-rows tr").evaluate_all("rows => rows.map(r => r.dataset.severity)")) == {"info"}
    page.select_option("#f-status", "")
    page.select_option("#f-kind", "fix-build")
    assert count(page) == "2 of 23 findings"
    page.select_option("#f-kind", "")
    page.fill("#f-path", "tools/")
    page.select_option("#f-sort", "path")
    assert page.locator("#finding-rows tr td.path").first.text_content().endswith("tools/checksum_amd64.go:1")
    assert page.locator("#not-product").count() == 1  # the benchmark's work, apart from the product's
    assert page.locator("details.plan-item").count() == 14 and page.locator("svg rect").count() >= 5
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert problems == []


def test_a_file_named_like_a_script_is_shown_as_text(browser: Any, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    name = "<img src=x onerror=alert(2)><script>alert(1)<script>.c"
    (tree / name).write_text("#include <immintrin.h>\n")
    report = tmp_path / "report.html"
    run_cli("scan", str(tree), "--offline", "--no-index", "--html", str(report), "-q")
    page, problems = open_page(browser, report)
    cells = page.locator("#finding-rows td.path").all_text_contents()
    assert cells == [f"{tree}/{name}:1"]
    assert page.locator("img").count() == 0
    assert problems == []  # no alert dialog, no CSP violation


def test_twenty_thousand_findings_render_and_filter(browser: Any, tmp_path: Path) -> None:
    result = scan(DEMO, display="demo")
    findings = tuple(Finding("ARM-C-INTRIN-CALL", "t", (Severity.HIGH, Severity.LOW)[i % 2], Confidence.HIGH,
                             Effort.SMALL, WorkKind.PORT_SOURCE, f"message {i}", "advice",
                             Location(f"src/m{i // 100}/f{i}.c", i % 500 + 1), (), PortStatus.UNPORTED)
                     for i in range(20_000))
    from dataclasses import replace

    big = replace(result, findings=findings, rules=tuple(r for r in result.rules if r.id == "ARM-C-INTRIN-CALL"))
    report = tmp_path / "big.html"
    report.write_text(html_report.render(big, Severity.HIGH))
    page, problems = open_page(browser, report)
    assert count(page) == "20000 of 20000 findings, showing 200"
    page.select_option("#f-severity", "high")
    assert count(page) == "10000 of 20000 findings, showing 200"
    page.fill("#f-path", "src/m7/")
    assert count(page) == "50 of 20000 findings"
    page.fill("#f-path", "")
    page.click("#finding-more")
    assert page.locator("#finding-rows tr").count() == 1200
    assert problems == []
