"""Known kernel deviations and bugs (module/uafault_known.h): the records
the KUnit suites and the agent compile, read here as text, and what a
run's console says of each one.

A case that shows a record's deviation ends "# SKIP XFAIL <id>: ..." (a
known deviation, counted apart); a case that could have shown it and did
not logs "uafault-known-absent: <id>".  Of a run, a record is *present*
where some case showed it, *fixed* where cases checked it and none
showed it (news: the fix is in, never a failure), and *unchecked*
otherwise."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from .paths import PROJECT_ROOT
from .verdicts import KTAP_SKIP, ktap_result

KNOWN_HEADER = PROJECT_ROOT / "module" / "uafault_known.h"
FIELDS = ("id", "contract", "deviation", "fix", "subject", "probe", "cases", "kernel")
UNFIXED = "unfixed"
# Who checks a record: a KUnit case or an agent case that tells it by
# what it observes, or an agent case a known issue expects to fail.
# A "report:" glob matches a kernel report by one of its lines (the WARN
# message before it included; "?" stands for a space): the kernel's own
# debugging reporting what is no bug of the code under test.
CASE_KINDS = ("kunit", "agent", "issue", "report")
# How a run tells: a case that checked and did not see it means the fix is
# in; only some plans reach it; only the config says.
PROBES = ("behaviour:", "sometimes:", "config:")
# Fixed by the commit of that subject (a stable changelog says so); its id
# not yet checked.
UNCONFIRMED = "unconfirmed"

_STRINGS = r'((?:"(?:[^"\\]|\\.)*"\s*)+)'
_RECORD = re.compile(r"^\t\[(UAFAULT_KNOWN_\w+)\]\s*=\s*\{(.*?)\n\t\}", re.S | re.M)
_FIELD = re.compile(r"\.(\w+)\s*=\s*" + _STRINGS + r",")
_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')
_DEFINE = re.compile(r'^#define\s+(UAFAULT_KNOWN_XFAIL|UAFAULT_KNOWN_ABSENT)\s+"([^"]*)"', re.M)
_FIX = re.compile(r"^[0-9a-f]{12}$")


def _c_string(literals: str) -> str:
    return "".join(bytes(s, "utf-8").decode("unicode_escape") for s in _LITERAL.findall(literals))


@dataclass(frozen=True)
class Record:
    enum: str
    id: str
    contract: str
    deviation: str
    fix: str
    subject: str
    probe: str
    cases: str
    kernel: str

    @property
    def fixed_upstream(self) -> bool:
        return _FIX.match(self.fix) is not None

    @property
    def has_fix(self) -> bool:
        return self.fix != UNFIXED

    @property
    def fix_text(self) -> str:
        """The fix as a reader wants it: "sha ("subject")" or where seen."""
        if self.fixed_upstream:
            return f'{self.fix} ("{self.subject}")'
        if self.fix == UNCONFIRMED:
            return f'"{self.subject}" (commit id not confirmed)'
        return f"{self.fix}: {self.subject}"

    @property
    def reason(self) -> str:
        """A verdict's reason when a case showed the record."""
        return f"known {self.id}: {self.deviation}; fix: {self.fix_text}"

    def case_globs(self, layer: str) -> tuple[str, ...]:
        """The record's case globs of one kind (CASE_KINDS)."""
        return tuple(glob[len(layer) + 1:] for glob in self.cases.split() if glob.startswith(layer + ":"))


@dataclass(frozen=True)
class Markers:
    xfail: str
    absent: str


def parse_header(text: str, where: str = "uafault_known.h") -> tuple[Markers, tuple[Record, ...]]:
    """The markers and the records of the header's text.  A record that
    lacks a field, or one the table does not know, is an error: the C side
    would not compile or would print less than the host expects."""
    defines = dict(_DEFINE.findall(text))
    if set(defines) != {"UAFAULT_KNOWN_XFAIL", "UAFAULT_KNOWN_ABSENT"}:
        raise ValueError(f"{where}: UAFAULT_KNOWN_XFAIL and UAFAULT_KNOWN_ABSENT must be string defines")
    records: list[Record] = []
    for enum, body in _RECORD.findall(text):
        fields = {name: _c_string(value) for name, value in _FIELD.findall(body)}
        missing = [f for f in FIELDS if not fields.get(f)]
        extra = sorted(set(fields) - set(FIELDS))
        if missing or extra:
            raise ValueError(f"{where}: {enum}: " + (f"missing {', '.join(missing)}" if missing
                                                      else f"unknown {', '.join(extra)}"))
        record = Record(enum, **{f: fields[f] for f in FIELDS})
        kinds = {glob.partition(":")[0] for glob in record.cases.split()}
        if not kinds or kinds - set(CASE_KINDS):
            raise ValueError(f"{where}: {enum}: cases are kunit:GLOB, agent:GLOB or issue:GLOB")
        if not record.probe.startswith(PROBES):
            raise ValueError(f"{where}: {enum}: probe starts with one of {', '.join(PROBES)}")
        if not (record.fixed_upstream or record.fix in (UNFIXED, UNCONFIRMED)):
            raise ValueError(f"{where}: {enum}: fix must be 12 hex digits, {UNCONFIRMED!r} or {UNFIXED!r}, "
                             f"not {record.fix!r}")
        records.append(record)
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{where}: duplicate record ids")
    enums = re.search(r"enum uafault_known_id \{(.*?)\};", text, re.S)
    listed = re.findall(r"(UAFAULT_KNOWN_\w+)", enums.group(1)) if enums else []
    if [e for e in listed if e != "UAFAULT_KNOWN_NR"] != [r.enum for r in records]:
        raise ValueError(f"{where}: the table's records and enum uafault_known_id disagree")
    return Markers(defines["UAFAULT_KNOWN_XFAIL"], defines["UAFAULT_KNOWN_ABSENT"]), tuple(records)


@lru_cache(maxsize=None)
def _load(path: Path) -> tuple[Markers, tuple[Record, ...]]:
    return parse_header(path.read_text(), str(path))


def records(path: Path = KNOWN_HEADER) -> tuple[Record, ...]:
    return _load(path)[1]


def markers(path: Path = KNOWN_HEADER) -> Markers:
    return _load(path)[0]


def by_id(path: Path = KNOWN_HEADER) -> dict[str, Record]:
    return {r.id: r for r in records(path)}


def issue_globs(of: tuple[Record, ...] | None = None) -> list[tuple[str, str, str]]:
    """(kernel, "target.fault" glob, reason) of every "issue:" case glob of
    the records (of, else the header's)."""
    return [(r.kernel, glob, r.reason) for r in (records() if of is None else of) for glob in r.case_globs("issue")]


def report_record(lines: Iterable[str], of: tuple[Record, ...] | None = None) -> Record | None:
    """The record a kernel report's lines show (its "report:" globs)."""
    for record in (records() if of is None else of):
        for glob in record.case_globs("report"):
            if any(fnmatch.fnmatchcase(line, glob) for line in lines):
                return record
    return None


def xfail_reason(directive: str) -> str | None:
    """The record id of a result line's "# SKIP ..." text when it is a
    known deviation ("XFAIL <id>: ..."), "" for an XFAIL that names none
    (a campaign's known issue), else None."""
    text = directive.strip()
    if text.startswith("#"):
        text = text[1:].strip()
    if text.startswith(KTAP_SKIP):
        text = text[len(KTAP_SKIP):].strip()
    xfail = markers().xfail
    if not text.startswith(xfail):
        return None
    found = re.match(re.escape(xfail) + r"[: ]\s*([\w.-]+):", text)
    return found.group(1) if found and found.group(1) in by_id() else ""


@dataclass
class Seen:
    """What one console said of the records: case counts by record id."""
    shown: dict[str, int]
    absent: dict[str, int]

    def merge(self, other: Seen) -> None:
        for mine, theirs in ((self.shown, other.shown), (self.absent, other.absent)):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n

    def to_json(self) -> dict[str, dict[str, int]]:
        return {"shown": dict(sorted(self.shown.items())), "absent": dict(sorted(self.absent.items()))}

    @classmethod
    def from_json(cls, data: object) -> Seen:
        if not isinstance(data, dict):
            return cls({}, {})
        return cls({str(k): int(v) for k, v in dict(data.get("shown", {})).items()},
                   {str(k): int(v) for k, v in dict(data.get("absent", {})).items()})


def seen_in(lines: Iterable[str]) -> Seen:
    """Count, per record, the result lines that showed it and the
    "absent" notes of cases that checked it and did not."""
    absent_re = re.compile(re.escape(markers().absent) + r"\s*([\w.-]+)")
    seen = Seen({}, {})
    for line in lines:
        result = ktap_result(line, inside=True)
        if result and result.ok and result.skipped:
            record = xfail_reason(result.reason)
            if record:
                seen.shown[record] = seen.shown.get(record, 0) + 1
            continue
        note = absent_re.search(line)
        if note:
            seen.absent[note.group(1)] = seen.absent.get(note.group(1), 0) + 1
    return seen


def verdict_lines(seen: Seen, kernel: str = "this kernel") -> list[str]:
    """One line a record a run checked: a known deviation present (with
    its fix, or unfixed) or fixed in this kernel (with the commit)."""
    out: list[str] = []
    for record in records():
        if seen.shown.get(record.id):
            out.append(f"known deviation {record.id} present ({seen.shown[record.id]} case(s)): "
                       f"{record.deviation}; fix: {record.fix_text}")
        elif seen.absent.get(record.id):
            out.append(f"fixed in {kernel}: {record.id} ({seen.absent[record.id]} case(s) hold the "
                       f"contract); fix: {record.fix_text}")
    return out
