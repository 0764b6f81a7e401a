"""Text from scanned input made safe for the medium it is written to.

File and member names, messages that quote them, and errors are the attacker's words in a pull-request gate.
On a terminal or in a CI log a name must not move the cursor, recolour the screen, start a new line or start a
CI workflow command (GitHub Actions reads a line that begins, after spaces, with `::` or `##[` as one). In
Markdown it must not become a link, an image, HTML or a new table row.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode marks that reorder or break lines when displayed
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_WORKFLOW_COMMAND = re.compile(r"^(\s*)(::|##\[)")
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+\-.!|<>~:@&$=^]")


def printable(text: str) -> str:
    """Controls and reordering marks as visible escapes; bytes that were not UTF-8 as \\xNN."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                       text)


def terminal(text: str) -> str:
    """One line of text for a terminal or CI log: printable, and never the start of a workflow command."""
    return _WORKFLOW_COMMAND.sub(lambda m: m.group(1) + ("\\x3a:" if m.group(2) == "::" else "\\x23#["),
                                 printable(text))


def markdown(text: str) -> str:
    """Plain Markdown text: every mark that Markdown or GitHub reads as syntax as a numeric entity, so nothing
    in it is markup, HTML, math, a link, an autolink (no `:`, `.` or `@` is left to trigger one) or a table
    cell boundary."""
    return _MARKDOWN_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", printable(text))


def markdown_code(text: str) -> str:
    """A code span that holds the text whatever backticks it contains; `|` escaped for table cells."""
    text = printable(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"
