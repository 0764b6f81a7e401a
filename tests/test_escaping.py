"""Names from the scanned input cannot drive the terminal, a CI log or a Markdown comment."""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt

from armscan.reporters.escape import markdown, markdown_code, printable, terminal
from fixtures.hostile import all_cases
from fixtures.hostile.leaks import MARKDOWN_NAME
from fixtures.hostile.runner import run_case

_COMMAND_LINE = re.compile(r"^\s*(::|##\[)", re.MULTILINE)


def test_terminal_text_is_one_inert_line() -> None:
    assert terminal("x\n::error title=a::b") == "x\\x0a::error title=a::b"
    assert terminal("::error::b") == "\\x3a:error::b"
    assert terminal("  ##[warning]b") == "  \\x23#[warning]b"
    assert terminal("\x1b[2J\u202eabc\x85") == "\\x1b[2J\\u202eabc\\x85"
    assert printable("caf\udce9") == "caf\\xe9"  # a name that was not UTF-8


def test_markdown_text_has_no_syntax_left() -> None:
    assert markdown(MARKDOWN_NAME) == "&#33;&#91;px&#93;&#40;https&#58;//evil&#46;example/p&#46;png&#41;&#46;so"
    assert markdown("<img src=x> a|b www.evil.example me@evil.example $x$") == (
        "&#60;img src&#61;x&#62; a&#124;b www&#46;evil&#46;example me&#64;evil&#46;example &#36;x&#36;")
    assert markdown_code("a`b|c") == "``a`b\\|c``"
    assert markdown_code("`x") == "`` `x ``"


def test_hostile_names_through_every_output(tmp_path: Path) -> None:
    outcome = run_case(all_cases()["names-that-inject-terminal-and-markdown"], tmp_path)
    assert outcome.exit_code == 1
    for stream in (outcome.stdout, outcome.stderr):
        assert "\x1b" not in stream and "\x07" not in stream
        assert _COMMAND_LINE.search(stream) is None, stream
    assert "ALL CLEAR.so" in outcome.stdout  # the findings are listed, escaped, not dropped
    report = (outcome.out / "report.md").read_text(encoding="utf-8")
    assert _COMMAND_LINE.search(report) is None
    assert "\x1b" not in report
    # rendered by an independent CommonMark parser with GitHub's tables: no link, image or HTML, one row a name
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(report)
    assert "<a " not in html and "<img" not in html
    outside_code = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", report)
    assert "https://" not in outside_code and "www." not in outside_code  # nothing GitHub would autolink
    table = html.split("<th>Severity</th>", 1)[1]
    assert table.count("<tr>") == 6 and table.count("<code>") == 12  # 6 rows, one a name: a rule and a path each
