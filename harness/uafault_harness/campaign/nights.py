"""A matrix covered over nights (a campaign's `nights = N`): which of its
cases tonight's run plans.

A night is stratified: it holds at least one case of every (target, fault
kind, memory kind) triple of the matrix, so a bug that only one triple
reaches shows every night, not on one night of N.  The rest is the
uniform rotation nights had before: the UTC day picks slice day % N + 1
of N (every N-th case of the plan, the cases `--shard` would give), so N
nights in a row still run every case.  A triple that rotation misses
tonight adds one case, its (day mod its count)-th, so over nights its
representative walks its sizes, offsets, seeds and kernels.  `--shard`
stays a plain partition: shards are for spreading one plan over machines,
and a case planned in two of them would run twice."""

from __future__ import annotations

from dataclasses import dataclass

from .spec import Case, shard

# What a night covers at least once: a case's target, fault and memory kinds.
Triple = tuple[str, str, str]


@dataclass(frozen=True)
class Night:
    """UTC day number day of a matrix covered in count nights."""
    day: int
    count: int

    @property
    def number(self) -> int:
        """Which night of the count it is, 1-based: its rotation slice."""
        return self.day % self.count + 1

    @property
    def suffix(self) -> str:
        """The run id's ending: night number of count."""
        return f"-n{self.number}of{self.count}"


def tonight(nights: int, day: int) -> Night | None:
    """The night UTC day number day is, or None for a campaign that runs
    whole every night."""
    return None if nights <= 1 else Night(day, nights)


def triple_of(case: Case) -> Triple:
    return (case.target, case.fault, case.memory)


def by_triple(cases: list[Case]) -> dict[Triple, list[Case]]:
    """The cases of each triple, in plan order."""
    groups: dict[Triple, list[Case]] = {}
    for case in cases:
        groups.setdefault(triple_of(case), []).append(case)
    return groups


def night_cases(cases: list[Case], night: Night) -> list[Case]:
    """The night's cases in plan order: its rotation slice and, for each
    triple that slice has no case of, the triple's (day mod count)-th.
    cases is the whole expanded plan (each case's index its position)."""
    rotation = shard(cases, night.number, night.count)
    reached = {triple_of(c) for c in rotation}
    taken = {c.index for c in rotation} | {group[night.day % len(group)].index
                                           for triple, group in by_triple(cases).items() if triple not in reached}
    return [c for c in cases if c.index in taken]


def night_note(name: str, night: Night, cases: list[Case]) -> str:
    """What a run of the night plans, for the log and --dry-run."""
    return (f"[campaign] {name} covers its matrix in {night.count} nights: tonight (night "
            f"{night.number}/{night.count}): {len(cases)} cases, every one of {len(by_triple(cases))} "
            f"(target, fault, memory) triples")
