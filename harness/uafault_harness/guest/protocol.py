"""The agent <-> host protocol, host side: what /init and harness/agent
print on the guest's console around plain KTAP, and what the host hands
the agent.  Everything the agent prints or takes is defined once, in
harness/agent/protocol.h, and read from there (core/agent_header.py);
this module spells only what /init prints and how the host parses it.
KTAP itself is read with the tree's kunit_parser (kunit/ktap.py)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Iterable

from ..core.agent_header import agent_format, agent_number, agent_option, agent_string, agent_strings
# A result line's KTAP (its SKIP, XFAIL and XPASS spellings too) is the
# verdict model's reading: core/verdicts.py.
from ..core.verdicts import ktap_result

# Printed by the /init that initramfs.py generates.
# The base's /init waits for its job here: a snapshot is taken at this
# line (guest/snapshot.py) and a restored guest goes on from it.
INIT_JOB_WAIT = "uafault-init: waiting for the job disk"
INIT_JOB_READ = "uafault-init: job read"
INIT_AGENT_START = "uafault-init: agent start"
INIT_AGENT_EXIT = "uafault-init: agent exit"
# The agent's own complaints (stderr, on the console too): a module that
# would not load, registered no target, a bad argument.
AGENT_ERROR_PREFIX = agent_string("AGENT_ERROR_PREFIX")
# Printed by the agent before each case / before a case meant to oops.
CASE_MARKER = agent_string("CASE_MARKER")
EXPECT_OOPS_MARKER = agent_string("EXPECT_OOPS_MARKER")
# A --cases case runs as "campaign.<case id>".
CAMPAIGN_CASE_PREFIX = agent_string("CAMPAIGN_CASE_PREFIX")
# The agent starts an oracle's complaint with the oracle's name, "[pins]
# pin balance 3 -> 4", and prints it as a diagnostic line ("# ...").
ORACLE_NOTE = re.compile(r"^\s*# (\[[\w-]+\] .*)$")
_ORACLE_TAG = re.compile(r"^\[([\w-]+)\] ")
# The tag of the agent's note for a case it could not set up (unresolved()
# in harness/agent/verdict.c); the case's result line is then a SKIP.
SETUP_TAG = agent_string("SETUP_TAG")

CASE_RE = re.compile(r"^\s*" + re.escape(CASE_MARKER) + r"\s*(\S+)")
EXPECT_RE = re.compile(r"^\s*" + re.escape(EXPECT_OOPS_MARKER) + r"\s*(\S+)")
EXIT_RE = re.compile(r"^" + re.escape(INIT_AGENT_EXIT) + r"\s+(-?\d+)")
# The agent's figures (main.c, bench.c): checked scenarios, and the bare ioctl loop.
STATS_MARKER = agent_string("STATS_MARKER")
BARE_MARKER = agent_string("BARE_MARKER")
STATS_RE = agent_format("STATS_LINE")
BARE_RE = agent_format("BARE_LINE")
# A boot tainted before its first case (the agent runs none), and a call
# the watchdog found still running: NAME, seconds.
BOOT_TAINTED_RE = agent_format("BOOT_TAINTED_LINE")
WATCHDOG_RE = agent_format("WATCHDOG_LINE")
# --refs-passer-by (tests): a case's page references the agent held through
# the looks before its call, as a passer-by would: held, and seen by the looks.
PASSER_BY_RE = agent_format("PASSER_BY_LINE")
# --misuse-paths (tests): a path whose misuse must keep something past its
# call kept nothing (a fuse splice server's mount point).
MISUSE_NOT_KEPT_RE = agent_format("MISUSE_NOT_KEPT_LINE")
# How the [refs] oracle's complaint ends: a reference kept, or dropped.
REFS_KEPT = agent_string("REFS_KEPT")
REFS_DROPPED = agent_string("REFS_DROPPED")
# The oracle of a change made while a path holds (the held_* kinds).
HELD_CHANGE_ORACLE = agent_string("HELD_CHANGE_ORACLE")
# Where the agent's time went (profile.c): cases=N, then seconds per phase.
PROFILE_MARKER = agent_string("PROFILE_MARKER")
PROFILE_RE = re.compile(re.escape(PROFILE_MARKER) + r" cases=(\d+)((?: \w+=[\d.]+)+)$")


def parse_profile(line: str) -> tuple[int, dict[str, float]] | None:
    """The cases and each phase's seconds of a profile line, or None."""
    found = PROFILE_RE.search(line)
    if found is None:
        return None
    return int(found.group(1)), {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", found.group(2))}
# --list-targets: "uafault-target: NAME OWNER fixed_len=N align=A kinds=K,...
# [crash]", protocol.h's TARGET_LINE and what follows it.
TARGET_MARKER = agent_string("TARGET_MARKER")
_TARGET_RE = re.compile("^" + agent_format("TARGET_LINE").pattern + r"(\S*)("
                        + re.escape(agent_string("TARGET_CRASH")) + ")?$")


# The agent's command line (its options, protocol.h's OPT_*).
AGENT_NAME = agent_string("AGENT_NAME")
AGENT_MODULE = agent_option("MODULE")
AGENT_MODULE_PARAMS = agent_option("MODULE_PARAMS")
AGENT_ALLOW_CRASH = agent_option("ALLOW_CRASH")
AGENT_DMA = agent_option("DMA")
AGENT_KUNIT = agent_option("KUNIT")
AGENT_KUNIT_PARAM = agent_option("KUNIT_PARAM")
AGENT_KUNIT_LAST = agent_option("KUNIT_LAST")
AGENT_EXPECT_TARGETS = agent_option("EXPECT_TARGETS")
AGENT_PATH_FILE = agent_option("PATH_FILE")
AGENT_KNOWN_ISSUE = agent_option("KNOWN_ISSUE")
AGENT_FUZZER = agent_option("FUZZER")
AGENT_FUZZ_CALLS = agent_option("FUZZ_CALLS")
AGENT_COVERAGE = agent_option("COVERAGE")
AGENT_CASES = agent_option("CASES")
AGENT_LIST_FAULTS = agent_option("LIST_FAULTS")
AGENT_LIST_MEMORY = agent_option("LIST_MEMORY")
AGENT_LIST_TARGETS = agent_option("LIST_TARGETS")


def agent_args(**options: object) -> str:
    """An agent command line, as `guest --agent-args` takes it: each keyword
    is an option of protocol.h (targets= is OPT_TARGETS), True a flag, any
    other value its argument (shell-quoted); None and False leave it out."""
    words = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        words.append(agent_option(name.upper()))
        if value is not True:
            words.append(shlex.quote(str(value)))
    return " ".join(words)


# The agent's limits: the longest range a case may ask for, the rounds of
# a race when nothing says, the --known-issue globs it has room for; the
# largest folio a memory kind has, which a case's offset is within.
PAGE = agent_number("PAGE")
HPAGE = agent_number("HPAGE")
MAX_RANGE = agent_number("MAX_RANGE")
DEFAULT_ROUNDS = agent_number("DEFAULT_ROUNDS")
MAX_KNOWN = agent_number("MAX_KNOWN")


# What this kernel cannot run (--list-targets, and every agent start for
# its paths): "uafault-unavailable: kind|path|paths NAME CONFIG_X[: why]".
UNAVAILABLE_MARKER = agent_string("UNAVAILABLE_MARKER")
_UNAVAILABLE_RE = re.compile(re.escape(UNAVAILABLE_MARKER) + r" (kind|path|paths) (\S+) (\S+)(?:: (.*))?$")


@dataclass(frozen=True)
class Unavailable:
    """A fault kind, a path or a family of paths this kernel lacks."""
    what: str       # kind, path or paths
    name: str
    config: str     # the option it needs, "-" when unknown
    why: str = ""

    def __str__(self) -> str:
        needs = f"needs {self.config}" if self.config != "-" else "unavailable"
        return f"{self.what} {self.name}: {needs}" + (f" ({self.why})" if self.why else "")


def unavailable(lines: Iterable[str]) -> list[Unavailable]:
    """Each distinct unavailable line, in order."""
    out: list[Unavailable] = []
    for line in lines:
        m = _UNAVAILABLE_RE.search(line.strip())
        if m:
            item = Unavailable(m.group(1), m.group(2), m.group(3), m.group(4) or "")
            if item not in out:
                out.append(item)
    return out


def agent_error(lines: Iterable[str]) -> str | None:
    """The agent's last complaint, the reason it could not go on."""
    last = None
    for line in lines:
        if line.startswith(AGENT_ERROR_PREFIX):
            last = line[len(AGENT_ERROR_PREFIX):].strip()
    return last


def oracle_tag(text: str) -> str | None:
    """The oracle a complaint (or a verdict title made of one) names."""
    m = _ORACLE_TAG.match(text)
    return m.group(1) if m else None


# A number standing alone in a complaint (not part of a name or a version).
_NUMBER = re.compile(r"(?<![\w.])-?(?:0x[0-9a-fA-F]+|\d+)(?![\w.])")


def complaint_title(complaint: str) -> str:
    """A complaint as a finding's title: its first clause, every number in
    it N (a uid, a byte count or a pfn differs from case to case; the
    report's body keeps them)."""
    return _NUMBER.sub("N", complaint.split(";")[0].split(" (")[0])[:120]


def is_unresolved(skipped: bool, notes: Iterable[str]) -> bool:
    """A skipped case whose notes say its set-up failed."""
    if not skipped:
        return False
    for line in notes:
        m = ORACLE_NOTE.match(line)
        if m is not None and oracle_tag(m.group(1)) == SETUP_TAG:
            return True
    return False


# What backs a range when nothing says (the agent's memory_kinds[0]).
DEFAULT_MEMORY = "anon"
# Who makes a case's calls (--caller, a case line's last field): the
# agent itself first, the default; "user" a child without CAP_IPC_LOCK
# whose pin accounting the accounting oracle checks (ACCOUNTING_TAG).
CALLERS = agent_strings("CALLERS")
DEFAULT_CALLER = CALLERS[0]
ACCOUNTING_TAG = agent_string("ACCOUNTING_TAG")


@dataclass(frozen=True)
class Result:
    """A KTAP result line: the test's name, and how it ended."""
    name: str
    failed: bool
    skipped: bool
    # What follows "# SKIP": its reason ("XFAIL <record>: ..." for a known
    # deviation the agent saw, module/uafault_known.h).
    reason: str = ""


def parse_result(line: str) -> Result | None:
    r = ktap_result(line)
    return Result(r.name, not r.ok, r.skipped, r.reason) if r else None


def case_started(line: str) -> str | None:
    """The case a `# uafault-case:` line announces."""
    m = CASE_RE.match(line)
    return m.group(1) if m else None


@dataclass(frozen=True)
class ListedTarget:
    name: str
    owner: str
    crashes: bool
    # The one length it takes (then a case's size and offset mean nothing), or 0.
    fixed_len: int
    # The fault kinds that mean something for it (kind_applies() in the agent).
    kinds: frozenset[str]
    # What its contract wants the range's address a multiple of (direct
    # I/O's block size), or 0: any address.
    align: int = 0


def parse_target(line: str) -> ListedTarget | None:
    m = _TARGET_RE.match(line)
    if m is None:
        return None
    return ListedTarget(m.group(1), m.group(2), bool(m.group(6)), int(m.group(3)),
                        frozenset(k for k in m.group(5).split(",") if k), int(m.group(4)))


@dataclass(frozen=True)
class FaultKinds:
    names: tuple[str, ...]
    # For crashing targets only (SMAP).
    crash: frozenset[str]
    # A racing thread against --rounds runs of the target.
    raced: frozenset[str]
    # Kind -> where its range starts when a case leaves it to the kind
    # (offset -1); kinds that try several starts are not in it.
    starts: dict[str, int] = field(default_factory=dict)
    # Memory kind -> the fault kinds that mean nothing on it (--list-memory).
    memory: dict[str, frozenset[str]] = field(default_factory=lambda: {DEFAULT_MEMORY: frozenset()})
    # Memory kind -> the size of its large folios (THP, hugetlb); a kind
    # not in it has a page's (--list-memory's folio=).
    folios: dict[str, int] = field(default_factory=dict)

    def applies(self, fault: str, memory: str) -> bool:
        return fault not in self.memory.get(memory, frozenset())


def parse_fault_kinds(text: str) -> FaultKinds:
    """--list-faults: a line per kind, "NAME [crash] [raced] [start=N]"."""
    names, crash, raced, starts = [], set(), set(), {}
    for line in text.splitlines():
        name, *flags = line.split()
        names.append(name)
        if "crash" in flags:
            crash.add(name)
        if "raced" in flags:
            raced.add(name)
        for flag in flags:
            if flag.startswith("start="):
                starts[name] = int(flag[len("start="):])
    return FaultKinds(tuple(names), frozenset(crash), frozenset(raced), starts)


def parse_memory_kinds(text: str) -> dict[str, frozenset[str]]:
    """--list-memory: a line per memory kind, "NAME [folio=BYTES] [skip=KIND,...]"."""
    out: dict[str, frozenset[str]] = {}
    for line in text.splitlines():
        name, *flags = line.split()
        skip = [f[len("skip="):] for f in flags if f.startswith("skip=")]
        out[name] = frozenset(skip[0].split(",")) if skip else frozenset()
    return out


# --list-memory's flag of a memory kind of large folios: their size.
MEMORY_FOLIO = agent_string("MEMORY_FOLIO")


def parse_memory_folios(text: str) -> dict[str, int]:
    """--list-memory: the memory kinds of large folios, each with their size."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, *flags = line.split()
        for flag in flags:
            if flag.startswith(MEMORY_FOLIO):
                out[name] = int(flag[len(MEMORY_FOLIO):])
    return out


def case_line(case_id: str, target: str, fault: str, size: int, offset: int, seed: int,
              memory: str = DEFAULT_MEMORY, caller: str = DEFAULT_CALLER) -> str:
    """A line of the agent's --cases file (parse_case() in cases.c); the
    memory kind and the caller only when they are not the default (a
    caller needs the memory kind before it)."""
    line = f"{case_id} {target} {fault} {size} {offset} {seed}"
    if caller != DEFAULT_CALLER:
        return f"{line} {memory} {caller}"
    return line if memory == DEFAULT_MEMORY else f"{line} {memory}"
