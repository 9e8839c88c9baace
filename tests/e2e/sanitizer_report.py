"""Sanitizer reports in a child's stderr, for the drivers that run nestbed.

A line matching tests/sanitizer/report_patterns.txt (ASan, LeakSanitizer,
UBSan) fails the check, whatever the child's status and output: in a
sanitizer build the report ends nestbed with its own status (86), but a
driver must not rely on comparing statuses alone.

    from sanitizer_report import report_lines
    problems += [f"sanitizer report on stderr: {l}" for l in report_lines(stderr)]
"""

import re
from pathlib import Path

PATTERNS_FILE = Path(__file__).resolve().parents[1] / "sanitizer" / "report_patterns.txt"


def _load(path):
    lines = [line.strip() for line in path.read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    if not patterns:
        raise SystemExit(f"{path}: no patterns")
    return re.compile("|".join(patterns))


REPORT = _load(PATTERNS_FILE)


def report_lines(text):
    """The lines of `text` (str or bytes) that belong to a sanitizer report."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return [line for line in (text or "").splitlines() if REPORT.search(line)]


def failure(text, what="nestbed"):
    """None, or one message naming the report's first lines."""
    lines = report_lines(text)
    if not lines:
        return None
    shown = "\n  ".join(lines[:5])
    return f"sanitizer report on {what}'s stderr ({len(lines)} line(s)):\n  {shown}"
