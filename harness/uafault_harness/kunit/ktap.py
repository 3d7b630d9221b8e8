"""KTAP extraction and counting, delegated to the tree's own kunit_parser
so we read results exactly as kunit.py does."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Iterator

from ..core import known
from ..core.errors import ExitCode, HarnessError
from ..core.kmsg import PRINTK_PREFIX, REPORT_START
from ..core.results import Counts
from ..core.verdicts import KtapResult, ktap_result


# kunit_tool modules we load; they import each other by bare name, so all
# of them must come from the same tree.
_TOOL_MODULES: tuple[str, ...] = ("kunit_parser", "kunit_printer", "kunit_json")


def _load_tool_module(kunit_tool_dir: Path, name: str) -> ModuleType:
    path = kunit_tool_dir / f"{name}.py"
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == path.resolve():
        return loaded
    # Drop copies from another tree so the set matches; this tree's stay
    # (a Test parsed before kunit_json was loaded must keep its statuses:
    # reloading kunit_parser made every case of the guest's kunit.json FAIL).
    for other in _TOOL_MODULES:
        mod = sys.modules.get(other)
        if mod is not None and Path(getattr(mod, "__file__", "")).resolve().parent != kunit_tool_dir.resolve():
            sys.modules.pop(other, None)
    # First on the path: another tree's tools dir may be there already.
    if str(kunit_tool_dir) in sys.path:
        sys.path.remove(str(kunit_tool_dir))
    sys.path.insert(0, str(kunit_tool_dir))
    return importlib.import_module(name)


def load_kunit_parser(kunit_tool_dir: Path) -> ModuleType:
    parser_py = kunit_tool_dir / "kunit_parser.py"
    if not parser_py.is_file():
        raise HarnessError(ExitCode.BAD_TREE, f"{parser_py} not found; is this a kernel tree?")
    return _load_tool_module(kunit_tool_dir, "kunit_parser")


def load_kunit_json(kunit_tool_dir: Path) -> ModuleType | None:
    """The tree's kunit_json (kunit.py --json), or None if it has none."""
    if not (kunit_tool_dir / "kunit_json.py").is_file():
        return None
    module = _load_tool_module(kunit_tool_dir, "kunit_json")
    # kunit_json imported kunit_parser by bare name: it must be this tree's,
    # the one loaded now (an earlier kunit_json may hold a replaced one).
    parser = load_kunit_parser(kunit_tool_dir)
    if getattr(module, "Test", None) is not parser.Test:
        sys.modules.pop("kunit_json", None)
        module = importlib.import_module("kunit_json")
    return module if getattr(module, "Test", None) is parser.Test else None


@contextlib.contextmanager
def _quiet_parser(parser: ModuleType) -> Iterator[io.StringIO]:
    """kunit.py has already printed the results; the second parse we do
    for counting must not print them again."""
    printer_mod = sys.modules["kunit_printer"]
    sink = io.StringIO()
    saved = parser.stdout
    parser.stdout = printer_mod.Printer(sink)
    try:
        yield sink
    finally:
        parser.stdout = saved


@dataclass
class ParsedRun:
    ktap_lines: list[str]
    counts: Counts
    suites: dict[str, Counts] = field(default_factory=dict)
    parse_errors: int = 0
    # kunit_parser's verdict for the whole run, e.g. SUCCESS or NO_TESTS.
    status: str = ""
    # kunit_parser's Test tree, for kunit_json and per-case lookups.
    root: Any = field(default=None, repr=False, compare=False)
    # What the cases said of the known deviations (module/uafault_known.h).
    deviations: known.Seen = field(default_factory=lambda: known.Seen({}, {}))
    # The known deviations' cases, path -> record (annotate_json).
    xfails: dict[tuple[str, ...], str] = field(default_factory=dict)


def _leaves(test: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    # Parameterised cases are tests with subtests; their parameters are
    # the leaves and each one counts as a case.
    path = path + (test.name,)
    if not test.subtests:
        yield path, test
        return
    for sub in test.subtests:
        yield from _leaves(sub, path)


def _walk(lines: Iterable[str]) -> Iterator[tuple[str, list[tuple[int, str]], KtapResult | None]]:
    """Each console line without its printk prefix, the tests open at it
    ((indent, name) of each "# Subtest:", outermost first) and its result
    match, if it is a result line.  A result closes, after it is yielded,
    the tests opened deeper than it."""
    open_tests: list[tuple[int, str]] = []
    for raw in lines:
        line = PRINTK_PREFIX.sub("", raw, count=1)
        subtest = _SUBTEST.match(line)
        if subtest:
            depth = len(subtest.group(1))
            open_tests = [t for t in open_tests if t[0] < depth] + [(depth, subtest.group(2))]
        result = ktap_result(line)
        yield line, open_tests, result
        if result:
            open_tests = [t for t in open_tests if t[0] <= len(result.indent)]


def xfail_paths(lines: Iterable[str]) -> dict[tuple[str, ...], str]:
    """The cases (suite, case[, parameter] names) whose result line is a
    known deviation or a known issue, "ok N NAME # SKIP XFAIL ...", and the
    record each names ("" for none).  The tree's parser keeps no skip
    reason, so the lines are read here."""
    out: dict[tuple[str, ...], str] = {}
    for line, open_tests, result in _walk(lines):
        record = known.xfail_reason(result.reason) if result and result.ok and result.skipped else None
        if result and record is not None:
            out[tuple(name for d, name in open_tests if d <= len(result.indent)) + (result.name,)] = record
    return out


def annotate_json(text: str, xfails: dict[tuple[str, ...], str]) -> str:
    """kunit.py's JSON (KernelCI's test API: PASS, FAIL, SKIP, ERROR) with
    each known deviation's case, a SKIP there, marked "xfail": its record
    (or true for a known issue that names none)."""
    if not xfails:
        return text
    root = json.loads(text)

    def walk(group: dict[str, Any], path: tuple[str, ...]) -> None:
        for case in group.get("test_cases", []):
            record = xfails.get(path + (case.get("name", ""),))
            if record is not None:
                case["xfail"] = record or True
        for sub in group.get("sub_groups", []):
            walk(sub, path + (sub.get("name", ""),))

    for suite in root.get("sub_groups", []):
        walk(suite, (suite.get("name", ""),))
    return json.dumps(root, indent=4)


# Whether a case (skipped?, its diagnostic lines) could not be set up: a
# reader of KTAP that has such cases (the guest's agent) says how to tell.
Unresolved = Callable[[bool, list[str]], bool]


def _never(skipped: bool, notes: list[str]) -> bool:
    return False


def _count_leaves(parser: ModuleType, test: Any, unresolved_case: Unresolved,
                  xfails: dict[tuple[str, ...], str]) -> Counts:
    raw = parser.TestCounts()
    unresolved = xfail = 0
    for path, leaf in _leaves(test):
        skipped = leaf.status == parser.TestStatus.SKIPPED
        if unresolved_case(skipped, leaf.log):
            unresolved += 1
        elif skipped and path in xfails:
            xfail += 1
        else:
            raw.add_status(leaf.status)
    return Counts(passed=raw.passed, failed=raw.failed, skipped=raw.skipped, crashed=raw.crashed,
                  unresolved=unresolved, xfail=xfail)


def parse_console(console_lines: Iterable[str], kunit_tool_dir: Path,
                  unresolved: Unresolved = _never) -> ParsedRun:
    parser = load_kunit_parser(kunit_tool_dir)
    lines = list(console_lines)
    with _quiet_parser(parser):
        ktap = list(parser.extract_tap_lines(lines))
        root = parser.parse_run_tests(lines)
    counts = Counts()
    suites: dict[str, Counts] = {}
    xfails = xfail_paths(lines)
    # An unparsable run yields a root with no subtests; counting it as a
    # leaf would invent a crashed "test".
    for suite in root.subtests:
        suite_counts = _count_leaves(parser, suite, unresolved, xfails)
        suites[suite.name] = suite_counts
        counts.add(suite_counts)
    return ParsedRun(
        ktap_lines=ktap,
        counts=counts,
        suites=suites,
        parse_errors=int(root.counts.errors),
        status=str(root.status.name),
        root=root,
        deviations=known.seen_in(lines),
        xfails=xfails,
    )


def judge_cases(parsed: ParsedRun, no_ktap: str) -> tuple[ExitCode, str] | None:
    """The verdict the parsed cases alone give (no KTAP, none ran, a crash,
    a failure), or None when every case passed or skipped; each layer adds
    its own checks after this."""
    c = parsed.counts
    if not parsed.ktap_lines:
        return ExitCode.RUN_FAILED, no_ktap
    if c.total == 0:
        return ExitCode.RUN_FAILED, "no cases ran"
    if c.crashed:
        return ExitCode.RUN_FAILED, f"{c.crashed} case(s) crashed"
    if c.failed:
        return ExitCode.TEST_FAILED, f"{c.failed} case(s) failed"
    return None


# A KUnit case that makes the kernel report on purpose says so first, in
# its log ("# <case>: uafault-expect-report ..."): kunit/smap.c's raw
# accesses oops under SMAP.
EXPECT_REPORT = "uafault-expect-report"
_SUBTEST = re.compile(r"^(\s*)# Subtest: (\S+)")


def is_result_line(line: str) -> bool:
    """A KTAP result line ("ok 3 name", "not ok 1 name # SKIP ..."): the
    end of a case, and of any report it announced."""
    return ktap_result(line) is not None


@dataclass(frozen=True)
class CaseReport:
    """A kernel report made while a case ran, and how the case ended."""
    suite: str
    case: str
    title: str
    outcome: str    # "passed", "skipped" or "failed", as KTAP said
    xfail: bool = False     # the skip is a known deviation


def reports_in_cases(console_lines: Iterable[str]) -> list[CaseReport]:
    """Each kernel report (WARNING:, BUG:, KASAN:, ...) printed while a
    case ran, charged to that case: the first result line after the
    report, the innermost case then running.  kunit.py passes a case
    whatever the kernel said during it; a report before any case (boot)
    is no case's.  A case that announced EXPECT_REPORT is left alone."""
    out: list[CaseReport] = []
    pending: str | None = None
    expecting = False
    for line, suites, result in _walk(console_lines):
        if EXPECT_REPORT in line:
            expecting = True
        if REPORT_START.match(line) and suites and pending is None and not expecting:
            pending = line.strip()
        if result and suites:
            if pending is not None:
                outcome = "failed" if not result.ok else "skipped" if result.skipped else "passed"
                xfail = result.skipped and known.xfail_reason(result.reason) is not None
                out.append(CaseReport(suites[0][1], result.name, pending, outcome, xfail))
            pending, expecting = None, False
    return out


def fail_reported_cases(parsed: ParsedRun, reports: list[CaseReport]) -> None:
    """A case that ended ok or skipped while the kernel reported a bug
    did not pass: count it failed, in its suite and in the totals."""
    for report in reports:
        counts = parsed.suites.get(report.suite)
        if counts is None or report.outcome == "failed":
            continue
        for c in (counts, parsed.counts):
            if report.outcome == "passed" and c.passed:
                c.passed -= 1
            elif report.outcome == "skipped" and report.xfail and c.xfail:
                c.xfail -= 1
            elif report.outcome == "skipped" and c.skipped:
                c.skipped -= 1
            else:
                continue
            c.failed += 1
