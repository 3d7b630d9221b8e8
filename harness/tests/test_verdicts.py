"""One verdict vocabulary: the verdicts' names are spelled only in
core/verdicts.py (the enum and its meaning table); everything else names
Verdict.PASS, not "PASS", so the store, the reports, the exports and the
layers cannot drift apart."""

from __future__ import annotations

import ast
from pathlib import Path

from uafault_harness.core import known
from uafault_harness.core.verdicts import VERDICTS, Verdict, ktap_directive

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "harness" / "uafault_harness"
HOME = PACKAGE / "core" / "verdicts.py"
NAMES = frozenset(v.value for v in Verdict)


def _python_files() -> list[Path]:
    bench = [p for p in sorted((ROOT / "bench").iterdir())
             if p.is_file() and p.read_text(errors="replace").startswith("#!/usr/bin/env python3")]
    return sorted(PACKAGE.rglob("*.py")) + bench


def test_verdict_names_are_spelled_only_in_the_enum_module() -> None:
    spelled = []
    for path in _python_files():
        if path == HOME:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in NAMES:
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not spelled, "say Verdict.X (core/verdicts.py), not the bare name:\n" + "\n".join(spelled)


def test_the_enum_is_the_stored_text_and_has_one_meaning_each() -> None:
    assert set(VERDICTS) == set(Verdict)
    for verdict in Verdict:
        assert verdict == verdict.value and f"{verdict}" == verdict.value and verdict.meaning is VERDICTS[verdict]
    # Exactly one thing in the package is called Verdict.
    defined = [f"{p.relative_to(PACKAGE)}" for p in sorted(PACKAGE.rglob("*.py"))
               for node in ast.walk(ast.parse(p.read_text()))
               if isinstance(node, ast.ClassDef) and node.name == "Verdict"]
    assert defined == ["core/verdicts.py"]


def test_xfail_is_spelled_as_the_c_side_prints_it() -> None:
    # module/uafault_known.h's UAFAULT_KNOWN_XFAIL, after KTAP's "# SKIP".
    assert ktap_directive(Verdict.XFAIL) == f" # SKIP {known.markers().xfail}"
    assert known.xfail_reason(ktap_directive(Verdict.XFAIL)) == ""
    assert [ktap_directive(v) for v in Verdict if VERDICTS[v].ktap_ok] == \
        [" # SKIP set-up failed", " # SKIP XFAIL", "", " # SKIP"]


def test_the_raw_to_verdict_decision() -> None:
    assert Verdict.of_result(crashed=True, unresolved=True, xfail=True, skipped=True, failed=True) is Verdict.CRASH
    assert Verdict.of_result(crashed=False, unresolved=True, xfail=False, skipped=True, failed=False) \
        is Verdict.UNRESOLVED
    assert Verdict.of_result(crashed=False, unresolved=False, xfail=True, skipped=True, failed=False) is Verdict.XFAIL
    assert Verdict.of_result(crashed=False, unresolved=False, xfail=False, skipped=True, failed=False) is Verdict.SKIP
    assert Verdict.of_result(crashed=False, unresolved=False, xfail=False, skipped=False, failed=True) is Verdict.FAIL
    assert Verdict.of_result(crashed=False, unresolved=False, xfail=False, skipped=False, failed=False) \
        is Verdict.PASS
    assert Verdict.of_death(True) is Verdict.TIMEOUT and Verdict.of_death(False) is Verdict.CRASH
    assert [v.expected(strict=True) for v in Verdict] == [
        Verdict.XFAIL, Verdict.XFAIL, Verdict.XFAIL, Verdict.XFAIL, Verdict.UNRESOLVED, Verdict.XFAIL,
        Verdict.XPASS, Verdict.SKIP]
    assert Verdict.PASS.expected(strict=False) is Verdict.PASS
