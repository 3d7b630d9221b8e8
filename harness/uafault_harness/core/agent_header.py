"""Facts the agent's protocol header (harness/agent/protocol.h) defines for
both sides: the host reads them there instead of defining them again.

A value is read as the C preprocessor would join it: string literals
(adjacent ones joined, escapes decoded) and the names of other macros of
protocol.h or of the module headers it includes; a list ("a", "b") is a
tuple.  Numbers are small integer expressions of such macros."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from .paths import PROJECT_ROOT

AGENT_DIR = PROJECT_ROOT / "harness" / "agent"
PROTOCOL_HEADER = AGENT_DIR / "protocol.h"
_DEFINE = re.compile(r"^#define\s+(\w+)(?:[ \t]+(.*))?$")
_INCLUDE = re.compile(r'^#include "([^"]+)"', re.M)
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\w+)|(,)|(\S)')


def _read_defines(path: Path, seen: set[Path]) -> dict[str, str]:
    """`#define NAME body` of @path and of the local headers it includes."""
    path = path.resolve()
    if path in seen:
        return {}
    seen.add(path)
    text = path.read_text()
    out: dict[str, str] = {}
    for name in _INCLUDE.findall(text):
        out.update(_read_defines(path.parent / name, seen))
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    lines = text.replace("\\\n", " ").splitlines()
    for line in lines:
        m = _DEFINE.match(line.strip())
        if m:
            out[m.group(1)] = (m.group(2) or "").strip()
    return out


@cache
def _defines() -> dict[str, str]:
    return _read_defines(PROTOCOL_HEADER, set())


def _unescape(literal: str) -> str:
    return ast.literal_eval('"' + literal + '"')


def _items(name: str) -> tuple[str, ...]:
    """The comma-separated items of `#define name ...`, each joined."""
    defines = _defines()
    if name not in defines:
        raise RuntimeError(f"{PROTOCOL_HEADER} defines no {name}")
    items: list[str] = []
    current: list[str] = []
    for literal, ident, comma, other in _TOKEN.findall(defines[name]):
        if comma:
            items.append("".join(current))
            current = []
        elif ident:
            inner = _items(ident)
            if len(inner) != 1:
                raise RuntimeError(f"{PROTOCOL_HEADER}: {name} joins {ident}, which is not one string")
            current.append(inner[0])
        elif other:
            raise RuntimeError(f"{PROTOCOL_HEADER}: {name} is not made of strings")
        else:
            current.append(_unescape(literal))
    items.append("".join(current))
    return tuple(items)


def agent_strings(name: str) -> tuple[str, ...]:
    """The strings of `#define name "a", "b", ...` (continuation lines too)."""
    return _items(name)


def agent_string(name: str) -> str:
    """The one string of `#define name "..."` (literals and macros joined)."""
    found = _items(name)
    if len(found) != 1:
        raise RuntimeError(f"{PROTOCOL_HEADER}: {name} is not one string")
    return found[0]


# A printf conversion, and what the text it prints looks like.
_CONVERSION = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t)?([diuxsf%])")
_PRINTED = {"d": r"(-?\d+)", "i": r"(-?\d+)", "u": r"(\d+)", "x": r"([0-9a-f]+)", "s": r"(\S+)",
            "f": r"(-?\d+(?:\.\d+)?)", "%": "%"}


def agent_format(name: str) -> re.Pattern[str]:
    """The line the agent prints with the printf format `#define name`, as a
    regex to search for: each conversion a group of what it prints, the
    format's trailing newline dropped."""
    fmt = agent_string(name).rstrip("\n")
    out, pos = [], 0
    for m in _CONVERSION.finditer(fmt):
        out += [re.escape(fmt[pos:m.start()]), _PRINTED[m.group(1)]]
        pos = m.end()
    return re.compile("".join(out) + re.escape(fmt[pos:]))


def agent_option(name: str) -> str:
    """The agent's command-line option OPT_<name>, as "--name"."""
    return "--" + agent_string(f"OPT_{name}")


def agent_define(name: str) -> str:
    """The body of `#define name ...` as written (a number's expression)."""
    defines = _defines()
    if name not in defines:
        raise RuntimeError(f"{PROTOCOL_HEADER} defines no {name}")
    return defines[name]


def agent_number(name: str) -> int:
    """The value of `#define name EXPR`, EXPR integers (U/L suffixes too),
    + - * / and parentheses, and other such macros."""
    expr = agent_define(name)

    def value(m: re.Match[str]) -> str:
        word = m.group(0)
        number = re.fullmatch(r"(\d+)[uUlL]*", word)
        return number.group(1) if number else f"({agent_number(word)})"

    text = re.sub(r"\w+", value, expr)
    if not re.fullmatch(r"[\d\s()+\-*/]+", text):
        raise RuntimeError(f"{PROTOCOL_HEADER}: {name} is not a number: {expr}")
    return int(eval(text.replace("/", "//"), {"__builtins__": {}}))  # noqa: S307 - digits and operators only
