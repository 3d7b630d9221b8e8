"""The `memory` layer of `test`: every memory kind holds under the fault
kinds that mean something on it.  The memory campaign
(configs/campaigns/memory.toml) must give no correct target a failure on
any memory, run cases on every kind, and catch the FOLL_GET leak variant
on every kind where a short take can be planted and seen,
and on ext4_shared the variant that marks its pages dirty only
before its device's write, on every writeback_window case (its twin
passing each), and the folio-walk variant on thp_scrambled, whose
pages are one huge page's out of order.  A second boot
turns transparent huge pages off: every `thp` case must then be a set-up
failure that says the page is not huge, never a pass."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..campaign.store import DB_NAME, History, Row
from ..core.paths import Layout
from ..core.results import LayerResult
from ..core.verdicts import BAD, SETUP_FAILED, Verdict, ktap_result
from ..guest.protocol import agent_args
from ..guest.runner import KTAP_NAME
from .campaign_layers import checks_layer, cli_command, run_campaign_file, run_logged
from .path_oracles_layer import artefacts_of

MEMORY = Path("configs/campaigns/memory.toml")
LAYER_DIR = "memory"
LEAK_VARIANT = "variant_get_leak_on_error"
# Where the leak cannot be seen: GUP-fast never takes the zero page, no
# 4 KiB hole (so no short take) can be planted in a hugetlb page, and GUP
# takes no page of a VM_PFNMAP range at all.
NO_REFERENCES = frozenset({"zero", "hugetlb", "pfnmap"})
NOT_HUGE = "thp memory: page 0 is not a transparent huge page"
# Targets that pin FOLL_LONGTERM | FOLL_WRITE: on ext4_shared GUP refuses
# them whole (-EFAULT), which their PASS under `none` says.
NO_LONGTERM_WRITE = "ext4_shared"
LONGTERM_WRITERS = ("pin_dma_write", "path_io_uring_read_fixed", "path_gup_test_longterm_write")
# A device write that never marked its pages dirty: only memory a disk
# backs loses it, which the writeback oracle sees.
DIRTY_VARIANT = "variant_write_without_dirty"
# A device write into pages its FOLL_WRITE pin left dirty, never marked
# dirty after it: lost only when writeback cleans the pages between the
# pin and the write, which writeback_window makes happen on every run
# (uafault.ko's UAFAULT_RUN_WRITEBACK).  The twin marks them dirty after
# the write and must pass there: a PASS, not a case the window missed.
WINDOW = "writeback_window"
WINDOW_VARIANT = "variant_dirty_before_io"
WINDOW_TWIN = "twin_dirty_before_io"
# A driver that lets go of its pin but keeps using the pages: truncation
# frees them, and init_on_free zeroes what the driver still reads
# ([pinned-contents]), on every file kind; move_pages() asks for exactly
# its pages on the other node and gets them ([migrated]), on every kind
# the range can be pinned in.  Compaction moving them is not checked here:
# whether it does depends on where the allocator put the pages against
# compaction's scanners, so that catch belongs to campaigns.
EARLY_VARIANT = "variant_early_unpin"
EARLY_CATCHES = (("truncate", "[pinned-contents]"), ("migrate", "[migrated]"))
# What a driver keeps for a device to write: a long-term write pin, which
# ext4_shared refuses.  The twin's hold gets the refusal and every kind that
# holds it must pass on it; the variant keeps the buffer with a short-term
# pin, which ext4 does not refuse, and a kind that holds it says so.
WRITE_HOLD_TWIN = "twin_shortterm_write_hold"
WRITE_HOLD_VARIANT = "variant_shortterm_write_hold"
HOLDING_KINDS = frozenset({"fork_cow", "dontneed", "movable", "split", "compact", "migrate", "truncate", "writeback"})
KEPT_REFUSED = "memory, which refuses a long-term"
# shmem: swapped out with no swap entry in the page table (smaps proves it),
# and missing to userfaultfd only once its page is punched out of the file.
SHMEM_KINDS = frozenset({"shared", "memfd", "tmpfs_private"})
SHMEM_FAULTS = ("swapped", "uffd_munmap")
# A driver that walks a buffer whose first and last pages are one folio's
# as that folio from its first page on: only memory whose pages are one
# folio's out of order shows it, as the bytes the device read ([csum]).
SCRAMBLED = "thp_scrambled"
FOLIO_WALK_VARIANT = "variant_folio_walk"
# A case of a suite: an indented result line.


def campaign_checks(rows: list[Row]) -> dict[str, bool]:
    """What the memory campaign's verdicts must show, per memory kind."""
    kinds = sorted({r.case.memory for r in rows})
    checks: dict[str, bool] = {"the campaign ran every memory kind of its file": len(kinds) > 1}
    for memory in kinds:
        mine = [r for r in rows if r.case.memory == memory]
        wrong = [f"{r.case.case_id} {r.verdict} {r.title}" for r in mine
                 if r.verdict in BAD and not r.case.target.startswith("variant_")]
        checks[f"{memory}: no correct target failed ({'; '.join(wrong[:2])})" if wrong
               else f"{memory}: no correct target failed"] = not wrong
        checks[f"{memory}: cases passed"] = any(r.verdict == Verdict.PASS for r in mine)
        if memory == NO_LONGTERM_WRITE:
            checks[f"{memory}: [writeback] caught {DIRTY_VARIANT}"] = any(
                r.case.target == DIRTY_VARIANT and r.title.startswith("[writeback]") for r in mine)
            window = [r for r in mine if r.case.fault == WINDOW]
            checks[f"{memory}: {WINDOW} caught {WINDOW_VARIANT} on every case ([writeback])"] = all(
                r.title.startswith("[writeback]") for r in window if r.case.target == WINDOW_VARIANT) and any(
                r.case.target == WINDOW_VARIANT for r in window)
            twins = [r for r in window if r.case.target == WINDOW_TWIN]
            checks[f"{memory}: {WINDOW_TWIN} passed {WINDOW} on every case"] = (
                bool(twins) and all(r.verdict == Verdict.PASS for r in twins))
            refused = [r for r in mine if r.case.target in LONGTERM_WRITERS and r.case.fault == "none"]
            checks[f"{memory}: every long-term write pin refused whole"] = (
                {r.case.target for r in refused} == set(LONGTERM_WRITERS) and all(r.verdict == Verdict.PASS for r in refused))
            held = [r for r in mine if r.case.target == WRITE_HOLD_TWIN and r.case.fault in HOLDING_KINDS]
            checks[f"{memory}: {WRITE_HOLD_TWIN}'s refused hold passed under every kind that holds it "
                   f"({', '.join(sorted({r.case.fault for r in held})) or 'none ran'})"] = (
                bool(held) and all(r.verdict == Verdict.PASS for r in held))
            checks[f"{memory}: [result] caught {WRITE_HOLD_VARIANT} keeping a range the memory refuses"] = any(
                r.case.target == WRITE_HOLD_VARIANT and r.case.fault in HOLDING_KINDS and r.title.startswith("[result]")
                and KEPT_REFUSED in r.title for r in mine)
        for fault, tag in EARLY_CATCHES:
            if any(r.case.fault == fault for r in mine):
                checks[f"{memory}: {tag} caught {EARLY_VARIANT} under {fault}"] = any(
                    r.case.target == EARLY_VARIANT and r.case.fault == fault and r.title.startswith(tag)
                    for r in mine)
        if memory in SHMEM_KINDS:
            for fault in SHMEM_FAULTS:
                checks[f"{memory}: {fault} set up and passed"] = any(
                    r.case.fault == fault and r.verdict == Verdict.PASS for r in mine)
        if memory == SCRAMBLED:
            checks[f"{memory}: [csum] caught {FOLIO_WALK_VARIANT}"] = any(
                r.case.target == FOLIO_WALK_VARIANT and r.title.startswith("[csum]") for r in mine)
        if memory not in NO_REFERENCES:
            checks[f"{memory}: [refs] caught {LEAK_VARIANT}"] = any(
                r.case.target == LEAK_VARIANT and r.title.startswith("[refs]") for r in mine)
    return checks


def thp_off_checks(layout: Layout, out: Path, jobs: int) -> dict[str, bool]:
    """THP off on the command line: the thp kind's precondition fails."""
    log = out / "thp-never.log"
    rc = run_logged(layout, cli_command(layout, jobs, "guest", "--append", "transparent_hugepage=never",
                                        "--agent-args",
                                        agent_args(memory="thp", targets="copy_from_user", faults="none,unmapped")),
                    log)
    where = artefacts_of(log.read_text(errors="replace"))
    ktap = (where / KTAP_NAME).read_text(errors="replace") if where and (where / KTAP_NAME).is_file() else ""
    cases = [r for r in map(ktap_result, ktap.splitlines()) if r and r.indent]
    return {f"with THP off the boot ran (exit {rc})": rc == 0 and bool(cases),
            "with THP off every thp case is a set-up failure":
                bool(cases) and all(r.ok and r.skipped and r.reason == SETUP_FAILED for r in cases),
            "... which says the page is not huge": NOT_HUGE in ktap}


def broken_memory_checks(layout: Layout, out: Path, jobs: int) -> dict[str, bool]:
    """Each memory kind's promise undone before its proof (--break-memory):
    every kind's case must be a set-up failure naming the kind."""
    log = out / "break-memory.log"
    rc = run_logged(layout, cli_command(layout, jobs, "guest", "--agent-args",
                                        agent_args(break_memory=True, targets="copy_from_user")), log)
    where = artefacts_of(log.read_text(errors="replace"))
    ktap = (where / KTAP_NAME).read_text(errors="replace") if where and (where / KTAP_NAME).is_file() else ""
    cases = {r.name: "ok" if r.ok else "not ok" for r in map(ktap_result, ktap.splitlines())
             if r and r.indent and not r.skipped}
    checks = {f"with each memory kind undone the boot ran (exit {rc})": rc == 0}
    # memory.toml runs every kind the agent has (its own layer check).
    kinds = tomllib.loads((layout.project / MEMORY).read_text())["campaign"]["memory"]
    for kind in kinds:
        checks[f"{kind}: its proof caught the undone precondition"] = cases.get(kind) == "ok"
    return checks


def run_memory_layer(layout: Layout, run_dir: Path, jobs: int) -> LayerResult:
    layer = "memory"
    out = run_dir / LAYER_DIR
    rc, run_id, _ = run_campaign_file(layout, out, jobs, MEMORY, "memory")
    checks: dict[str, bool] = {f"the memory campaign ran (exit {rc})": run_id is not None}
    if run_id is not None:
        with History(layout.results_root / DB_NAME) as stored:
            checks.update(campaign_checks(stored.rows(run_id)))
    checks.update(thp_off_checks(layout, out, jobs))
    checks.update(broken_memory_checks(layout, out, jobs))
    return checks_layer(layer, checks, out, out, "every memory kind holds, its precondition is proven")
