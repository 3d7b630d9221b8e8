"""The C sources depend one way, as lkdtm's do: a file-level call graph of
harness/agent/ and module/ (a function calling, or taking the address of, a
function another file defines) has no circle larger than a file and its own
header.  The graph is read from the sources the way ctags would: functions
defined at brace depth 0, identifiers used inside their bodies."""

from __future__ import annotations

import re
from pathlib import Path

from uafault_harness.core.paths import PROJECT_ROOT

# Not function names, though a parenthesis follows them.
_KEYWORDS = frozenset({"if", "for", "while", "switch", "return", "sizeof", "do", "else", "case",
                       "typeof", "__typeof__", "defined", "_Static_assert", "static_assert",
                       "__attribute__", "asm", "__asm__", "offsetof"})
_HEAD = re.compile(r"(\w+)\s*\([^;{}]*\)\s*(?:__\w+(?:\([^)]*\))?\s*)*$")
TREES = ("harness/agent", "module", "module/example", "module/variants")


def _strip(text: str) -> str:
    """Comments, string and character literals, and preprocessor lines
    (a macro's body is not a function's) blanked, lines kept."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', text)
    text = re.sub(r"'(?:[^'\\\n]|\\.)*'", "0", text)
    out, continued = [], False
    for line in text.split("\n"):
        directive = continued or line.lstrip().startswith("#")
        continued = directive and line.endswith("\\")
        out.append("" if directive else line)
    return "\n".join(out)


def functions(text: str) -> list[tuple[str, str]]:
    """(name, body) of each function defined at brace depth 0 of @text."""
    text = _strip(text)
    found, depth, top, head, start = [], 0, 0, None, 0
    for i, c in enumerate(text):
        if c == "{":
            if depth == 0:
                head, start = _HEAD.search(text[top:i]), i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                if head and head.group(1) not in _KEYWORDS:
                    found.append((head.group(1), text[start:i + 1]))
                top = i + 1
        elif c == ";" and depth == 0:
            top = i + 1
    return found


def file_graph(sources: dict[str, str]) -> dict[str, dict[str, set[str]]]:
    """node -> node -> {"caller->callee"}; foo.c and foo.h are node foo."""
    defined: dict[str, set[str]] = {}
    bodies = []
    for path, text in sources.items():
        node = str(Path(path).with_suffix(""))
        for name, body in functions(text):
            defined.setdefault(name, set()).add(node)
            bodies.append((node, name, body))
    edges: dict[str, dict[str, set[str]]] = {}
    for node, name, body in bodies:
        for ident in set(re.findall(r"\b[A-Za-z_]\w*\b", body)):
            for owner in defined.get(ident, set()) - {node}:
                edges.setdefault(node, {}).setdefault(owner, set()).add(f"{name}->{ident}")
    return edges


def circles(edges: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """The strongly connected components of more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = stack[stack.index(v):]
            del stack[stack.index(v):]
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    return out


def _tree(rel: str) -> dict[str, str]:
    root = PROJECT_ROOT / rel
    return {str(p.relative_to(PROJECT_ROOT)): p.read_text() for p in sorted(root.iterdir())
            if p.suffix in (".c", ".h")}


def test_the_reader_finds_a_circle_and_the_calls_that_make_it() -> None:
    sources = {
        "a.c": '#include "b.h"\nstatic int helper(void)\n{\n\treturn 1;\n}\n\n'
               "int a_run(void)\n{\n\t/* b_run() in a comment is no call */\n\treturn b_run() + helper();\n}\n",
        "a.h": "int a_run(void);\n",
        "b.c": 'int b_run(void)\n{\n\tif (x)\n\t\treturn c_run();\n\tputs("a_run()");\n\treturn 0;\n}\n',
        "c.c": "static const struct ops o = { .run = a_run };\nint c_run(void)\n{\n\treturn o.run == a_run;\n}\n",
    }
    edges = file_graph(sources)
    assert edges == {"a": {"b": {"a_run->b_run"}}, "b": {"c": {"b_run->c_run"}}, "c": {"a": {"c_run->a_run"}}}
    assert circles(edges) == [["a", "b", "c"]]
    del sources["c.c"]
    assert circles(file_graph(sources)) == []


def test_no_call_circle_beyond_a_file_and_its_header() -> None:
    found = []
    for rel in TREES:
        edges = file_graph(_tree(rel))
        for circle in circles(edges):
            calls = [f"{a} -> {b}: {', '.join(sorted(edges[a][b])[:3])}"
                     for a in circle for b in circle if b in edges.get(a, {})]
            found.append(f"{rel}: {' '.join(Path(n).name for n in circle)}\n  " + "\n  ".join(calls))
    assert not found, "\n".join(found)
