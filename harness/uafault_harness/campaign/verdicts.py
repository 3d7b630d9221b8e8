"""The verdicts a campaign case can end with, and what each one means to
every reader of it: the run's exit status, `make test`'s counts, the KTAP
and kunit.py JSON exports, KCIDB, the detection matrix and the report's
colours.  One table, worst first; everything else imports it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Meaning:
    # Fails the run (campaign exit status, the report's "new failures").
    bad: bool
    # The Counts field `make test` adds it to.
    counts_as: str
    # The KTAP result: "ok" or "not ok", and the directive after the name.
    ktap_ok: bool
    ktap_directive: str
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
# UNRESOLVED: the agent could not establish the case's precondition (a
# swap-out, a userfaultfd, a fork, a pin), so the target was not judged.
VERDICTS: dict[str, Meaning] = {
    #                  bad    counts_as  ktap_ok directive  kunit  kcidb  catches twin_ok colour
    "CRASH": Meaning(True, "crashed", False, "", "ERROR", "FAIL", True, False, "#c0392b"),
    "TIMEOUT": Meaning(True, "crashed", False, "", "ERROR", "ERROR", True, False, "#e67e22"),
    "FAIL": Meaning(True, "failed", False, "", "FAIL", "FAIL", True, False, "#e74c3c"),
    "XPASS": Meaning(True, "failed", False, "", "FAIL", "PASS", False, False, "#8e44ad"),
    "UNRESOLVED": Meaning(False, "unresolved", True, " # SKIP set-up failed", "SKIP", "ERROR", False, True,
                          "#f1c40f"),
    "XFAIL": Meaning(False, "xfail", True, " # SKIP XFAIL", "PASS", "FAIL", True, False, "#95a5a6"),
    "PASS": Meaning(False, "passed", True, "", "PASS", "PASS", False, True, "#27ae60"),
    "SKIP": Meaning(False, "skipped", True, " # SKIP", "SKIP", "SKIP", False, True, "#d5dbdb"),
}
# Worst first: a report cell takes the colour of its worst verdict.
ORDER: tuple[str, ...] = tuple(VERDICTS)
BAD: frozenset[str] = frozenset(v for v, m in VERDICTS.items() if m.bad)
