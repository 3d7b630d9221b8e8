"""Campaign files, their expansion, the SQLite history and batching."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import run_cli

from uafault_harness.campaign.batch import Progress, batches
from uafault_harness.campaign.known_issues import case_globs, expected_verdict, load_known_issues
from uafault_harness.campaign.spec import (DEFAULT_PAIRS, Case, contract_offsets, expand, load_campaign, parse_shard,
                                          select_targets, shard)
from uafault_harness.core.coverage import Coverage, SourceFile
from uafault_harness.campaign.store import SCHEMA, CaseVerdict, History, RunInfo, Store, merge_into
from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.core.paths import PROJECT_ROOT
from uafault_harness.guest.protocol import (HPAGE, PAGE, FaultKinds, ListedTarget, parse_fault_kinds,
                                            parse_memory_folios, parse_memory_kinds, parse_target)
from uafault_harness.guest.modules import Modules

KINDS = ("none", "unmapped", "uffd_munmap", "fork_cow", "smap")
FAULT_KINDS = FaultKinds(KINDS, frozenset({"smap"}), frozenset(), {"uffd_munmap": 100, "fork_cow": 0, "smap": 0})
ORDINARY = frozenset(KINDS) - {"smap"}
LISTED = [ListedTarget("copy_from_user", "uafault", False, 0, ORDINARY),
          ListedTarget("copy_to_user", "uafault", False, 0, ORDINARY),
          ListedTarget("get_user", "uafault", False, 8, ORDINARY),
          ListedTarget("pin_dma_write", "uafault", False, 0, ORDINARY),
          ListedTarget("raw_deref", "uafault", True, 0, frozenset({"smap"})),
          ListedTarget("example_pin_buffer", "uafault_example", False, 0, ORDINARY)]
TARGETS = [t.name for t in LISTED]
CRASHING = {t.name for t in LISTED if t.crashes}


def chosen(names: list[str]) -> list[ListedTarget]:
    return [t for t in LISTED if t.name in names]

GOOD = """\
# a comment
[campaign]
name = "t"
kernels = ["plain", "kasan"]
targets = ["copy_*", "raw_deref"]
faults = ["none", "smap"]
sizes = [0, 64]
offsets = [-1]
seeds = [1, 2]
repetitions = 2
budget = "2m"
batch = 3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_expansion_is_ordered_deterministic_and_ids_are_stable(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, GOOD), KINDS)
    assert campaign.budget_seconds == 120 and campaign.batch == 3
    targets = select_targets(campaign, TARGETS, CRASHING)
    assert targets == ["copy_from_user", "copy_to_user", "raw_deref"]
    cases = expand(campaign, chosen(targets), FAULT_KINDS)
    # 2 variants x (2 copy targets x none + raw_deref x smap) x 2 sizes x 2 seeds x 2 reps
    assert len(cases) == 2 * 3 * 2 * 2 * 2
    assert [c.index for c in cases] == list(range(len(cases)))
    assert all((c.fault == "smap") == (c.target == "raw_deref") for c in cases)
    assert len({c.case_id for c in cases}) == len(cases)
    again = expand(load_campaign(write(tmp_path, GOOD), KINDS), chosen(targets), FAULT_KINDS)
    assert [c.case_id for c in again] == [c.case_id for c in cases]
    # An id names the parameters, not the position: a shorter plan keeps it.
    first = cases[0]
    assert first.case_id == Case(99, first.kernel, first.target, first.fault, first.size, first.offset,
                                 first.seed, first.rep).case_id
    assert first.agent_line() == f"{first.case_id} copy_from_user none 0 -1 1"


@pytest.mark.parametrize("change, line, key", [
    (('faults = ["none", "smap"]', 'faults = ["none", "smapp"]'), 6, "faults"),
    (('batch = 3', 'batch = 0'), 12, "batch"),
    (('budget = "2m"', 'budget = "soon"'), 11, "budget"),
    (('sizes = [0, 64]', 'sizes = [0, 999999]'), 7, "sizes"),
    (('offsets = [-1]', 'offsets = ["x"]'), 8, "offsets"),
    (('kernels = ["plain", "kasan"]', 'kernels = ["ubsan"]'), 4, "kernels"),
    (('kernels = ["plain", "kasan"]', 'kernels = ["plain"]\nvariants = ["plain"]'), 5, "variants"),
    (('seeds = [1, 2]', 'seeds = [1, 2]\nrepeats = 3'), 10, "repeats"),
    (('batch = 3', 'batch = 3\nmodules = ["variant"]'), 13, "modules"),
    (('batch = 3', 'batch = 3\nmodules = ["."]'), 13, "modules"),
    (('batch = 3', 'batch = 3\nknown_issues = "nope.toml"'), 13, "known_issues"),
    (('batch = 3', 'batch = 3\nappend = "console=tty0"'), 13, "append"),
    (('batch = 3', 'batch = 3\nappend = "a=\'b c\'"'), 13, "append"),
    (('batch = 3', 'batch = 3\npairs = [["ok_*", "bad"]]'), 13, "pairs"),
    (('batch = 3', 'batch = 3\npairs = [["ok_*"]]'), 13, "pairs"),
])
def test_errors_name_file_line_and_key(tmp_path: Path, change: tuple[str, str], line: int, key: str) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(HarnessError) as err:
        load_campaign(path, KINDS)
    assert err.value.code is ExitCode.BAD_CONFIG
    assert str(err.value).startswith(f"{path}:{line}: {key}: ")


def test_a_users_module_known_issues_append_and_pairs(tmp_path: Path) -> None:
    """Paths are the file's: a module directory and a known-issues file
    next to it, wherever the harness runs from."""
    drv = tmp_path / "drivers" / "mine"
    drv.mkdir(parents=True)
    (drv / "Makefile").write_text("obj-m += mine.o\n")
    (tmp_path / "known.toml").write_text("")
    path = write(tmp_path, GOOD + 'modules = ["variants", "drivers/mine", "./drivers/mine/"]\n'
                 'known_issues = "known.toml"\nappend = " transparent_hugepage=always  nokaslr"\n'
                 'pairs = [["mine_*_ok", "mine_*_bad"]]\n')
    campaign = load_campaign(path, KINDS)
    assert campaign.modules == Modules(True, (drv.resolve(),))
    assert campaign.modules.entries == ["variants", str(drv.resolve())]
    assert campaign.known_issues == (tmp_path / "known.toml").resolve()
    assert campaign.append == "transparent_hugepage=always nokaslr"
    assert campaign.pairs == (("mine_*_ok", "mine_*_bad"),)
    plain = load_campaign(write(tmp_path, GOOD), KINDS)
    assert plain.modules == Modules() and plain.known_issues is None and not plain.append
    assert plain.pairs == DEFAULT_PAIRS


def test_bad_toml_and_missing_table_are_config_errors(tmp_path: Path) -> None:
    for text, words in (("[campaign\n", "not valid TOML"), ("x = 1\n", "x: unknown table or key"),
                        ("", "no [campaign] table")):
        with pytest.raises(HarnessError) as err:
            load_campaign(write(tmp_path, text), KINDS)
        assert err.value.code is ExitCode.BAD_CONFIG and words in str(err.value)


def test_a_glob_matching_nothing_is_an_error_and_crashers_need_their_name(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, GOOD.replace('"copy_*", "raw_deref"', '"*"')), KINDS)
    assert "raw_deref" not in select_targets(campaign, TARGETS, CRASHING)
    campaign = load_campaign(write(tmp_path, GOOD.replace('"copy_*"', '"cpy_*"')), KINDS)
    with pytest.raises(HarnessError, match=r"c.toml:5: targets: 'cpy_\*' matches none"):
        select_targets(campaign, TARGETS, CRASHING)


def test_a_bang_glob_takes_back_what_the_globs_before_it_chose(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, GOOD.replace('"copy_*", "raw_deref"', '"*", "!*_user", "!pin_*"')), KINDS)
    assert select_targets(campaign, TARGETS, CRASHING) == ["example_pin_buffer"]
    # A take-back that matches nothing chosen is a typo, too.
    campaign = load_campaign(write(tmp_path, GOOD.replace('"copy_*", "raw_deref"', '"copy_*", "!pin_*"')), KINDS)
    with pytest.raises(HarnessError, match=r"targets: '!pin_\*' matches none of: copy_from_user, copy_to_user"):
        select_targets(campaign, TARGETS, CRASHING)


def families() -> list[str]:
    """The registry's families in its order (harness/agent/faults.c)."""
    source = (PROJECT_ROOT / "harness" / "agent" / "faults.c").read_text()
    table = source[source.index("families[] = {"):]
    return re.findall(r"&(\w+)_family", table[:table.index("};")])


def kind_tables() -> str:
    """The agent's fault-kind tables, their one definition: one per family
    (harness/agent/kinds_*.c), in the registry's order."""
    text = ""
    for family in families():
        source = (PROJECT_ROOT / "harness" / "agent" / f"kinds_{family}.c").read_text()
        table = source[source.index(f"const struct fault_kind {family}_kinds[] = {{"):]
        text += table[:table.index("};")]
    return text


def agent_fault_kinds() -> tuple[str, ...]:
    """The agent's fault kinds, read from their tables."""
    return tuple(re.findall(r'^\s*\{ \.name = "(\w+)",', kind_tables(), re.M))


def variant_shapes() -> list[str]:
    """The buggy-variant catalogue's shapes, read from its one definition:
    the shapes[] table in module/variants/uafault_variants.c."""
    source = (PROJECT_ROOT / "module" / "variants" / "uafault_variants.c").read_text()
    return sorted(re.findall(r"^\s*SHAPE(?:_[A-Z]+)?\((\w+),", source, re.M))


PLANNER = """\
[campaign]
name = "p"
kernels = ["plain"]
targets = ["*", "raw_deref"]
faults = ["none", "uffd_munmap", "fork_cow", "smap"]
sizes = [0, 64]
offsets = [-1, 0, 100]
seeds = [1]
repetitions = 1
budget = "2m"
batch = 3
"""


def test_the_plan_has_no_case_that_skips_or_repeats_another(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, PLANNER), KINDS)
    cases = expand(campaign, chosen(select_targets(campaign, TARGETS, CRASHING)), FAULT_KINDS)
    listed = {t.name: t for t in LISTED}
    # Only kinds the agent said mean something for the target.
    assert all(c.fault in listed[c.target].kinds for c in cases)
    # A fixed-length target ignores size and offset: one case per kind.
    assert [(c.fault, c.size, c.offset) for c in cases if c.target == "get_user"] == [
        ("none", 0, -1), ("uffd_munmap", 0, -1), ("fork_cow", 0, -1)]
    # -1 is the kind's own start: 100 for uffd_munmap, 0 for fork_cow; "none" tries several.
    mine = [(c.fault, c.size, c.offset) for c in cases if c.target == "copy_from_user"]
    assert [o for f, s, o in mine if f == "uffd_munmap" and s == 0] == [-1, 0]
    assert [o for f, s, o in mine if f == "fork_cow" and s == 0] == [-1, 100]
    assert [o for f, s, o in mine if f == "none" and s == 0] == [-1, 0, 100]
    assert [(c.fault, c.size, c.offset) for c in cases if c.target == "raw_deref"] == [
        ("smap", 0, -1), ("smap", 0, 100), ("smap", 64, -1), ("smap", 64, 100)]


def test_the_planner_reads_what_the_agent_lists() -> None:
    target = parse_target("uafault-target: get_user uafault fixed_len=8 align=0 kinds=none,unmapped,fork_cow")
    assert target == ListedTarget("get_user", "uafault", False, 8, frozenset({"none", "unmapped", "fork_cow"}))
    raw = parse_target("uafault-target: raw_deref uafault fixed_len=0 align=0 kinds=smap crash")
    assert raw is not None and raw.crashes and raw.kinds == {"smap"}
    dio = parse_target("uafault-target: path_dio_write_brd kernel fixed_len=0 align=512 kinds=none")
    assert dio is not None and dio.align == 512 and not dio.crashes
    # An agent from before alignments listed none: its list is listed again.
    assert parse_target("uafault-target: get_user uafault fixed_len=8 kinds=none") is None
    kinds = parse_fault_kinds("none\nuffd_munmap start=100\nrace_header raced start=100\nsmap crash start=0\n")
    assert kinds.starts == {"uffd_munmap": 100, "race_header": 100, "smap": 0}


def test_the_registry_holds_every_family() -> None:
    files = sorted(p.stem.removeprefix("kinds_") for p in (PROJECT_ROOT / "harness" / "agent").glob("kinds_*.c"))
    assert sorted(families()) == files
    assert len(agent_fault_kinds()) == len(set(agent_fault_kinds())) == 32


def test_the_agent_table_says_which_targets_each_kind_needs() -> None:
    """Every kind the planner leaves out for a target, the agent's table
    (needs, results, crash_only, held) leaves out too: the rules live
    there.  movable runs wherever a range is held long-term: a module
    target's hold, a long-term path's held phase (target_holds())."""
    table = kind_tables()
    assert '.name = "movable", .run = fault_movable, .held = true' in table
    assert ".results = MESSAGES" in table.split('"trap_header"')[1].split("{")[0]
    assert ".crash_only = true" in table.split('"smap"')[1]


def test_the_old_name_of_kernels_still_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    campaign = load_campaign(write(tmp_path, GOOD.replace("kernels =", "variants =")), KINDS)
    assert campaign.kernels == ("plain", "kasan")
    assert "c.toml:4: variants: deprecated, say kernels" in capsys.readouterr().err


def test_shipped_campaigns_load(tmp_path: Path) -> None:
    kinds = agent_fault_kinds()
    assert {"none", "kernel_alias", "smap"} <= set(kinds)
    for name in ("smoke", "nightly", "variants", "longterm", "memory", "dma", "accounting"):
        campaign = load_campaign(PROJECT_ROOT / "configs" / "campaigns" / f"{name}.toml", kinds)
        assert campaign.name == name
        assert campaign.modules.variants
    # The aligned paths' starts: every one nightly, those in a large folio in `make test`.
    sets = {name: load_campaign(PROJECT_ROOT / "configs" / "campaigns" / f"{name}.toml", kinds).offset_set
            for name in ("nightly", "memory")}
    assert sets == {"nightly": "aligned", "memory": "aligned_large_folio"}


def agent_memory_kinds() -> tuple[str, ...]:
    """The agent's memory kinds, read from their one table (memory.c)."""
    source = (PROJECT_ROOT / "harness" / "agent" / "memory.c").read_text()
    table = source[source.index("const struct memory_kind memory_kinds[] = {"):]
    return tuple(re.findall(r'^\t\t\.name = "(\w+)",', table[:table.index("\n};")], re.M))


def test_the_nightly_matrix_has_every_fault_kind_and_memory_kind() -> None:
    """nightly.toml is the full matrix: a kind added to the agent and left
    out of it is a triple no night ever runs (the held kinds were)."""
    nightly = load_campaign(PROJECT_ROOT / "configs" / "campaigns" / "nightly.toml", agent_fault_kinds())
    assert len(agent_memory_kinds()) >= 13
    assert set(nightly.faults) == set(agent_fault_kinds())
    assert set(nightly.memory) == set(agent_memory_kinds())


def _cases(n: int) -> list[Case]:
    return [Case(i, "plain", "copy_from_user", "none", i, -1, 1, 0) for i in range(n)]


def test_store_keeps_the_plan_and_one_verdict_per_case(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    store = Store(db)
    cases = _cases(5)
    store.create_run(RunInfo("R1", "t", "c.toml", "d"), "6.12", "cfg", cases)
    store.record("R1", CaseVerdict(cases[0].case_id, "PASS", seconds=0.5))
    store.record("R1", CaseVerdict(cases[1].case_id, "CRASH", "BUG: x", 1.0, "excerpt"))
    with pytest.raises(sqlite3.IntegrityError):
        store.record("R1", CaseVerdict(cases[0].case_id, "FAIL"))
    with pytest.raises(sqlite3.IntegrityError):
        store.record("R1", CaseVerdict("not-planned", "PASS"))
    store.close()
    # What another process sees after this one is gone: committed verdicts.
    again = Store(db)
    assert again.planned("R1") == cases
    assert set(again.verdicts("R1")) == {cases[0].case_id, cases[1].case_id}
    assert again.verdicts("R1")[cases[1].case_id].title == "BUG: x"
    assert again.run_info("R1").spec_digest == "d"
    with pytest.raises(HarnessError) as err:
        again.run_info("R2")
    assert err.value.code is ExitCode.NO_SUCH_RUN


ALIGNED = """\
[campaign]
name = "a"
kernels = ["plain"]
targets = ["copy_from_user", "path_dio_*", "path_gup_*"]
faults = ["none", "fork_cow"]
memory = ["anon", "thp"]
sizes = [0]
offsets = [-1, 0, 4095, "aligned"]
seeds = [1]
"""
# Direct I/O's block size, a page-aligned pin, and a target of any start.
ALIGNED_LISTED = [ListedTarget("copy_from_user", "uafault", False, 0, ORDINARY),
                  ListedTarget("path_dio_write_brd", "kernel", False, 0, ORDINARY, 512),
                  ListedTarget("path_gup_test_longterm_write", "kernel", False, 0, ORDINARY, PAGE)]
# thp has large folios (--list-memory's folio=), anon a page's.
ALIGNED_KINDS = replace(FAULT_KINDS, memory={"anon": frozenset(), "thp": frozenset()}, folios={"thp": HPAGE})


def _offsets(cases: list[Case], target: str, memory: str, fault: str = "none") -> list[int]:
    return [c.offset for c in cases if c.target == target and c.memory == memory and c.fault == fault]


def test_contract_offsets_are_multiples_of_the_alignment_inside_pages_and_folios() -> None:
    assert contract_offsets(512, PAGE) == (512, 2048, PAGE - 512)
    # On a 2 MiB folio also one deep inside it, off a page boundary, and
    # one at its end: a range of more than 512 bytes crosses into the next.
    assert contract_offsets(512, HPAGE) == (512, 2048, PAGE - 512, HPAGE // 2 + 512, HPAGE - 512)
    # A page-aligned pin has no start inside a page but the head (0, the
    # file's), and page-aligned ones inside a folio.
    assert contract_offsets(PAGE, PAGE) == ()
    assert contract_offsets(PAGE, HPAGE) == (HPAGE // 2, HPAGE - PAGE)
    assert contract_offsets(2048, PAGE) == (2048,)
    assert contract_offsets(0, HPAGE) == ()
    # "aligned_large_folio": only the starts inside a large folio.
    assert contract_offsets(512, HPAGE, True) == (HPAGE // 2 + 512, HPAGE - 512)
    assert contract_offsets(512, PAGE, True) == ()
    for align in (512, 1024, 2048, 3000, PAGE):
        for folio in (PAGE, HPAGE):
            assert all(o % align == 0 and 0 < o < folio for o in contract_offsets(align, folio))


def test_aligned_adds_a_paths_contract_offsets_and_leaves_the_others_alone(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, ALIGNED), KINDS)
    assert campaign.offsets == (-1, 0, 4095) and campaign.offset_set == "aligned"
    cases = expand(campaign, ALIGNED_LISTED, ALIGNED_KINDS)
    # A path with an alignment of 512: the file's offsets, then 512, 2048
    # and PAGE - 512 on every memory, and on thp inside the huge page.
    assert _offsets(cases, "path_dio_write_brd", "anon") == [-1, 0, 4095, 512, 2048, PAGE - 512]
    assert _offsets(cases, "path_dio_write_brd", "thp") == [-1, 0, 4095, 512, 2048, PAGE - 512,
                                                            HPAGE // 2 + 512, HPAGE - 512]
    assert _offsets(cases, "path_gup_test_longterm_write", "anon") == [-1, 0, 4095]
    assert _offsets(cases, "path_gup_test_longterm_write", "thp") == [-1, 0, 4095, HPAGE // 2, HPAGE - PAGE]
    # A target without one keeps the file's offsets, on every memory.
    for memory in ("anon", "thp"):
        assert _offsets(cases, "copy_from_user", memory) == [-1, 0, 4095]
    # An offset that is the kind's own start is still planned once (fork_cow's is 0).
    assert _offsets(cases, "path_dio_write_brd", "anon", "fork_cow") == [-1, 4095, 512, 2048, PAGE - 512]
    # The cases the file's numbers give keep their ids; the agent gets the offset as it is.
    plain = expand(load_campaign(write(tmp_path, ALIGNED.replace(', "aligned"', "")), KINDS), ALIGNED_LISTED,
                   ALIGNED_KINDS)
    assert {c.case_id for c in plain} < {c.case_id for c in cases}
    assert {c.offset for c in plain} == {-1, 0, 4095}
    deep = next(c for c in cases if c.offset == HPAGE - 512)
    assert deep.agent_line().split()[3:] == ["0", str(HPAGE - 512), "1", "thp"]
    # "aligned_large_folio": the file's offsets, and only on thp the starts inside its huge page.
    large = expand(load_campaign(write(tmp_path, ALIGNED.replace('"aligned"', '"aligned_large_folio"')), KINDS),
                   ALIGNED_LISTED, ALIGNED_KINDS)
    assert _offsets(large, "path_dio_write_brd", "anon") == [-1, 0, 4095]
    assert _offsets(large, "path_dio_write_brd", "thp") == [-1, 0, 4095, HPAGE // 2 + 512, HPAGE - 512]
    assert _offsets(large, "copy_from_user", "thp") == [-1, 0, 4095]


def test_a_dry_run_shows_the_contract_offsets(tmp_path: Path) -> None:
    from uafault_harness.campaign.plan import contract_lines, describe_plan

    campaign = load_campaign(write(tmp_path, ALIGNED), KINDS)
    cases = expand(campaign, ALIGNED_LISTED, ALIGNED_KINDS)
    contract = tuple(contract_lines(cases, campaign.offsets, campaign.offset_set))
    text = describe_plan(cases, campaign.name, tmp_path / "none.db", contract)
    # 0 is fork_cow's own start: its -1 plans it (three targets, two memory kinds, two faults).
    assert (f"  per offset: -1 12, 0 6, 4095 12, 512 4, 2048 4, {PAGE - 512} 4, {HPAGE // 2 + 512} 2, "
            f"{HPAGE - 512} 2, {HPAGE // 2} 2, {HPAGE - PAGE} 2\n") in text
    assert (f"  contract offsets ('aligned') of path_dio_write_brd: 512, 2048, {PAGE - 512} on anon; "
            f"512, 2048, {PAGE - 512}, {HPAGE // 2 + 512} (1 MiB + 512), {HPAGE - 512} (2 MiB - 512) on thp") in text
    assert (f"  contract offsets ('aligned') of path_gup_test_longterm_write: "
            f"{HPAGE // 2} (1 MiB), {HPAGE - PAGE} (2 MiB - 4096) on thp") in text
    none = expand(campaign, ALIGNED_LISTED[:1], ALIGNED_KINDS)
    assert contract_lines(none, campaign.offsets, campaign.offset_set) == [
        "  contract offsets ('aligned'): none (no target of the plan has a contract alignment)"]
    assert contract_lines(none, campaign.offsets, "aligned_large_folio") == [
        "  contract offsets ('aligned_large_folio'): none (no target of the plan has a contract alignment, "
        "or no memory kind of it has large folios)"]
    # A file without an offset set says nothing of contracts.
    assert "contract offsets" not in describe_plan(cases, campaign.name, tmp_path / "none.db")


@pytest.mark.parametrize("offsets, words", [
    ('["aligned"]', "'aligned' adds to the numbers for the targets with an alignment; give at least one number"),
    ('[0, "alinged"]', "unknown offset set 'alinged'; known: aligned, aligned_large_folio"),
    ('[0, "aligned", "aligned"]', "'aligned' after 'aligned': give one offset set"),
    ('[0, "aligned_large_folio", "aligned"]', "'aligned' after 'aligned_large_folio': give one offset set "
                                              "('aligned' holds 'aligned_large_folio''s starts)"),
    ("[4096]", "4096 is out of range -1..4095"),
    ("[-2]", "-2 is out of range -1..4095"),
    ("[0, 1.5]", "1.5: must be a non-empty list of integers (-1..4095) and at most one of 'aligned', "
                 "'aligned_large_folio'"),
    ("[]", "must be a non-empty list of integers"),
    ('"aligned"', "must be a non-empty list of integers"),
])
def test_bad_offsets_name_file_line_and_key(tmp_path: Path, offsets: str, words: str) -> None:
    path = write(tmp_path, ALIGNED.replace('[-1, 0, 4095, "aligned"]', offsets))
    with pytest.raises(HarnessError) as err:
        load_campaign(path, KINDS)
    assert err.value.code is ExitCode.BAD_CONFIG
    assert str(err.value).startswith(f"{path}:8: offsets: {words}")


def test_cli_refuses_bad_offsets_before_building_anything(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    path = write(tmp_path, ALIGNED.replace('[-1, 0, 4095, "aligned"]', '["aligned"]'))
    proc = run_cli(["campaign", str(path), "--dry-run"], isolated_env)
    assert proc.returncode == ExitCode.BAD_CONFIG
    assert f"{path}:8: offsets: 'aligned' adds to the numbers" in proc.stderr
    assert not (tmp_path / "cache").exists()


def test_batches_keep_order_and_put_crashers_in_boots_of_their_own() -> None:
    cases = [Case(0, "plain", "raw_deref", "smap", 0, -1, 1, 0)] + _cases(5)
    cases += [Case(9, "kasan", "copy_to_user", "none", 0, -1, 1, 0)]
    got = batches(cases, {"raw_deref"}, 2)
    assert [(crash, [c.index for c in b]) for crash, b in got] == [
        (False, [0, 1]), (False, [2, 3]), (False, [4]), (True, [0]), (False, [9])]


def test_cli_refuses_a_bad_file_before_building_anything(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    path = write(tmp_path, GOOD.replace("batch = 3", "batch = -1"))
    proc = run_cli(["campaign", str(path)], isolated_env)
    assert proc.returncode == ExitCode.BAD_CONFIG
    assert f"{path}:12: batch: must be an integer in 1..10000" in proc.stderr
    assert not (tmp_path / "cache").exists()


def test_progress_is_a_log_line_off_a_terminal_and_one_status_line_on_it(capsys: pytest.CaptureFixture[str]) -> None:
    log = Progress(3, tty=False)
    log.show(CaseVerdict("a.none.1", "PASS"))
    log.show(CaseVerdict("b.none.2", "CRASH", "BUG: bad"))
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[campaign] PASS a.none.1 (1/3, ")
    assert out[1].startswith("[campaign] CRASH b.none.2 [BUG: bad] (2/3, ")
    tty = Progress(3, tty=True)
    tty.show(CaseVerdict("a.none.1", "PASS"))
    tty.show(CaseVerdict("b.none.2", "CRASH", "BUG: bad"))
    out = capsys.readouterr().out
    assert "PASS a.none.1" not in out and "\r\033[K[campaign] CRASH b.none.2 [BUG: bad]\n" in out
    assert out.rsplit("\r\033[K", 1)[1].startswith("2/3 ") and "failures 1" in out and "BUG: bad x1" in out


@pytest.mark.parametrize("run_ids", [("R-s1of2", "R-s2of2"), ("nightly-7", "nightly-7")],
                         ids=["own-ids", "one-run-id"])
def test_two_shards_merged_are_the_whole_plan(tmp_path: Path, isolated_env: dict[str, str],
                                              run_ids: tuple[str, str]) -> None:
    campaign = load_campaign(write(tmp_path, GOOD), KINDS)
    plan = expand(campaign, chosen(select_targets(campaign, TARGETS, CRASHING)), FAULT_KINDS)
    verdict_of = {c.case_id: ("PASS" if c.index % 3 else "FAIL") for c in plan}
    dbs = []
    for i, run_id in enumerate(run_ids, 1):
        part = shard(plan, i, 2)
        assert part == shard(plan, i, 2) and 0 < len(part) < len(plan)
        store = Store(tmp_path / f"shard{i}.db")
        store.create_run(RunInfo(run_id, "t", "c.toml", "d"), "6.12", "cfg", part, (("ok_*", "bad_*"),))
        for c in part:
            store.record(run_id, CaseVerdict(c.case_id, verdict_of[c.case_id]))
        # Each shard's --coverage of its first case.
        store.record_coverage(run_id, Coverage({"mm/gup.c": SourceFile("mm/gup.c", "/src/gup.c", {1, 2, 3})},
                                               {part[0].case_id: {"mm/gup.c": {i}}}))
        store.close()
        dbs.append(tmp_path / f"shard{i}.db")
    into = tmp_path / "all.db"
    proc = run_cli(["merge", "--into", str(into), *map(str, dbs)], isolated_env)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(plan)} cases" in proc.stdout
    # Merging again adds nothing.
    assert merge_into(into, dbs) == {"runs": 0, "cases": 0, "pairs": 0, "verdicts": 0, "coverage_files": 0,
                                     "coverage": 0}
    with History(into) as stored:
        covered = {case: by_file["mm/gup.c"] for r in dict.fromkeys(run_ids)
                   for case, by_file in stored.coverage(r).hits.items()}
    assert sorted(covered.values(), key=min) == [{1}, {2}]
    merged = Store(into)
    with History(into) as stored:
        assert {stored.pairs(r) for r in run_ids} == {(("ok_*", "bad_*"),)}
    runs = sorted(set(run_ids))
    got = {k: v for r in runs for k, v in merged.verdicts(r).items()}
    assert {k: v.verdict for k, v in got.items()} == verdict_of
    assert sorted((c for r in runs for c in merged.planned(r)), key=lambda c: c.index) == plan


def test_shard_argument() -> None:
    assert parse_shard("2/3") == (2, 3)
    assert parse_shard("0/3") is None and parse_shard("4/3") is None and parse_shard("a/b") is None


def test_known_issues_turn_failures_into_xfail_and_passes_into_xpass(tmp_path: Path) -> None:
    path = tmp_path / "known.toml"
    path.write_text('# bugs\n[[issue]]\ntarget = "variant_*"\nfault = "fork_*"\nreason = "CVE-2020-29374"\n')
    known = load_known_issues(path)
    hit = Case(0, "plain", "variant_ro_pin", "fork_cow", 0, -1, 1, 0)
    miss = Case(1, "plain", "variant_ro_pin", "none", 0, -1, 1, 0)
    assert expected_verdict("FAIL", hit, known) == ("XFAIL", "CVE-2020-29374")
    assert expected_verdict("CRASH", hit, known)[0] == "XFAIL"
    assert expected_verdict("PASS", hit, known)[0] == "XPASS"
    assert expected_verdict("SKIP", hit, known)[0] == "SKIP"
    assert expected_verdict("FAIL", miss, known) == ("FAIL", "")
    assert load_known_issues(tmp_path / "none.toml") == ()
    path.write_text('[[issue]]\ntarget = "x"\nreason = "y"\n\n[[issue]]\ntarget = "x"\nfualt = "y"\n')
    with pytest.raises(HarnessError, match=r"known.toml:5: fualt: issue 2"):
        load_known_issues(path)
    path.write_text('[[issue]]\ntarget = "x"\nreason = "y"\nstrict = "no"\n')
    with pytest.raises(HarnessError, match=r"known.toml:1: strict: issue 1: must be true or false"):
        load_known_issues(path)


def test_a_known_issue_that_is_not_strict_leaves_passes_alone(tmp_path: Path) -> None:
    path = tmp_path / "known.toml"
    path.write_text('[[issue]]\ntarget = "variant_*"\nstrict = false\nreason = "buggy on purpose"\n')
    known = load_known_issues(path)
    case = Case(0, "plain", "variant_struct_padding", "unmapped", 0, -1, 1, 0)
    assert expected_verdict("PASS", case, known) == ("PASS", "")
    assert expected_verdict("FAIL", case, known) == ("XFAIL", "buggy on purpose")
    assert expected_verdict("CRASH", case, known)[0] == "XFAIL"


def test_a_guest_run_hands_the_agent_its_kernels_known_issues_as_case_globs(tmp_path: Path) -> None:
    """`guest` and `test` pass the agent --known-issue "target.kind" for the
    issues of the kernel they boot; the agent turns those failures into
    SKIPs that say XFAIL (its notes kept)."""
    from uafault_harness.guest.runner import AGENT_KNOWN_ISSUE, GuestRequest, agent_argv

    path = tmp_path / "known.toml"
    path.write_text('[[issue]]\ntarget = "path_a"\nfault = "fail_nth"\nreason = "r"\n\n'
                    '[[issue]]\nkernel = "kasan"\ntarget = "path_b"\nreason = "r"\n')
    known = load_known_issues(path)
    assert case_globs(known, "plain") == ("path_a.fail_nth",)
    assert case_globs(known, "kasan") == ("path_a.fail_nth", "path_b.*")
    artefacts = SimpleNamespace(loaded=lambda request: (), params=lambda m: "", built_from=lambda m: None)
    argv = agent_argv(artefacts, GuestRequest(known_issues=case_globs(known, "kasan")))  # type: ignore[arg-type]
    assert argv[argv.index(AGENT_KNOWN_ISSUE):] == (AGENT_KNOWN_ISSUE, "path_a.fail_nth", AGENT_KNOWN_ISSUE, "path_b.*")
    assert argv[:2] == ("--dma", "direct")


def test_shipped_known_issues_cover_every_variant_loosely() -> None:
    known = load_known_issues(PROJECT_ROOT / "configs" / "known-issues.toml")
    shapes = variant_shapes()
    assert len(shapes) >= 10
    variants = [i for i in known if i.target.startswith("variant_")]
    assert sorted(i.target for i in variants) == sorted(f"variant_{s}" for s in shapes)
    assert not any(i.strict for i in variants)
    # The rest are the kernel's own, found on its paths or on one guest
    # kernel's DMA mapping.
    assert all(i.target.startswith("path_") or i.kernel != "*" for i in known if i not in variants)


def _fake_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_batch: object,
                   build_seconds: float = 0.0) -> tuple[ExitCode, str]:
    """run_campaign with the guest faked: its build takes build_seconds of
    a fake clock, and run_batch stands in for the boots."""
    from uafault_harness.campaign import batch, plan, runner
    from uafault_harness.core.paths import Layout

    clock = [0.0]
    guest = SimpleNamespace(artefacts=SimpleNamespace(agent=tmp_path / "agent"), kernel_text="6.12.118",
                            kernel=SimpleNamespace(image=None))

    def build(*_: object) -> object:
        clock[0] += build_seconds
        return guest

    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(plan, "prepare_guest", build)
    monkeypatch.setattr(runner, "prepare_guest", build)
    monkeypatch.setattr(plan, "agent_facts", lambda _agent: FaultKinds(("none",), frozenset(), frozenset()))
    monkeypatch.setattr(plan, "list_targets", lambda *_: [LISTED[0]])
    monkeypatch.setattr(plan, "config_digest", lambda *_: "cfg")
    monkeypatch.setattr(batch, "run_batch", run_batch)
    spec = write(tmp_path, GOOD.replace('targets = ["copy_*", "raw_deref"]', 'targets = ["copy_from_user"]')
                 .replace('faults = ["none", "smap"]', 'faults = ["none"]').replace('"2m"', '"1m"'))
    layout = Layout(project=PROJECT_ROOT, cache=tmp_path, tree=tmp_path, user_tree=True, results=tmp_path / "r")
    return runner.run_campaign(layout, runner.CampaignRequest(spec, 1))


def test_the_budget_starts_once_the_kernels_are_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--budget is time for cases: a cold kernel build before them (10,000 s
    here, on a fake clock) must not spend it."""
    def run_batch(_guest: object, store: Store, run_id: str, _crash: bool, cases: list[Case],
                  *_: object, **__: object) -> set[str]:
        for c in cases:
            store.record(run_id, CaseVerdict(c.case_id, "PASS"))
        return {c.case_id for c in cases}

    code, message = _fake_campaign(tmp_path, monkeypatch, run_batch, build_seconds=10_000)
    assert code is ExitCode.OK, message


def test_a_bug_in_a_boot_fails_the_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception of ours in a guest's thread must not end the run as if
    every case had passed."""
    def run_batch(*_: object, **__: object) -> set[str]:
        raise KeyError("a bug")

    with pytest.raises(HarnessError) as err:
        _fake_campaign(tmp_path, monkeypatch, run_batch)
    assert err.value.code is ExitCode.RUN_FAILED and "KeyError: 'a bug'" in str(err.value)


MEMORY_KINDS = replace(FAULT_KINDS, memory={"anon": frozenset(), "thp": frozenset(),
                                            "zero": frozenset({"fork_cow", "uffd_munmap"})})


def test_memory_is_a_dimension_whose_default_keeps_the_old_ids(tmp_path: Path) -> None:
    plain = expand(load_campaign(write(tmp_path, PLANNER), KINDS), chosen(["copy_from_user"]), MEMORY_KINDS)
    both = expand(load_campaign(write(tmp_path, PLANNER.replace("seeds = [1]", 'seeds = [1]\nmemory = ["anon", "zero"]')),
                                KINDS, ("anon", "thp", "zero")), chosen(["copy_from_user"]), MEMORY_KINDS)
    anon = [c for c in both if c.memory == "anon"]
    # The default memory adds nothing to an id: a plan from before keeps its ids.
    assert [c.case_id for c in anon] == [c.case_id for c in plain]
    zero = [c for c in both if c.memory == "zero"]
    # A kind the memory rules out is never planned on it.
    assert {c.fault for c in zero} == {"none"} and {c.fault for c in anon} == {"none", "uffd_munmap", "fork_cow"}
    assert not {c.case_id for c in zero} & {c.case_id for c in anon}
    assert zero[0].agent_line().endswith(" zero") and not anon[0].agent_line().endswith(" anon")


def test_an_unknown_memory_kind_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("seeds = [1, 2]", 'seeds = [1, 2]\nmemory = ["anon", "hugetlb"]'))
    with pytest.raises(HarnessError) as err:
        load_campaign(path, KINDS, ("anon", "thp"))
    assert "c.toml:10: memory: unknown value 'hugetlb'" in str(err.value)


def test_the_agents_kinds_are_checked_without_reading_the_file_again(tmp_path: Path) -> None:
    """The pipeline loads the file once and checks its kinds once the agent
    is built: the same errors, the same lines, as loading it with them."""
    from uafault_harness.campaign.spec import check_kinds

    for text in (GOOD.replace("seeds = [1, 2]", 'seeds = [1, 2]\nmemory = ["anon", "hugetlb"]'),
                 GOOD.replace('faults = ["none", "smap"]', 'faults = ["none", "smp"]')):
        path = write(tmp_path, text)
        with pytest.raises(HarnessError) as loaded:
            load_campaign(path, KINDS, ("anon", "thp"))
        campaign = load_campaign(path, None)
        path.unlink()
        with pytest.raises(HarnessError) as checked:
            check_kinds(campaign, KINDS, ("anon", "thp"))
        assert str(checked.value) == str(loaded.value) and checked.value.code is loaded.value.code
    check_kinds(load_campaign(write(tmp_path, GOOD), None), KINDS, ("anon",))


def test_the_planner_reads_the_agents_memory_kinds() -> None:
    listed = "anon\nzero skip=swapped,fork_cow\nthp folio=2097152 skip=swapped\n"
    assert parse_memory_kinds(listed) == {
        "anon": frozenset(), "zero": frozenset({"swapped", "fork_cow"}), "thp": frozenset({"swapped"})}
    assert parse_memory_folios(listed) == {"thp": 2097152}
    source = (PROJECT_ROOT / "harness" / "agent" / "memory.c").read_text()
    # The first kind is the default, whatever the host calls it.
    assert re.search(r'memory_kinds\[\] = \{\s*\{\s*\.name = "anon"', source)


def test_callers_are_a_dimension_whose_default_keeps_the_old_ids(tmp_path: Path) -> None:
    """`callers`: root, the default, plans what a file without the key
    planned, ids and all; user adds a case of its own per plan, after its
    root twin, whose --cases line ends in its memory kind and caller."""
    targets = chosen(select_targets(load_campaign(write(tmp_path, GOOD), KINDS), TARGETS, CRASHING))
    old = expand(load_campaign(write(tmp_path, GOOD), KINDS), targets, FAULT_KINDS)
    assert load_campaign(write(tmp_path, GOOD), KINDS).callers == ("root",)
    root = expand(load_campaign(write(tmp_path, GOOD + 'callers = ["root"]\n'), KINDS), targets, FAULT_KINDS)
    assert [c.case_id for c in root] == [c.case_id for c in old]
    both = expand(load_campaign(write(tmp_path, GOOD + 'callers = ["root", "user"]\n'), KINDS), targets,
                  FAULT_KINDS)
    assert len(both) == 2 * len(old)
    assert [c.case_id for c in both if c.caller == "root"] == [c.case_id for c in old]
    users = [c for c in both if c.caller == "user"]
    assert not {c.case_id for c in users} & {c.case_id for c in old}
    from uafault_harness.campaign.plan import describe_plan
    assert "per caller: root 48, user 48" in describe_plan(both, "t", tmp_path / "none.db")
    assert "per caller" not in describe_plan(old, "t", tmp_path / "none.db")
    # The caller comes after the seed, before the repetitions.
    assert [(c.caller, c.rep) for c in both[:4]] == [("root", 0), ("root", 1), ("user", 0), ("user", 1)]
    assert users[0].agent_line().endswith(" anon user") and not old[0].agent_line().endswith(" root")
    with pytest.raises(HarnessError, match="c.toml:13: callers: unknown value 'nobody'; known: root, user"):
        load_campaign(write(tmp_path, GOOD + 'callers = ["nobody"]\n'), KINDS)


def test_the_callers_are_the_agents() -> None:
    """The host's callers are protocol.h's CALLERS, the agent's table, in
    the order caller.h's enum numbers them, root first (the default)."""
    from uafault_harness.guest.protocol import CALLERS, DEFAULT_CALLER

    assert CALLERS == ("root", "user") and DEFAULT_CALLER == "root"
    header = (PROJECT_ROOT / "harness" / "agent" / "caller.h").read_text()
    assert re.search(r"enum caller \{ CALLER_ROOT, CALLER_USER \};", header)


def test_a_user_caller_case_survives_the_store(tmp_path: Path) -> None:
    case = replace(_cases(1)[0], caller="user")
    store = Store(tmp_path / "h.db")
    store.create_run(RunInfo("R1", "t", "c.toml", "d"), "6.12", "cfg", [case])
    assert store.planned("R1") == [case]


def test_a_database_from_before_memory_kinds_reads_and_merges(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    db = sqlite3.connect(old)
    schema = re.sub(r"\s*(memory TEXT NOT NULL DEFAULT 'anon'|caller TEXT NOT NULL DEFAULT 'root'),", "", SCHEMA)
    db.executescript(schema)
    case = _cases(1)[0]
    db.execute("INSERT INTO runs VALUES ('R0', 't', 'c.toml', 'd', '6.12', 'cfg', 'now')")
    db.execute("INSERT INTO cases VALUES ('R0', ?, 0, 'plain', 'copy_from_user', 'none', 0, -1, 1, 0)",
               (case.case_id,))
    db.execute("INSERT INTO verdicts VALUES ('R0', ?, 'PASS', '', 0.1, '', 'now')", (case.case_id,))
    db.commit()
    db.close()
    with History(old) as stored:
        assert [r.case for r in stored.rows("R0")] == [case]
    merged = tmp_path / "new.db"
    assert merge_into(merged, [old])["cases"] == 1
    assert Store(merged).planned("R0") == [case]
    # Opening it for writing adds the columns; its cases were anonymous
    # memory and the root caller.
    assert Store(old).planned("R0") == [case]


def test_kernel_targets_limit_a_kernel_to_some_targets(tmp_path: Path) -> None:
    """The DMA kernels differ only where a target does DMA: nightly.toml
    runs only those targets on them."""
    text = GOOD.replace('kernels = ["plain", "kasan"]', 'kernels = ["plain", "swiotlb"]\n'
                        'kernel_targets = { swiotlb = ["pin_dma_*", "copy_to_*"] }')
    text = text.replace('"copy_*", "raw_deref"', '"*"').replace('"none", "smap"', '"none"')
    campaign = load_campaign(write(tmp_path, text), KINDS)
    cases = expand(campaign, chosen(select_targets(campaign, TARGETS, CRASHING)), FAULT_KINDS)
    assert {c.target for c in cases if c.kernel == "swiotlb"} == {"pin_dma_write", "copy_to_user"}
    assert {c.target for c in cases if c.kernel == "plain"} == set(TARGETS) - CRASHING
    for bad, words in (('{ kasan = ["x"] }', "'kasan' is not one of this file's kernels"),
                       ('{ swiotlb = [] }', "swiotlb: must be a non-empty list"),
                       ('["x"]', "must be a table")):
        with pytest.raises(HarnessError, match=f"c.toml:5: kernel_targets: {words}"):
            load_campaign(write(tmp_path, text.replace('{ swiotlb = ["pin_dma_*", "copy_to_*"] }', bad)), KINDS)
    campaign = load_campaign(write(tmp_path, text.replace('"copy_to_*"', '"cpy_*"')), KINDS)
    with pytest.raises(HarnessError, match=r"c.toml:5: kernel_targets: swiotlb: 'cpy_\*' matches none"):
        expand(campaign, chosen(select_targets(campaign, TARGETS, CRASHING)), FAULT_KINDS)


def test_the_agent_takes_every_known_issue_of_any_kernel() -> None:
    """The host hands the agent one --known-issue per issue of its kernel;
    the agent has room for MAX_KNOWN."""
    import re

    from uafault_harness.guest.kernels import KERNELS

    protocol = (PROJECT_ROOT / "harness" / "agent" / "protocol.h").read_text()
    room = int(re.search(r"#define MAX_KNOWN\s+(\d+)", protocol).group(1))  # type: ignore[union-attr]
    known = load_known_issues(PROJECT_ROOT / "configs" / "known-issues.toml")
    assert max(len(case_globs(known, k)) for k in KERNELS) <= room


NIGHTS = '[campaign]\nname = "n"\nkernels = ["plain"]\ntargets = ["*"]\nfaults = ["none"]\nnights = {}\n'


def test_a_matrix_covered_over_nights_runs_one_slice_a_night(tmp_path: Path) -> None:
    from uafault_harness.campaign.nights import tonight
    spec = tmp_path / "n.toml"
    spec.write_text(NIGHTS.format(7))
    assert load_campaign(spec, None).nights == 7
    assert tonight(1, 20000) is None
    nights = [tonight(7, day) for day in range(20000, 20007)]
    assert {(n.number, n.count) for n in nights if n} == {(i, 7) for i in range(1, 8)}
    cases = [SimpleNamespace(index=i) for i in range(50)]
    rotation = [c.index for n in nights if n for c in shard(cases, n.number, n.count)]  # type: ignore[arg-type]
    assert sorted(rotation) == list(range(50))  # seven nights' rotation: the whole matrix, once
    spec.write_text(NIGHTS.format(0))
    with pytest.raises(HarnessError, match=r"n.toml:6: nights"):
        load_campaign(spec, None)

