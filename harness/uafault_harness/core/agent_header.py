"""Facts the agent's header (harness/agent/agent.h) defines for both
sides: the host reads them there instead of defining them again."""

from __future__ import annotations

import re

from .paths import PROJECT_ROOT

AGENT_HEADER = PROJECT_ROOT / "harness" / "agent" / "agent.h"
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def agent_strings(name: str) -> tuple[str, ...]:
    """The string literals of `#define name ...` (continuation lines too)."""
    lines = AGENT_HEADER.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(rf"#define {re.escape(name)}\b", line)), None)
    if start is None:
        raise RuntimeError(f"{AGENT_HEADER} defines no {name}")
    body = [lines[start]]
    while body[-1].endswith("\\"):
        body.append(lines[start + len(body)])
    return tuple(_STRING.findall("\n".join(body)))


def agent_string(name: str) -> str:
    """The one string literal of `#define name "..."`."""
    found = agent_strings(name)
    if len(found) != 1:
        raise RuntimeError(f"{AGENT_HEADER}: {name} is not one string")
    return found[0]
