"""Reading the guest's serial console: which agent case is in flight, which
kernel reports appeared and to which case they belong, and the agent's own
output (its KTAP) separated from the kernel's.

The console carries two writers: the kernel (every line prefixed with a
printk timestamp, CONFIG_PRINTK_TIME=y in configs/guest.config) and user
space (/init and the agent, no prefix).  That prefix is what tells them
apart."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Iterable

from ..core import known
from ..core.kmsg import PRINTK_ANYWHERE, PRINTK_PREFIX, PRINTK_TIME, REPORT_START
from ..kunit.ktap import EXPECT_REPORT, is_result_line
from .protocol import EXIT_RE, EXPECT_RE, INIT_AGENT_START, INIT_JOB_READ, case_started, parse_result

# The kernel's last words once /init runs `poweroff -f`: "reboot: Power
# down", or "reboot: Power off not available: System halted instead" when
# the guest kernel has no power-off method, and then QEMU never exits.
POWER_DOWN = "reboot: "

# Lines that close a report; the next start line is a new report.
_REPORT_END = re.compile(r"^(?:---\[ end |={20,}$)")
# Keep excerpts bounded: a lockdep splat can run to hundreds of lines.
MAX_EXCERPT_LINES = 60
# A WARN prints "cut here", its message, then "WARNING: ..." (the lead).
_CUT_HERE = "------------[ cut here ]------------"
MAX_LEAD_LINES = 4

# Title normalisation, syzkaller style: one title per bug, whatever the
# addresses, pids, timestamps and line numbers of this occurrence.  The
# first matching rule wins; the generic clean-up runs after it.
_TITLE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^WARNING: CPU: \d+ PID: \d+ at \S+ (\w[\w.]*)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?.*"),
     r"WARNING in \1"),
    (re.compile(r"^INFO: task (.+?):\d+ blocked for more than \d+ seconds.*"), r"INFO: task \1 blocked"),
    (re.compile(r"^(BUG: scheduling while atomic):.*"), r"\1"),
    (re.compile(r"^(BUG: Bad page state in process \S+).*"), r"\1"),
    # SLUB's debug checks: "BUG kmalloc-64 (Tainted: G O): Right Redzone
    # overwritten"; the taint is this boot's, not the bug's.
    (re.compile(r"^BUG (\S+) \([^)]*\): (.*)"), r"BUG \1: \2"),
    (re.compile(r"^(Kernel panic - not syncing: Attempted to kill init!).*"), r"\1"),
)
# Since 6.12 SLUB names the damage on a line of its own before its report,
# "[kmalloc Redzone overwritten] 0x...-0x... @offset=...", and titles the
# report "BUG kmalloc-8 (...): Object corrupt"; older kernels put the damage
# in the title.  Either way the title names it: one title per bug on every
# kernel.
_SLUB_DAMAGE = re.compile(r"^\[(\w[\w ]* overwritten)\] ")
_SLUB_RULE = re.compile(r"^={20,}$")
_SLUB_CORRUPT = re.compile(r"^BUG (\S+) \([^)]*\): Object corrupt\b")
_TITLE_CLEANUP: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\w)\+0x[0-9a-f]+/0x[0-9a-f]+"), r"\1"),  # func+0x12/0x40
    (re.compile(r"\s+\[[\w-]+\]$"), ""),  # trailing [module]
    (re.compile(r"\s*\[#\d+\].*$"), ""),  # Oops: 0000 [#1] PREEMPT SMP ...
    (re.compile(r"(\.[ch]|\.rs|\.S):\d+(?::\d+)?"), r"\1"),  # file.c:123:4
    (re.compile(r"\b(?:CPU|PID|pid|pfn|cpu):\s*[0-9a-fx]+"), ""),
    (re.compile(r"\b(for address):?\s*(?:0x)?[0-9a-f]+\b"), r"\1"),
    (re.compile(r",\s*address:?\s*(?:0x)?[0-9a-f]+\b"), ""),
    (re.compile(r"(?:,|:)?\s*\b0x[0-9a-f]+\b"), ""),
    (re.compile(r"(?:,|:)?\s*\b[0-9a-f]{4,16}\b(?=\W|$)"), ""),
    (re.compile(r"\s+"), " "),
)


def strip_printk_prefix(line: str) -> str | None:
    """The message of a kernel console line, or None for a user-space line."""
    m = PRINTK_PREFIX.match(line)
    return line[m.end():] if m else None


def split_interleaved(line: str) -> list[str]:
    """A printk that lands in the middle of a user-space write shows up as
    `    ok 3 fo[   12.3] BUG: ...`; split it so neither half is lost to
    the other writer's parser."""
    m = PRINTK_ANYWHERE.search(line, 1)
    if m is None or strip_printk_prefix(line) is not None:
        return [line]
    return [line[:m.start()]] + split_interleaved(line[m.start():])


def normalise_title(message: str, damage: str | None = None) -> str:
    """One title per bug; damage is SLUB's "[<what> overwritten]" line
    just before the report, if there was one."""
    # 6.12 prints "Oops: Oops: 0000 [#1]"; it is still one oops.
    text = re.sub(r"^(?:Oops:\s*)+", "Oops: ", message.strip())
    if damage and (m := _SLUB_CORRUPT.match(text)):
        text = f"BUG {m.group(1)} (): {damage}"
    for pattern, repl in _TITLE_RULES:
        if pattern.match(text):
            text = pattern.sub(repl, text)
            break
    for pattern, repl in _TITLE_CLEANUP:
        text = pattern.sub(repl, text)
    return text.strip().rstrip(":,.").strip()


@dataclass
class KernelReport:
    title: str
    # "<suite>.<case>" from the last `# uafault-case:` line, None before any.
    case: str | None
    # The agent announced this case would oops.
    expected: bool
    # The case had already printed its result: the report came after it.
    after_case_result: bool
    line_no: int
    seconds: float | None
    excerpt: list[str] = field(default_factory=list)
    # The WARN message printed before the report's first line, if any.
    lead: list[str] = field(default_factory=list)

    @property
    def known(self) -> str:
        """The id of the known deviation (module/uafault_known.h) this
        report is, or ''."""
        record = known.report_record(self.lead + self.excerpt)
        return record.id if record else ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


# Where a boot's time goes (bench/profile): kernel lines whose printk time
# and arrival mark a phase; /init's and the agent's markers arrive only.
KERNEL_MILESTONES = (("unpack", "Trying to unpack rootfs"), ("unpacked", "Freeing initrd memory"),
                     ("init", "Run /init"))


@dataclass
class ConsoleTracker:
    """Fed one console line at a time, live or from a stored log."""

    line_count: int = 0
    case: str | None = None
    case_done: bool = False
    first_case_seconds: float | None = None
    expected_oops: set[str] = field(default_factory=set)
    reports: list[KernelReport] = field(default_factory=list)
    agent_started: bool = False
    agent_exit: int | None = None
    powered_down: bool = False
    # User-space lines only: /init's markers and the agent's output.
    user_lines: list[str] = field(default_factory=list)
    # Index in user_lines of /init's exit marker: the agent's output ends there.
    agent_end: int | None = None
    _open: KernelReport | None = None
    # A KUnit case in the kernel (a suite run again through debugfs) said
    # its next report is on purpose, and has not ended yet.
    _kunit_expects: bool = False
    # A user line a printk cut in two; its rest is the next user line.
    _partial: str = ""
    # SLUB's "[<what> overwritten]" when it was the last kernel line.
    _slub_damage: str | None = None
    # Kernel lines since a "cut here" (None: none open): a WARN's message.
    _lead: list[str] | None = None
    # Seconds since QEMU started at which each milestone's line arrived
    # (KERNEL_MILESTONES, job_read, agent_start, first_case, agent_exit), and the
    # kernel's own printk time of the kernel ones.
    arrived: dict[str, float] = field(default_factory=dict)
    printk_time: dict[str, float] = field(default_factory=dict)

    def feed(self, raw: str, seconds: float | None = None) -> None:
        pieces = split_interleaved(raw.rstrip("\r\n").replace("\r", ""))
        for i, piece in enumerate(pieces):
            self.line_count += 1
            message = strip_printk_prefix(piece)
            if message is not None:
                self._kernel_line(piece, message, seconds)
            elif i + 1 < len(pieces):
                self._partial += piece
            else:
                line, self._partial = self._partial + piece, ""
                self._user_line(line, seconds)

    def feed_all(self, lines: Iterable[str]) -> ConsoleTracker:
        for line in lines:
            self.feed(line)
        return self

    @property
    def agent_lines(self) -> list[str]:
        """What the agent printed (with the boot noise before it, which the
        KTAP extraction skips), without /init's exit marker after it."""
        return self.user_lines[:self.agent_end]

    @property
    def unexpected_reports(self) -> list[KernelReport]:
        """Reports no case announced and no known deviation explains."""
        return [r for r in self.reports if not r.expected and not r.known]

    def _arrived(self, milestone: str, seconds: float | None) -> None:
        if seconds is not None:
            self.arrived.setdefault(milestone, seconds)

    def _user_line(self, line: str, seconds: float | None) -> None:
        self.user_lines.append(line)
        if case := case_started(line):
            self.case, self.case_done = case, False
            self._arrived("first_case", seconds)
            if self.first_case_seconds is None:
                self.first_case_seconds = seconds
        elif m := EXPECT_RE.match(line):
            self.expected_oops.add(m.group(1))
        elif (result := parse_result(line)) and self.case and self.case.endswith("." + result.name):
            self.case_done = True
        elif line.startswith(INIT_JOB_READ):
            self._arrived("job_read", seconds)
        elif line.startswith(INIT_AGENT_START):
            self.agent_started = True
            self._arrived("agent_start", seconds)
        elif m := EXIT_RE.match(line):
            self._arrived("agent_exit", seconds)
            self.agent_exit = int(m.group(1))
            self.agent_end = len(self.user_lines) - 1

    def _kernel_line(self, line: str, message: str, seconds: float | None) -> None:
        if message.startswith(POWER_DOWN):
            self.powered_down = True
        for milestone, text in KERNEL_MILESTONES:
            if message.startswith(text) and milestone not in self.printk_time:
                self._arrived(milestone, seconds)
                stamp = PRINTK_TIME.match(line)
                if stamp:
                    self.printk_time[milestone] = float(stamp.group(1))
        # SLUB's damage line, then its "=====" rule, then its report
        # (tracked while a report is open too: one may follow another).
        damage = self._slub_damage
        if not _SLUB_RULE.match(message):
            m = _SLUB_DAMAGE.match(message)
            self._slub_damage = m.group(1) if m else None
        report = self._open
        if report is not None:
            report.excerpt.append(line)
            if _REPORT_END.match(message) or len(report.excerpt) >= MAX_EXCERPT_LINES:
                self._open = None
            return
        if _CUT_HERE in message:
            self._lead = []
        elif self._lead is not None:
            self._lead = self._lead + [line] if len(self._lead) < MAX_LEAD_LINES else None
        if EXPECT_REPORT in message:
            self._kunit_expects = True
        elif is_result_line(message):
            self._kunit_expects = False
        if REPORT_START.match(message):
            report = KernelReport(
                title=normalise_title(message, damage), case=self.case,
                expected=self._kunit_expects or (self.case is not None and self.case in self.expected_oops),
                after_case_result=self.case_done, line_no=self.line_count,
                seconds=seconds, excerpt=[line], lead=(self._lead or [])[:-1],
            )
            self._lead = None
            self.reports.append(report)
            self._open = report
