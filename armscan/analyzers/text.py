"""Line bookkeeping shared by the source analyzers."""

from __future__ import annotations

import bisect
import itertools


class LineIndex:
    """Maps character offsets of a text to 1-based line and column numbers."""

    def __init__(self, text: str) -> None:
        self.text = text
        # line n+1 starts one past the end of line n: running sums of the line lengths, all in C
        lengths = map(len, text.split("\n")[:-1])
        self._starts = list(itertools.accumulate(map((1).__add__, lengths), initial=0))

    @property
    def starts(self) -> list[int]:
        """Where each line starts: line n (1-based) is the bisect_right of an offset in this list."""
        return self._starts

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)

    def column_of(self, offset: int) -> int:
        return offset - self._starts[self.line_of(offset) - 1] + 1

    def line_text(self, line: int) -> str:
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self.text)
        return self.text[start:end]

    def start_of(self, line: int) -> int:
        return self._starts[line - 1]

    @property
    def line_count(self) -> int:
        return len(self._starts)


def snippet(text: str, limit: int = 200) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
