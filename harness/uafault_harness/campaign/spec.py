"""Campaign files (configs/campaigns/*.toml): reading, checking and
expanding them into an ordered list of cases with stable ids.

A file has one [campaign] table:

    name = "smoke"
    kernels = ["plain"]             # guest kernels: plain, kasan, swiotlb, iommu
    kernel_targets = { iommu = ["pin_dma_*"] }  # a kernel limited to some
                                    # of the targets (default: all of them)
    targets = ["copy_*", "pin_*", "!pin_dma_*"]  # globs over the module's
                                    # target list; "!glob" takes some back
    faults = ["none", "unmapped"]   # the agent's fault kinds
    sizes = [0, 64]                 # range bytes; 0: the fault kind's own
    offsets = [-1, 1, "aligned"]    # start in the first page; -1: the kind's;
                                    # "aligned" (or "aligned_large_folio"):
                                    # also the starts a target's contract
                                    # alignment allows (below)
    seeds = [1]
    memory = ["anon", "thp"]        # what backs the range (the agent's
                                    # --list-memory); default ["anon"]
    callers = ["root", "user"]      # who makes the calls: root, the agent;
                                    # user, a child without CAP_IPC_LOCK
                                    # under a small RLIMIT_MEMLOCK, whose
                                    # pin accounting is checked; default
                                    # ["root"]
    repetitions = 1                 # runs of each case (stochastic races)
    budget = "10m"                  # stop starting batches after this
    batch = 50                      # cases per guest boot
    nights = 1                      # a run plans tonight's 1/N of the
                                    # matrix (the UTC day picks which) and a
                                    # case of every (target, fault, memory),
                                    # so N nights cover it (campaign/
                                    # nights.py); --shard overrides
    modules = ["variants", "../my-driver"]  # the buggy catalogue, a module
                                    # directory (relative to this file)
    known_issues = "known.toml"     # more [[issue]] tables, same rules
    append = "transparent_hugepage=always"  # more kernel parameters
    pairs = [["twin_*", "variant_*"]]  # correct/buggy target pairs for
                                    # report --variants (this is the default)
    kernel_source = "image"         # where the guest kernel comes from:
                                    # debian[:SERIES], image[:ABI], ksrc
    paths = ["my-device.toml"]      # described paths besides configs/paths/

Expansion is kernels x targets (those of kernel_targets) x faults x memory x sizes x offsets x
seeds x callers x repetitions in that order, each list in file order and targets in
the module's order, so the same file and target list give the same cases.
A memory kind on which a fault kind means nothing (the agent says which)
plans no case of that kind; private anonymous memory, the default, keeps
the ids cases had before there were memory kinds, and the root caller,
the default, those they had before there were callers.

A named offset set in `offsets` adds, after the file's numbers, the
starts of contract_offsets() for each target whose contract wants its
range's address a multiple of an alignment (the agent's --list-targets
align=: direct I/O's 512): "aligned" its multiples inside the first page
and, on memory of large folios (--list-memory's folio=: thp, hugetlb),
deep inside the folio and at its end, so the range crosses into the next
folio; "aligned_large_folio" only the last two.  A target without an
alignment gets the numbers only."""

from __future__ import annotations

import fnmatch
import hashlib
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ExitCode, HarnessError
from ..core.paths import KernelSource, parse_kernel_source
from ..guest.kernels import KERNELS
from ..guest.modules import Modules, parse_modules
from ..guest.protocol import CALLERS, DEFAULT_CALLER, DEFAULT_MEMORY, MAX_RANGE, PAGE, FaultKinds, ListedTarget, case_line
from ..guest.qemu import append_problem

_DURATION = re.compile(r"^(\d+)([smh])$")
_UNITS = {"s": 1, "m": 60, "h": 3600}


class SpecError(HarnessError):
    def __init__(self, path: Path, line: int | None, key: str, message: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(ExitCode.BAD_CONFIG, f"{where}: {key}: {message}")


@dataclass(frozen=True)
class Campaign:
    path: Path
    name: str
    kernels: tuple[str, ...]
    targets: tuple[str, ...]
    faults: tuple[str, ...]
    sizes: tuple[int, ...]
    offsets: tuple[int, ...]
    seeds: tuple[int, ...]
    memory: tuple[str, ...]
    repetitions: int
    budget_seconds: int
    batch: int
    # Loaded besides uafault.ko and the example: the buggy-variant
    # catalogue, a user's module directories.
    modules: Modules
    # A file of more known issues, or None.
    known_issues: Path | None
    # More kernel parameters for the guests.
    append: str
    # (correct, buggy) glob pairs, one '*' each, matched to the same stem.
    pairs: tuple[tuple[str, str], ...]
    # Described paths (configs/paths/*.toml run always), files.
    paths: tuple[Path, ...]
    # sha256 of the file's bytes: a resumed run must plan from the same file.
    digest: str
    # (kernel, target globs): a kernel that runs only some of the targets.
    kernel_targets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The matrix is covered in this many runs, one slice a night.
    nights: int = 1
    # Where its guest kernel comes from (core/paths.py), or None: the
    # command's (--kernel-source, $UAFAULT_KERNEL_SOURCE, the default).
    kernel_source: KernelSource | None = None
    # The named set `offsets` holds (OFFSET_SETS), or "": each target with
    # a contract alignment also gets those of its contract_offsets().
    offset_set: str = ""
    # Who makes each case's calls (protocol.h's CALLERS).
    callers: tuple[str, ...] = (DEFAULT_CALLER,)
    # The file's text, for the line numbers of check_kinds' errors.
    text: str = field(default="", repr=False, compare=False)

    def targets_of(self, kernel: str) -> tuple[str, ...] | None:
        """The globs kernel is limited to, or None for every target."""
        return dict(self.kernel_targets).get(kernel)


@dataclass(frozen=True)
class Case:
    index: int
    kernel: str
    target: str
    fault: str
    size: int
    offset: int
    seed: int
    rep: int
    memory: str = DEFAULT_MEMORY
    caller: str = DEFAULT_CALLER

    @property
    def case_id(self) -> str:
        """Stable across runs and machines: a function of the parameters
        (the default memory and caller add nothing, so older ids stay)."""
        key = f"{self.kernel}/{self.target}/{self.fault}/{self.size}/{self.offset}/{self.seed}/{self.rep}"
        if self.memory != DEFAULT_MEMORY:
            key += f"/{self.memory}"
        if self.caller != DEFAULT_CALLER:
            key += f"/caller={self.caller}"
        return f"{self.target}.{self.fault}.{hashlib.sha256(key.encode()).hexdigest()[:10]}"

    def agent_line(self) -> str:
        """A line of the agent's --cases file."""
        return case_line(self.case_id, self.target, self.fault, self.size, self.offset, self.seed, self.memory,
                         self.caller)


def parse_duration(text: str) -> int | None:
    m = _DURATION.match(text.strip())
    return int(m.group(1)) * _UNITS[m.group(2)] if m else None


def key_line(text: str, key: str) -> int | None:
    """Line of `key = ...` in the [campaign] table, or of its sub-table
    `[campaign.key]` (tomllib keeps no positions; the file is small)."""
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}\s*=|\[\s*\w+\.{re.escape(key)}\s*\])")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return number
    return None


class TableChecker:
    def __init__(self, path: Path, text: str, table: dict[str, Any]) -> None:
        self.path, self.text, self.table = path, text, table

    def error(self, key: str, message: str) -> SpecError:
        return SpecError(self.path, key_line(self.text, key), key, message)

    def strings(self, key: str, allowed: tuple[str, ...] | None = None,
                default: list[str] | None = None) -> tuple[str, ...]:
        """A list of strings; with a default, the key may be left out or empty."""
        value = self.table.get(key, default)
        if default is not None and value == []:
            return ()
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "must be a non-empty list of strings")
        for v in value:
            if allowed is not None and v not in allowed:
                raise self.error(key, f"unknown value {v!r}; known: {', '.join(allowed)}")
        return tuple(value)

    def ints(self, key: str, low: int, high: int, default: list[int]) -> tuple[int, ...]:
        value = self.table.get(key, default)
        if not isinstance(value, list) or not value or not all(type(v) is int for v in value):
            raise self.error(key, "must be a non-empty list of integers")
        for v in value:
            if not low <= v <= high:
                raise self.error(key, f"{v} is out of range {low}..{high}")
        return tuple(value)

    def offsets(self) -> tuple[tuple[int, ...], str]:
        """`offsets`: starts in the first page (-1: the fault kind's own),
        and at most one named set (OFFSET_SETS); the numbers and the set
        ("" for none)."""
        value = self.table.get("offsets", [-1])
        shape = (f"must be a non-empty list of integers (-1..{PAGE - 1}) and at most one of "
                 f"{', '.join(map(repr, OFFSET_SETS))}")
        if not isinstance(value, list) or not value:
            raise self.error("offsets", shape)
        numbers: list[int] = []
        named: list[str] = []
        for v in value:
            if isinstance(v, str):
                if v not in OFFSET_SETS:
                    raise self.error("offsets", f"unknown offset set {v!r}; known: {', '.join(OFFSET_SETS)}")
                if named:
                    raise self.error("offsets", f"{v!r} after {named[0]!r}: give one offset set "
                                     f"({ALIGNED!r} holds {ALIGNED_LARGE_FOLIO!r}'s starts)")
                named.append(v)
            elif type(v) is int:
                if not -1 <= v <= PAGE - 1:
                    raise self.error("offsets", f"{v} is out of range -1..{PAGE - 1} (a start in the first "
                                     f"page; an offset set plans the starts past it)")
                numbers.append(v)
            else:
                raise self.error("offsets", f"{v!r}: {shape}")
        if not numbers:
            raise self.error("offsets", f"{named[0]!r} adds to the numbers for the targets with an alignment; "
                             "give at least one number for the others (-1: the fault kind's own start)")
        return tuple(numbers), named[0] if named else ""

    def string(self, key: str, allowed: tuple[str, ...] | None = None, default: str | None = None) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str) or (allowed is None and not value and default is None):
            raise self.error(key, "must be a string" + ("" if default is not None else " (required)"))
        if allowed is not None and value not in allowed:
            raise self.error(key, f"unknown value {value!r}; known: {', '.join(allowed)}")
        return value

    def kernel_source(self) -> KernelSource | None:
        """kernel_source = "debian:6.1" | "image[:ABI]" | "ksrc", or None."""
        if "kernel_source" not in self.table:
            return None
        value = self.table["kernel_source"]
        try:
            return parse_kernel_source(value if isinstance(value, str) else repr(value))
        except HarnessError as exc:
            raise self.error("kernel_source", str(exc).removeprefix("bad kernel source ")) from None

    def int(self, key: str, low: int, high: int, default: int) -> int:
        value = self.table.get(key, default)
        if type(value) is not int or not low <= value <= high:
            raise self.error(key, f"must be an integer in {low}..{high}")
        return value

    @property
    def base(self) -> Path:
        """What a path in the file is relative to: the file's directory."""
        return self.path.resolve().parent

    def modules(self) -> Modules:
        """`modules`: "variants" (the buggy catalogue) and module directories."""
        return parse_modules(list(self.strings("modules", None, default=[])), self.base,
                             lambda message: self.error("modules", message))

    def _existing(self, key: str, name: str) -> Path:
        path = self.base / name
        if not path.is_file():
            raise self.error(key, f"{path}: no such file")
        return path

    def file(self, key: str) -> Path | None:
        """An optional path to an existing file, relative to this one."""
        return self._existing(key, self.string(key)) if key in self.table else None

    def files(self, key: str) -> tuple[Path, ...]:
        """An optional list of existing files, relative to this one."""
        return tuple(self._existing(key, name) for name in self.strings(key, None, default=[]))

    def append(self) -> str:
        """`append`: more kernel parameters for the guest."""
        extra = self.string("append", None, "")
        why = append_problem(extra)
        if why is not None:
            raise self.error("append", why)
        return " ".join(extra.split())


# The named sets of `offsets`: a target's contract offsets
# (contract_offsets()), all of them or only those in a large folio.
ALIGNED = "aligned"
ALIGNED_LARGE_FOLIO = "aligned_large_folio"
OFFSET_SETS = (ALIGNED, ALIGNED_LARGE_FOLIO)


def contract_offsets(align: int, folio: int, large_folio_only: bool = False) -> tuple[int, ...]:
    """The starts "aligned" plans for a target whose contract wants its
    range's address a multiple of align (0: none) on memory whose folios
    are folio bytes: multiples of align past the first page's head, at its
    middle and at its end (a range of more than align bytes then crosses
    into the next page, a folio of its own on memory of small folios);
    and where folios are larger than a page, one in the folio's middle (off
    a page boundary when align is less than a page) and one at its end,
    so the range crosses into the next folio.  Each once, in that order.
    large_folio_only ("aligned_large_folio"): the last two only."""
    if not align:
        return ()
    starts = [] if large_folio_only else [
        s for s in (align, PAGE // 2 // align * align, (PAGE - 1) // align * align) if 0 < s < PAGE]
    if folio > PAGE:
        starts += [s for s in ((folio // 2 // align + (align < PAGE)) * align, (folio - 1) // align * align)
                   if PAGE <= s < folio]
    return tuple(dict.fromkeys(starts))


# The default of `pairs`: module/variants/ names its targets so.
DEFAULT_PAIRS = (("twin_*", "variant_*"),)


def _pairs(check: TableChecker) -> tuple[tuple[str, str], ...]:
    """`pairs`: [correct, buggy] globs with one '*' each; a correct target
    and a buggy one whose '*' matched the same text are a pair."""
    value = check.table.get("pairs")
    if value is None:
        return DEFAULT_PAIRS
    pairs: list[tuple[str, str]] = []
    if not isinstance(value, list) or not value:
        raise check.error("pairs", "must be a non-empty list of [correct, buggy] glob pairs")
    for pair in value:
        if (not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(g, str) for g in pair)
                or [g.count("*") for g in pair] != [1, 1] or "?" in "".join(pair) or "[" in "".join(pair)):
            raise check.error("pairs", f"{pair!r}: each pair is [\"correct_*\", \"buggy_*\"], one '*' in each "
                              "and no other wildcard")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


KNOWN_KEYS = ("name", "kernels", "kernel_targets", "variants", "targets", "faults", "sizes", "offsets", "seeds", "memory",
              "callers", "repetitions", "budget", "batch", "modules", "known_issues", "append", "pairs", "paths", "nights",
              "kernel_source")


def read_table(path: Path, name: str, known_keys: tuple[str, ...]) -> tuple[bytes, TableChecker]:
    """A TOML file holding one [name] table of known keys: its bytes and a
    checker for its values.  Every error names file:line: key."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise HarnessError(ExitCode.BAD_CONFIG, f"{path}: cannot read: {exc.strerror}") from None
    text = raw.decode(errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Its message ends "(at line L, column C)".
        raise HarnessError(ExitCode.BAD_CONFIG, f"{path}: not valid TOML: {exc}") from None
    for key in data:
        if key != name:
            raise SpecError(path, key_line(text, key) or _table_line(text, key), key,
                            f"unknown table or key; everything goes under [{name}]")
    table = data.get(name)
    if not isinstance(table, dict):
        raise SpecError(path, None, name, f"the file has no [{name}] table")
    check = TableChecker(path, text, table)
    for key in table:
        if key not in known_keys:
            raise check.error(key, f"unknown key; known: {', '.join(known_keys)}")
    return raw, check


def _kernels(check: TableChecker) -> tuple[str, ...]:
    """`kernels`, or the old name `variants` (with a deprecation note)."""
    table = check.table
    if "kernels" in table and "variants" in table:
        raise check.error("variants", "the old name of kernels; give one of the two")
    if "variants" in table:
        print(f"{check.path}:{key_line(check.text, 'variants')}: variants: deprecated, say kernels",
              file=sys.stderr)
        return check.strings("variants", KERNELS)
    return check.strings("kernels", KERNELS)


def _kernel_targets(check: TableChecker, kernels: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`kernel_targets = { swiotlb = ["pin_dma_*"] }`: the kernels (of this
    file's) that run only the targets these globs match."""
    value = check.table.get("kernel_targets", {})
    if not isinstance(value, dict):
        raise check.error("kernel_targets", "must be a table of kernel = [target globs]")
    out = []
    for kernel, globs in value.items():
        if kernel not in kernels:
            raise check.error("kernel_targets", f"{kernel!r} is not one of this file's kernels ({', '.join(kernels)})")
        if not isinstance(globs, list) or not globs or not all(isinstance(g, str) and g for g in globs):
            raise check.error("kernel_targets", f"{kernel}: must be a non-empty list of target globs")
        out.append((kernel, tuple(globs)))
    return tuple(out)


def load_campaign(path: Path, fault_kinds: tuple[str, ...] | None,
                  memory_kinds: tuple[str, ...] | None = None) -> Campaign:
    """Read and check a campaign file; every error names file:line: key.
    fault_kinds and memory_kinds None check everything but those names
    (before the agent that knows them is built)."""
    raw, check = read_table(path, "campaign", KNOWN_KEYS)
    table = check.table
    name = table.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[\w.-]+", name):
        raise check.error("name", "must be a name of letters, digits, '.', '_' or '-'")
    budget_text = table.get("budget", "30m")
    budget = parse_duration(budget_text) if isinstance(budget_text, str) else None
    if not budget:
        raise check.error("budget", "must be a duration like \"90s\", \"30m\" or \"2h\"")
    kernels = _kernels(check)
    offsets, offset_set = check.offsets()
    return Campaign(
        path=path, name=name,
        kernels=kernels,
        kernel_targets=_kernel_targets(check, kernels),
        targets=check.strings("targets"),
        faults=check.strings("faults", fault_kinds),
        sizes=check.ints("sizes", 0, MAX_RANGE, [0]),
        offsets=offsets,
        offset_set=offset_set,
        seeds=check.ints("seeds", 0, 2**31 - 1, [1]),
        memory=check.strings("memory", memory_kinds, [DEFAULT_MEMORY]) or (DEFAULT_MEMORY,),
        callers=check.strings("callers", CALLERS, [DEFAULT_CALLER]) or (DEFAULT_CALLER,),
        repetitions=check.int("repetitions", 1, 1000, 1),
        budget_seconds=budget,
        batch=check.int("batch", 1, 10_000, 50),
        nights=check.int("nights", 1, 366, 1),
        modules=check.modules(),
        known_issues=check.file("known_issues"),
        append=check.append(),
        pairs=_pairs(check),
        paths=check.files("paths"),
        digest=hashlib.sha256(raw).hexdigest(),
        kernel_source=check.kernel_source(),
        text=check.text,
    )


def check_kinds(campaign: Campaign, fault_kinds: tuple[str, ...], memory_kinds: tuple[str, ...]) -> None:
    """The file's fault and memory kinds against the agent's, once it is
    built: the errors load_campaign gives with the kinds, without reading
    the file again."""
    check = TableChecker(campaign.path, campaign.text, {"faults": list(campaign.faults),
                                                        "memory": list(campaign.memory)})
    check.strings("faults", fault_kinds)
    check.strings("memory", memory_kinds)


def _table_line(text: str, name: str) -> int | None:
    pattern = re.compile(rf"^\s*\[+\s*{re.escape(name)}\s*\]")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return number
    return None


def select_targets(campaign: Campaign, available: list[str], crashing: set[str]) -> list[str]:
    """Targets the globs match, in the module's order; a glob that matches
    nothing is an error (a typo would otherwise test nothing, silently).
    "!glob" takes back what the globs before it chose.  Crashing targets
    are only taken when a glob names one exactly."""
    chosen: list[str] = []
    for glob in campaign.targets:
        drop = glob.startswith("!")
        pattern = glob[1:] if drop else glob
        hits = [t for t in (chosen if drop else available)
                if fnmatch.fnmatchcase(t, pattern) and (t not in crashing or t == pattern)]
        if not hits:
            raise SpecError(campaign.path, key_line(campaign.path.read_text(errors="replace"), "targets"),
                            "targets", f"{glob!r} matches none of: {', '.join(chosen if drop else available)}")
        chosen = [t for t in chosen if t not in hits] if drop else chosen + [t for t in hits if t not in chosen]
    return [t for t in available if t in chosen]


def plans(campaign: Campaign, target: ListedTarget, fault: str, kinds: FaultKinds,
          memory: str = DEFAULT_MEMORY) -> list[tuple[int, int]]:
    """The (size, offset) pairs of the file that give target and fault plans
    of their own on memory.  None when the kind means nothing for the target (the
    agent would skip it: SMAP for a target that does not oops, a header
    race for one that takes no message, ...); one, (0, -1), for a target of
    one fixed length, whose range ignores both; and an offset the same as
    the kind's own start (what -1 means for it) only once.  With an offset
    set, the file's offsets and then the target's contract offsets on memory."""
    if fault not in target.kinds:
        return []
    if target.fixed_len:
        return [(0, -1)]
    own = kinds.starts.get(fault)
    offsets = campaign.offsets
    if campaign.offset_set:
        offsets += contract_offsets(target.align, kinds.folios.get(memory, PAGE),
                                    campaign.offset_set == ALIGNED_LARGE_FOLIO)
    out: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for size in campaign.sizes:
        for offset in offsets:
            key = (size, own if offset == -1 and own is not None else offset)
            if key not in seen:
                seen.add(key)
                out.append((size, offset))
    return out


def _kernel_selection(campaign: Campaign, kernel: str, targets: list[ListedTarget]) -> list[ListedTarget]:
    globs = campaign.targets_of(kernel)
    if globs is None:
        return targets
    for glob in globs:
        if not any(fnmatch.fnmatchcase(t.name, glob) for t in targets):
            raise SpecError(campaign.path, key_line(campaign.path.read_text(errors="replace"), "kernel_targets"),
                            "kernel_targets", f"{kernel}: {glob!r} matches none of the campaign's targets")
    return [t for t in targets if any(fnmatch.fnmatchcase(t.name, g) for g in globs)]


def expand(campaign: Campaign, targets: list[ListedTarget], kinds: FaultKinds) -> list[Case]:
    """The cases, in order, each a plan of its own: no case the agent
    would only skip, none that repeats another's plan (plans())."""
    cases: list[Case] = []
    for kernel in campaign.kernels:
        for target in _kernel_selection(campaign, kernel, targets):
            for fault in campaign.faults:
                for memory in campaign.memory:
                    if not kinds.applies(fault, memory):
                        continue
                    for size, offset in plans(campaign, target, fault, kinds, memory):
                        for seed in campaign.seeds:
                            for caller in campaign.callers:
                                for rep in range(campaign.repetitions):
                                    cases.append(Case(len(cases), kernel, target.name, fault, size, offset, seed,
                                                      rep, memory, caller))
    return cases


def plan_cases(campaign: Campaign, listed: list[ListedTarget], kinds: FaultKinds,
               part: tuple[int, int] | None) -> list[Case]:
    """The listed targets the campaign selects, expanded into cases, and
    the slice part of them (all of them when None)."""
    chosen = select_targets(campaign, [t.name for t in listed], {t.name for t in listed if t.crashes})
    cases = expand(campaign, [t for t in listed if t.name in chosen], kinds)
    return shard(cases, *part) if part else cases


def shard(cases: list[Case], index: int, count: int) -> list[Case]:
    """Shard index of count (1-based): every count-th case of the plan,
    keeping each case's id and index, so shards merged are the whole plan."""
    return [c for c in cases if c.index % count == index - 1]


def parse_shard(text: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not m:
        return None
    index, count = int(m.group(1)), int(m.group(2))
    return (index, count) if 1 <= index <= count else None
