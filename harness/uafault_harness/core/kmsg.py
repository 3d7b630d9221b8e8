"""What a kernel console line says: its printk prefix, and whether it
starts a kernel report.  The guest layer and the KUnit layers both read
consoles with these."""

from __future__ import annotations

import re

from .agent_header import agent_strings

# "[   12.345678]" plus an optional caller id "[  T123]" / "[    C1]".
PRINTK_PREFIX = re.compile(r"^\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])?\s?")
PRINTK_ANYWHERE = re.compile(r"\[\s*\d+\.\d{6}\]")
# The seconds since boot a console line's printk prefix gives.
PRINTK_TIME = re.compile(r"^\[\s*(\d+\.\d+)\]")


def report_markers() -> tuple[str, ...]:
    """The agent's REPORT_MARKERS (harness/agent/protocol.h), their one definition."""
    return agent_strings("REPORT_MARKERS")


# Anchored at the start of the kernel message, so an agent diagnostic that
# merely quotes one of these words is never taken for a report.
REPORT_START = re.compile("^(?:" + "|".join(map(re.escape, report_markers())) + ")")
