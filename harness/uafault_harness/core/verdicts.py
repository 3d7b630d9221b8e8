"""The verdicts a case can end with, and what each one means to every
reader of it: the run's exit status, `make test`'s counts, the KTAP and
kunit.py JSON exports, KCIDB, the detection matrix and the report's
colours.  One enum, one table (worst first), and the decisions that turn
what a guest said into a verdict; everything else imports them.

Verdict is a StrEnum: a member is the very text the store's verdicts
table, the exports and the console have always held ("PASS", "XFAIL"),
so it compares, hashes, binds in SQL and encodes in JSON as that text."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .agent_header import agent_string
from .results import Counts


class Verdict(enum.StrEnum):
    CRASH = "CRASH"
    TIMEOUT = "TIMEOUT"
    FAIL = "FAIL"
    XPASS = "XPASS"
    # The agent could not establish the case's precondition (a swap-out, a
    # userfaultfd, a fork, a pin), so the target was not judged.
    UNRESOLVED = "UNRESOLVED"
    XFAIL = "XFAIL"
    PASS = "PASS"
    SKIP = "SKIP"

    @property
    def meaning(self) -> Meaning:
        return VERDICTS[self]

    @property
    def bad(self) -> bool:
        return VERDICTS[self].bad

    @classmethod
    def of_result(cls, *, crashed: bool, unresolved: bool, xfail: bool, skipped: bool, failed: bool) -> Verdict:
        """A case's verdict from its result line: a kernel report during it
        is a crash; then a set-up failure, a known deviation the agent saw
        itself ("# SKIP XFAIL ..."), a skip, a failure, a pass."""
        if crashed:
            return cls.CRASH
        if unresolved:
            return cls.UNRESOLVED
        if xfail:
            return cls.XFAIL
        if skipped:
            return cls.SKIP
        return cls.FAIL if failed else cls.PASS

    @classmethod
    def of_death(cls, timed_out: bool) -> Verdict:
        """The case in flight when the guest hung (the watchdog) or died."""
        return cls.TIMEOUT if timed_out else cls.CRASH

    def expected(self, strict: bool) -> Verdict:
        """The verdict when a known issue matches the case: it turns a
        failure into XFAIL and a pass into XPASS (the bug is gone), or, not
        strict, leaves a pass as it is; a skip, a set-up failure or an
        XFAIL stays."""
        if self in (Verdict.SKIP, Verdict.UNRESOLVED, Verdict.XFAIL) or (self is Verdict.PASS and not strict):
            return self
        return Verdict.XPASS if self is Verdict.PASS else Verdict.XFAIL


@dataclass(frozen=True)
class Meaning:
    # Fails the run (campaign exit status, the report's "new failures").
    bad: bool
    # The Counts field `make test` adds it to.
    counts_as: str
    # The KTAP result: "ok" or "not ok" (its directive: ktap_directive()).
    ktap_ok: bool
    # kunit.py --json status and KCIDB v4 status.
    kunit: str
    kcidb: str
    # A variant's case that ends so caught its bug; a twin's may end so.
    catches: bool
    twin_ok: bool
    colour: str


# KCIDB has no CRASH or XFAIL: a crash is a FAIL (its title in misc), an
# expected failure a FAIL that is waived, a timeout an ERROR, and so is a
# case that could not be set up (the test, not the kernel, failed to run).
_ERROR = "ERROR"
VERDICTS: dict[Verdict, Meaning] = {
    #                          bad    counts_as   ktap_ok kunit  kcidb  catches twin_ok colour
    Verdict.CRASH: Meaning(True, "crashed", False, _ERROR, "FAIL", True, False, "#c0392b"),
    Verdict.TIMEOUT: Meaning(True, "crashed", False, _ERROR, _ERROR, True, False, "#e67e22"),
    Verdict.FAIL: Meaning(True, "failed", False, "FAIL", "FAIL", True, False, "#e74c3c"),
    Verdict.XPASS: Meaning(True, "failed", False, "FAIL", "PASS", False, False, "#8e44ad"),
    Verdict.UNRESOLVED: Meaning(False, "unresolved", True, "SKIP", _ERROR, False, True, "#f1c40f"),
    Verdict.XFAIL: Meaning(False, "xfail", True, "PASS", "FAIL", True, False, "#95a5a6"),
    Verdict.PASS: Meaning(False, "passed", True, "PASS", "PASS", False, True, "#27ae60"),
    Verdict.SKIP: Meaning(False, "skipped", True, "SKIP", "SKIP", False, True, "#d5dbdb"),
}
# Worst first: a report cell takes the colour of its worst verdict.
ORDER: tuple[Verdict, ...] = tuple(VERDICTS)
BAD: frozenset[Verdict] = frozenset(v for v, m in VERDICTS.items() if m.bad)

# KTAP as both sides write it (harness/agent/protocol.h): the skip
# directive; a known issue's or deviation's failure, a SKIP whose reason
# starts XFAIL (module/uafault_known.h's UAFAULT_KNOWN_XFAIL); a strict
# known issue's pass; the reason of a case that could not be set up.
KTAP_SKIP = agent_string("KTAP_SKIP")
KTAP_XFAIL = agent_string("KTAP_XFAIL")
KTAP_XPASS = agent_string("KTAP_XPASS")
SETUP_FAILED = agent_string("SETUP_FAILED_REASON")


@dataclass(frozen=True)
class KtapResult:
    """A KTAP result line: "ok 3 name", "  not ok 1 name # SKIP why"."""
    indent: str
    ok: bool
    number: int
    name: str
    skipped: bool
    reason: str


_RESULT = (r"(?P<not>not )?ok (?P<number>\d+) (?P<name>.+?)"
           rf"(?:\s+# (?P<skip>{re.escape(KTAP_SKIP)})\b\s*(?P<reason>.*))?$")
_RESULT_LINE = re.compile(r"^(?P<indent>\s*)" + _RESULT)
# Inside a console line (a timestamp, a prefix before it).
_RESULT_IN = re.compile(r"(?<![\w-])(?P<indent>)" + _RESULT)


def ktap_result(line: str, inside: bool = False) -> KtapResult | None:
    """The result @line is (from its start, else, @inside, anywhere in
    it), or None: the one reading of a KTAP result line, for the agent's
    KTAP, KUnit's and the known-deviation count alike."""
    m = (_RESULT_IN.search if inside else _RESULT_LINE.match)(line.rstrip())
    if m is None:
        return None
    return KtapResult(m.group("indent"), m.group("not") is None, int(m.group("number")), m.group("name"),
                      m.group("skip") is not None, (m.group("reason") or "").strip())

def ktap_directive(verdict: str) -> str:
    """The KTAP directive of a verdict's result line, "" or " # SKIP ...":
    the one place a verdict becomes one, spelled as the agent prints it."""
    match Verdict(verdict):
        case Verdict.XFAIL:
            return f" # {KTAP_SKIP} {KTAP_XFAIL}"
        case Verdict.UNRESOLVED:
            return f" # {KTAP_SKIP} {SETUP_FAILED}"
        case Verdict.SKIP:
            return f" # {KTAP_SKIP}"
    return ""


def counts_of(by_verdict: dict[str, int]) -> Counts:
    """`make test`'s counts of a campaign's verdicts."""
    counts = Counts()
    for verdict, n in by_verdict.items():
        if verdict in VERDICTS:
            field = VERDICTS[verdict].counts_as
            setattr(counts, field, getattr(counts, field) + n)
    return counts
