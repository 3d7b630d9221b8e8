"""The agent <-> host protocol has one host-side definition (protocol.py);
the agent's C prints the same markers, tags and lines."""

from __future__ import annotations

from pathlib import Path

from uafault_harness.campaign.spec import Case
from uafault_harness.guest import protocol

AGENT = Path(__file__).parents[1] / "agent"


def _source(name: str) -> str:
    return (AGENT / name).read_text()


def test_the_agent_prints_the_markers_the_host_reads() -> None:
    device, faults, agent = _source("cases.c"), _source("kinds_inject.c"), _source("agent.c")
    assert f'printf("%s{protocol.CASE_MARKER} %s\\n", indent, a->case_name);' in device
    assert f'"{protocol.CAMPAIGN_CASE_PREFIX}%s", c->id' in device
    assert f'printf("    {protocol.EXPECT_OOPS_MARKER} %s\\n", a->case_name);' in faults
    line = agent[agent.index('printf("uafault-target:'):]
    assert line.startswith('printf("uafault-target: %s %s fixed_len=%zu kinds=", t->name, t->owner,')
    assert 'printf("%s\\n", target_crashes(t) ? " crash" : "");' in line


def test_the_agent_tags_a_set_up_failure_as_the_host_reads_it() -> None:
    umem = _source("umem.c")
    body = umem[umem.index("void judge(struct verdict *v"):]
    assert f'how == UNRESOLVED ? "[{protocol.SETUP_TAG}] " : ""' in body[:body.index("\n}\n")]
    # ... and a set-up failure's result line is a SKIP the host reads as one.
    device = _source("cases.c")
    line = device[device.index("else if (v->unresolved)"):].splitlines()[1]
    fmt = line.split('"')[1].replace("%u", "%d").replace("\\n", "")
    assert protocol.parse_result(fmt % ("    ", 3, "swapped")) == protocol.Result("swapped", failed=False,
                                                                            skipped=True, reason="set-up failed")


def test_results_and_cases_lines() -> None:
    assert protocol.parse_result("    not ok 2 unmapped") == protocol.Result("unmapped", True, False)
    assert protocol.parse_result("ok 1 a.b.c # SKIP") == protocol.Result("a.b.c", False, True)
    assert protocol.parse_result("ok 1 a.b # SKIP XFAIL gup-longterm-uffd-sigbus: known deviation") == \
        protocol.Result("a.b", False, True, "XFAIL gup-longterm-uffd-sigbus: known deviation")
    assert protocol.parse_result("# ok 1 quoted") is None
    assert protocol.case_started("    # uafault-case: a.b") == "a.b"
    assert protocol.is_unresolved(True, ["# pagemap: 0 of 8", "# [setup] MADV_PAGEOUT left 8"])
    assert not protocol.is_unresolved(True, ["# no message header"])
    assert not protocol.is_unresolved(False, ["# [setup] x"])
    case = Case(0, "plain", "copy_from_user", "unmapped", 100, 5, 7, 0)
    assert case.agent_line().split() == [case.case_id, "copy_from_user", "unmapped", "100", "5", "7"]


def test_fault_list() -> None:
    kinds = protocol.parse_fault_kinds("none\nrace_header raced\nsmap crash\n")
    assert kinds.names == ("none", "race_header", "smap")
    assert kinds.crash == {"smap"} and kinds.raced == {"race_header"}


def _define(header: str, name: str) -> str:
    line = next(l for l in header.splitlines() if l.startswith(f"#define {name}\t"))
    return line.split("\t", 1)[1].strip()


def test_the_host_plans_within_the_agents_limits() -> None:
    """A campaign's largest size is the agent's MAX_RANGE, and the rounds
    minimize tries are all fewer than the agent's default."""
    from uafault_harness.campaign.spec import MAX_SIZE, PAGE
    from uafault_harness.triage.minimize import ROUNDS

    header = _source("agent.h")
    pages = int(_define(header, "MAX_PAGES"))
    assert _define(header, "MAX_RANGE") == "((MAX_PAGES - 1) * PAGE)" and MAX_SIZE == (pages - 1) * PAGE
    assert max(ROUNDS) < int(_define(header, "DEFAULT_ROUNDS"))
