"""A matrix covered over nights: every night reaches every (target, fault,
memory) triple, N nights in a row run every case, and --shard stays a
partition (campaign/nights.py)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_campaign import CRASHING, KINDS, LISTED, MEMORY_KINDS, PLANNER, TARGETS, chosen, write

from uafault_harness.campaign.nights import Night, by_triple, night_cases, night_note, tonight, triple_of
from uafault_harness.campaign.spec import Case, expand, load_campaign, select_targets, shard
from uafault_harness.campaign.store import Store
from uafault_harness.core.paths import PROJECT_ROOT, Layout

DAY = 20_430  # a UTC day number: 2025-12-09
MATRIX = PLANNER.replace('kernels = ["plain"]', 'kernels = ["plain", "kasan"]').replace(
    "seeds = [1]", 'seeds = [1, 2]\nmemory = ["anon", "thp", "zero"]')


def matrix(tmp_path: Path) -> list[Case]:
    """A synthetic matrix whose triples range from 4 cases (a fixed-length
    target) to 24, in the planner's order (from a file of its own: the
    tests' campaign file is c.toml)."""
    path = tmp_path / "matrix.toml"
    path.write_text(MATRIX)
    campaign = load_campaign(path, KINDS, ("anon", "thp", "zero"))
    cases = expand(campaign, chosen(select_targets(campaign, TARGETS, CRASHING)), MEMORY_KINDS)
    sizes = {len(group) for group in by_triple(cases).values()}
    assert min(sizes) == 4 and max(sizes) == 24
    return cases


@pytest.mark.parametrize("nights", [2, 7, 10, 48])
def test_every_night_reaches_every_triple_and_n_nights_every_case(tmp_path: Path, nights: int) -> None:
    cases = matrix(tmp_path)
    triples = set(by_triple(cases))
    covered: set[str] = set()
    for day in range(DAY, DAY + nights):
        night = tonight(nights, day)
        assert night is not None
        tonight_cases = night_cases(cases, night)
        assert {triple_of(c) for c in tonight_cases} == triples
        # In plan order, each case as the plan has it; the rotation whole.
        assert [c.index for c in tonight_cases] == sorted(c.index for c in tonight_cases)
        assert set(shard(cases, night.number, nights)) <= set(tonight_cases) <= set(cases)
        assert len(tonight_cases) <= math.ceil(len(cases) / nights) + len(triples)
        covered |= {c.case_id for c in tonight_cases}
    assert covered == {c.case_id for c in cases}


def test_a_night_is_the_same_on_every_call_and_differs_from_the_next(tmp_path: Path) -> None:
    cases = matrix(tmp_path)
    first = night_cases(cases, Night(DAY, 7))
    assert night_cases(list(cases), Night(DAY, 7)) == first == night_cases(matrix(tmp_path), Night(DAY, 7))
    assert night_cases(cases, Night(DAY + 1, 7)) != first
    # Seven days on, the rotation is the same slice again.
    again = night_cases(cases, Night(DAY + 7, 7))
    assert set(shard(cases, Night(DAY, 7).number, 7)) <= set(again)


def test_a_triple_the_rotation_misses_adds_one_case_that_walks_the_triple() -> None:
    """Ten nights over 20 cases of one triple and 3 of another: the small
    one is in the rotation on three nights; on the others it adds its
    (day mod 3)-th case, so its cases take turns."""
    cases = [Case(i, "plain", "big", "none", i, -1, 1, 0) for i in range(20)]
    cases += [Case(20 + i, "plain", "small", "none", i, -1, 1, 0) for i in range(3)]
    picked = []
    for day in range(DAY, DAY + 30):
        night = Night(day, 10)
        small = [c.index for c in night_cases(cases, night) if c.target == "small"]
        if night.number <= 3:
            assert small == [19 + night.number]  # the rotation's own
        else:
            assert small == [20 + day % 3]
            picked.append(small[0])
        assert len(night_cases(cases, night)) == len(shard(cases, night.number, 10)) + (night.number > 3)
    assert set(picked) == {20, 21, 22}


def test_a_campaign_run_whole_every_night_has_no_night() -> None:
    assert tonight(1, DAY) is None
    night = tonight(48, DAY)
    assert night is not None
    assert night == Night(DAY, 48) and night.number == DAY % 48 + 1 and night.suffix == f"-n{night.number}of48"


def test_the_note_counts_the_nights_triples(tmp_path: Path) -> None:
    cases = night_cases(matrix(tmp_path), Night(DAY, 48))
    triples = len(by_triple(cases))
    assert night_note("n", Night(DAY, 48), cases) == (
        f"[campaign] n covers its matrix in 48 nights: tonight (night {DAY % 48 + 1}/48): {len(cases)} cases, "
        f"every one of {triples} (target, fault, memory) triples")


def fake_guest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, day: list[int]) -> Layout:
    """The plan's guest, agent and target list faked (LISTED, MEMORY_KINDS),
    and its clock on UTC day day[0]."""
    from uafault_harness.campaign import plan

    guest = SimpleNamespace(artefacts=SimpleNamespace(agent=tmp_path / "agent"), kernel_text="6.12.118",
                            kernel=SimpleNamespace(image=None))
    monkeypatch.setattr(plan, "prepare_guest", lambda *_: guest)
    monkeypatch.setattr(plan, "agent_facts", lambda _agent: MEMORY_KINDS)
    monkeypatch.setattr(plan, "list_targets", lambda *_: LISTED)
    monkeypatch.setattr(plan, "config_digest", lambda *_: "cfg")
    monkeypatch.setattr(plan, "time", SimpleNamespace(time=lambda: day[0] * 86400 + 3600))
    return Layout(project=PROJECT_ROOT, cache=tmp_path, tree=tmp_path, user_tree=True, results=tmp_path / "r")


def test_a_dry_run_says_how_many_triples_tonight_covers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from uafault_harness.campaign.runner import CampaignRequest, run_campaign
    from uafault_harness.core.errors import ExitCode

    layout = fake_guest(tmp_path, monkeypatch, [DAY])
    spec = write(tmp_path, MATRIX + "nights = 10\n")
    code, message = run_campaign(layout, CampaignRequest(spec, 1, dry_run=True))
    expected = night_cases(matrix(tmp_path), Night(DAY, 10))
    triples = len(by_triple(expected))
    out = capsys.readouterr().out
    assert code is ExitCode.OK and message == f"{len(expected)} cases planned, none run (--dry-run)"
    assert (f"tonight (night {DAY % 10 + 1}/10): {len(expected)} cases, every one of {triples} "
            "(target, fault, memory) triples") in out
    assert f"plan of p: {len(expected)} cases" in out and f"(target, fault, memory) triples: {triples}" in out


def test_a_dry_run_of_a_night_shows_every_contract_offset_of_the_matrix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Tonight's share need not reach every contract offset of an aligned
    path: the dry run says those of the whole matrix, and tallies tonight's."""
    from dataclasses import replace

    from uafault_harness.campaign import plan
    from uafault_harness.campaign.runner import CampaignRequest, run_campaign
    from uafault_harness.guest.protocol import HPAGE, ListedTarget

    layout = fake_guest(tmp_path, monkeypatch, [DAY])
    dio = ListedTarget("path_dio_read_brd", "kernel", False, 0, frozenset(KINDS) - {"smap"}, 512)
    monkeypatch.setattr(plan, "list_targets", lambda *_: [*LISTED, dio])
    monkeypatch.setattr(plan, "agent_facts", lambda _agent: replace(MEMORY_KINDS, folios={"thp": HPAGE}))
    spec = write(tmp_path, MATRIX.replace("offsets = [-1, 0, 100]", 'offsets = [-1, 0, 100, "aligned"]')
                 + "nights = 40\n")
    code, _ = run_campaign(layout, CampaignRequest(spec, 1, dry_run=True))
    out = capsys.readouterr().out
    assert code == 0 and "per offset: -1 " in out
    assert ("  contract offsets ('aligned') of path_dio_read_brd: 512, 2048, 3584 on anon, zero; "
            f"512, 2048, 3584, {HPAGE // 2 + 512} (1 MiB + 512), {HPAGE - 512} (2 MiB - 512) on thp\n") in out


def test_a_night_resumed_the_next_day_keeps_its_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan is stored before any case runs; --resume reads it back,
    whatever night the clock says it is now."""
    from uafault_harness.campaign.plan import PlanRequest, make_plan

    day = [DAY]
    layout = fake_guest(tmp_path, monkeypatch, day)
    spec = write(tmp_path, MATRIX + "nights = 10\n")
    campaign = load_campaign(spec, None)
    store = Store(tmp_path / "u.db")
    first = make_plan(layout, campaign, PlanRequest(1, "tcg"), store, tmp_path / "out")
    assert first.run_id.endswith(f"-n{DAY % 10 + 1}of10")
    assert first.cases == night_cases(matrix(tmp_path), Night(DAY, 10))
    first.store_in(store, spec)
    day[0] += 1
    resumed = make_plan(layout, campaign, PlanRequest(1, "tcg", resume=first.run_id), store, tmp_path / "out")
    assert not resumed.new and resumed.cases == first.cases
    assert make_plan(layout, campaign, PlanRequest(1, "tcg"), store, tmp_path / "out").cases != first.cases
    store.close()


def test_shards_stay_a_partition_of_the_whole_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--shard I/N overrides nights: uniform slices of the whole matrix,
    no case in two of them, no night note."""
    from uafault_harness.campaign.plan import PlanRequest, make_plan

    layout = fake_guest(tmp_path, monkeypatch, [DAY])
    campaign = load_campaign(write(tmp_path, MATRIX + "nights = 10\n"), None)
    store = Store(tmp_path / "u.db")
    shards = [make_plan(layout, campaign, PlanRequest(1, "tcg", shard=(i, 3)), store, tmp_path / "out")
              for i in (1, 2, 3)]
    store.close()
    ids = [c.case_id for plan in shards for c in plan.cases]
    assert len(ids) == len(set(ids)) and set(ids) == {c.case_id for c in matrix(tmp_path)}
    assert all(not plan.note and plan.run_id.endswith(f"-s{i}of3") for i, plan in enumerate(shards, 1))
