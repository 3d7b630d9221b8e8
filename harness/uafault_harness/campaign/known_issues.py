"""Known issues: bugs a campaign is expected to hit.  The kernel's own are
the records of module/uafault_known.h (core/known.py); uafault's buggy
variants and a user's own are [[issue]] tables (configs/known-issues.toml,
a campaign's `known_issues` file).  A matching case that fails is XFAIL,
one that passes XPASS (the bug is gone), or, not strict, stays PASS."""

from __future__ import annotations

import fnmatch
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..core import known
from ..core.errors import ExitCode, HarnessError
from ..core.verdicts import Verdict
from .spec import Case, SpecError

KNOWN_ISSUES = Path("configs/known-issues.toml")
_ISSUE_KEYS = ("kernel", "variant", "target", "fault", "reason")


@dataclass(frozen=True)
class KnownIssue:
    kernel: str
    target: str
    fault: str
    reason: str
    # False: the bug shows only under some fault plans, so a pass of a
    # matching case stays PASS instead of becoming XPASS.
    strict: bool = True

    def matches(self, case: Case) -> bool:
        return all(fnmatch.fnmatchcase(value, glob) for value, glob in
                   ((case.kernel, self.kernel), (case.target, self.target), (case.fault, self.fault)))


def load_known_issues(path: Path) -> tuple[KnownIssue, ...]:
    """[[issue]] tables: globs over kernel, target and fault (default "*")
    and the reason, which should name the bug.  A missing file is no issues."""
    if not path.is_file():
        return ()
    text = path.read_text(errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(ExitCode.BAD_CONFIG, f"{path}: not valid TOML: {exc}") from None
    issues = data.get("issue", [])
    if set(data) - {"issue"} or not isinstance(issues, list):
        raise SpecError(path, None, "issue", "the file holds [[issue]] tables only")
    out: list[KnownIssue] = []
    for number, issue in enumerate(issues, 1):
        where = _nth_table_line(text, "issue", number)
        for key, value in issue.items():
            if key == "strict":
                if type(value) is not bool:
                    raise SpecError(path, where, key, f"issue {number}: must be true or false")
            elif key not in _ISSUE_KEYS or not isinstance(value, str) or not value:
                raise SpecError(path, where, key, f"issue {number}: keys are {', '.join(_ISSUE_KEYS)} "
                                "(non-empty strings) and strict (true or false)")
        if "reason" not in issue or "target" not in issue:
            raise SpecError(path, where, "reason" if "reason" not in issue else "target",
                            f"issue {number}: target and reason are required")
        if "variant" in issue:
            print(f"{path}:{where}: variant: deprecated, say kernel", file=sys.stderr)
        out.append(KnownIssue(issue.get("kernel", issue.get("variant", "*")), issue["target"], issue.get("fault", "*"),
                              issue["reason"], issue.get("strict", True)))
    return tuple(out)


def record_reason(record_id: str) -> str:
    """A verdict's reason for a known deviation the agent saw itself."""
    return known.by_id()[record_id].reason


def record_issues(records: tuple[known.Record, ...] | None = None) -> tuple[KnownIssue, ...]:
    """The kernel's known bugs (module/uafault_known.h) as campaign issues:
    one per "issue:" case glob ("target.fault") of a record.  Not strict: a
    bug a fault plan must reach passes on the plans that miss it."""
    out: list[KnownIssue] = []
    for kernel, glob, reason in known.issue_globs(records):
        target, _, fault = glob.rpartition(".")
        out.append(KnownIssue(kernel, target or glob, fault if target else "*", reason, False))
    return tuple(out)


def shipped_known_issues(project: Path) -> tuple[KnownIssue, ...]:
    """uafault's own: the kernel's records, then configs/known-issues.toml."""
    return record_issues() + load_known_issues(project / KNOWN_ISSUES)


def case_globs(issues: tuple[KnownIssue, ...], kernel: str) -> tuple[str, ...]:
    """The agent's --known-issue globs ("target.kind") for a guest run
    of kernel: the issues whose kernel glob takes it."""
    return tuple(f"{i.target}.{i.fault}" for i in issues if fnmatch.fnmatchcase(kernel, i.kernel))


def _nth_table_line(text: str, name: str, n: int) -> int | None:
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
    seen = 0
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            seen += 1
            if seen == n:
                return number
    return None


def expected_verdict(raw: str, case: Case, known: tuple[KnownIssue, ...]) -> tuple[Verdict, str]:
    """The verdict with the case's known issue, if any (Verdict.expected:
    a failure becomes XFAIL, a pass XPASS, the bug gone: take it off the
    list).  Returns (verdict, reason): the issue's when it changed it."""
    verdict = Verdict(raw)
    issue = next((i for i in known if i.matches(case)), None)
    if issue is None or (expected := verdict.expected(issue.strict)) is verdict:
        return verdict, ""
    return expected, issue.reason
