"""The agent <-> host protocol has one host-side definition (protocol.py);
the agent's C prints the same markers, tags and lines."""

from __future__ import annotations

from pathlib import Path

from uafault_harness.campaign.spec import Case
from uafault_harness.core.agent_header import agent_define, agent_number, agent_string
from uafault_harness.core import verdicts
from uafault_harness.guest import protocol

AGENT = Path(__file__).parents[1] / "agent"


def _source(name: str) -> str:
    return (AGENT / name).read_text()


def test_the_agent_prints_the_markers_the_host_reads() -> None:
    """The C prints each marker by its protocol.h name, and what it prints
    is what the host reads."""
    cases, inject, listing = _source("cases.c"), _source("kinds_inject.c"), _source("list.c")
    assert 'printf("%s" CASE_MARKER " %s\\n", indent, a->case_name);' in cases
    assert 'CAMPAIGN_CASE_PREFIX "%s",\n\t\t c->id' in cases
    assert 'printf("    " EXPECT_OOPS_MARKER " %s\\n", a->case_name);' in inject
    line = listing[listing.index("printf(TARGET_LINE"):]
    assert line.startswith("printf(TARGET_LINE, t->name, t->owner, t->fixed_len,\n\t       t->contract.addr_align);")
    assert 'printf("%s\\n", target_crashes(t) ? TARGET_CRASH : "");' in line
    # protocol.h's spellings are the host's.
    assert protocol.case_started("    " + agent_string("CASE_MARKER") + " a.b") == "a.b"
    assert protocol.EXPECT_RE.match("    " + agent_string("EXPECT_OOPS_MARKER") + " a.smap")
    assert agent_string("CAMPAIGN_CASE_PREFIX") == protocol.CAMPAIGN_CASE_PREFIX
    listed = (agent_string("TARGET_LINE").replace("%zu", "%d") % ("get_user", "uafault", 8, 0)
              + "none,unmapped" + agent_string("TARGET_CRASH"))
    assert protocol.parse_target(listed) == protocol.ListedTarget("get_user", "uafault", True, 8,
                                                                  frozenset({"none", "unmapped"}))
    aligned = agent_string("TARGET_LINE").replace("%zu", "%d") % ("path_dio_read_brd", "kernel", 0, 512) + "none"
    assert protocol.parse_target(aligned) == protocol.ListedTarget("path_dio_read_brd", "kernel", False, 0,
                                                                   frozenset({"none"}), 512)
    stats = protocol.STATS_RE.search(agent_string("STATS_LINE") % (12, 3.5))
    assert stats is not None and stats.groups() == ("12", "3.500")
    bare = protocol.BARE_RE.search(agent_string("BARE_LINE") % (7, 0.25))
    assert bare is not None and bare.groups() == ("7", "0.250")


def test_the_agent_lists_alignments_and_large_folios_as_the_host_reads_them() -> None:
    """A target's contract alignment (--list-targets' align=) and a memory
    kind's large folios (--list-memory's folio=) are printed by their
    protocol.h spellings, and a case's offset may reach into the folio."""
    memory, cases, main = _source("memory.c"), _source("cases.c"), _source("main.c")
    assert 'printf(" " MEMORY_FOLIO "%zu", memory_folio(mk));' in memory
    assert "return mk->huge || mk->map_flags & MAP_HUGETLB ? HPAGE : PAGE;" in memory
    folio = agent_string("MEMORY_FOLIO")
    assert protocol.MEMORY_FOLIO == folio
    assert protocol.parse_memory_folios(f"anon skip=truncate\nthp {folio}{protocol.HPAGE} skip=swapped\n") == {
        "thp": protocol.HPAGE}
    assert protocol.HPAGE == 512 * protocol.PAGE == 2 << 20
    # The agent takes any offset in the largest folio, and checks it against the case's memory.
    assert "c->offset < (long)HPAGE" in cases and "!offset_fits(a.offset, a.memory)" in cases
    assert "value >= HPAGE" in main and "!offset_fits(o->a.offset, o->a.memory)" in main


def _skip_line(indent: str, number: int, name: str, reason: str) -> str:
    """A SKIP line as ktap_skip() in ktap.c prints it."""
    ktap = _source("ktap.c")
    assert 'printf("%sok %u %s # " KTAP_SKIP, indent, number, name);' in ktap
    return f"{indent}ok {number} {name} # {agent_string('KTAP_SKIP')}" + (f" {reason}" if reason else "")


def test_the_agent_tags_a_set_up_failure_as_the_host_reads_it() -> None:
    verdict = _source("verdict.c")
    body = verdict[verdict.index("void judge(struct verdict *v"):]
    assert 'how == UNRESOLVED ? "[" SETUP_TAG "] " : ""' in body[:body.index("\n}\n")]
    assert agent_string("SETUP_TAG") == protocol.SETUP_TAG
    # ... and a set-up failure's result line is a SKIP the host reads as one.
    line = verdict[verdict.index("else if (v->unresolved)"):].splitlines()[1]
    assert line.strip() == "ktap_skip(indent, number, name, SETUP_FAILED_REASON);"
    printed = _skip_line("    ", 3, "swapped", agent_string("SETUP_FAILED_REASON"))
    assert protocol.parse_result(printed) == protocol.Result("swapped", failed=False, skipped=True,
                                                            reason="set-up failed")


def test_a_known_issue_is_an_xfail_in_c_and_python() -> None:
    """The agent's XFAIL (a SKIP whose reason starts with XFAIL) and the
    host's XPASS are spelled in protocol.h, the XFAIL one the known
    records' (module/uafault_known.h)."""
    verdict = _source("verdict.c")
    assert "XFAIL_RECORD_REASON" in verdict and "XFAIL_ISSUE_REASON" in verdict
    assert verdicts.KTAP_XFAIL == agent_string("UAFAULT_KNOWN_XFAIL") == "XFAIL"
    assert verdicts.KTAP_XPASS == "XPASS" and verdicts.KTAP_SKIP == "SKIP"
    record = _skip_line("", 2, "a.b", agent_string("XFAIL_RECORD_REASON") % "gup-fast-zero-pages")
    assert protocol.parse_result(record) == protocol.Result("a.b", False, True,
                                                           "XFAIL gup-fast-zero-pages: known deviation")
    issue = protocol.parse_result(_skip_line("", 3, "a.c", agent_string("XFAIL_ISSUE_REASON")))
    assert issue is not None and issue.reason.split()[0].rstrip(":") == verdicts.KTAP_XFAIL


def test_the_agents_options_are_spelled_once() -> None:
    """getopt_long's table names every option by its protocol.h macro, and
    the host's argv uses the same (guest/protocol.py)."""
    import re

    from uafault_harness.guest import runner

    main = _source("main.c")
    table = main[main.index("long_options[] = {"):]
    table = table[:table.index("};")]
    names = re.findall(r"\{ (\w+), (?:required|no)_argument", table)
    header = _source("protocol.h")
    assert sorted(names) == sorted(re.findall(r"^#define (OPT_\w+)\t", header, re.M))
    assert '"' not in table
    assert runner.AGENT_DMA == "--" + agent_string("OPT_DMA") == "--dma"
    assert runner.AGENT_KNOWN_ISSUE == "--known-issue" and runner.AGENT_KUNIT_LAST == "--kunit-last"


def test_each_protocol_string_is_in_one_c_header() -> None:
    """A marker of protocol.h is spelled nowhere else in the agent, nor in
    the host code that reads it."""
    import re

    header = _source("protocol.h")
    bodies = " ".join(re.findall(r"^#define \w+\s+(.*)$", header, re.M))
    literals = {s for s in re.findall(r'"([^"]{6,})"', bodies) if ":" in s or s.startswith("uafault-")}
    assert {"# uafault-case:", "uafault-unavailable:", "uafault-target:", "uafault-ext4"} <= literals
    for path in AGENT.glob("*.[ch]"):
        if path.name in ("protocol.h", "fuzz.c"):
            continue
        text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
        assert not [s for s in literals if f'"{s}' in text], path.name
    # The host reads them from protocol.h (core/agent_header.py): no other
    # host code, and no bench script, spells one again (comments aside).
    package = Path(__file__).parents[1] / "uafault_harness"
    bench = Path(__file__).parents[2] / "bench"
    scripts = [p for p in bench.iterdir() if p.is_file() and p.read_text(errors="replace").startswith("#!")]
    for path in [*package.rglob("*.py"), *scripts]:
        code = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("#"))
        assert not [s for s in literals if f'"{s}' in code or f"'{s}" in code], path.name


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


def test_the_host_plans_within_the_agents_limits(tmp_path: Path) -> None:
    """A campaign's largest size is the agent's MAX_RANGE, its offsets are
    within a page, and the rounds minimize tries are all fewer than the
    agent's default."""
    import pytest

    from uafault_harness.campaign.spec import SpecError, load_campaign
    from uafault_harness.triage.minimize import ROUNDS

    pages = agent_number("MAX_PAGES")
    assert agent_define("MAX_RANGE") == "((MAX_PAGES - 1) * PAGE)"
    assert protocol.MAX_RANGE == (pages - 1) * protocol.PAGE and protocol.PAGE == 4096
    path = tmp_path / "c.toml"
    text = ('[campaign]\nname = "t"\nkernels = ["plain"]\ntargets = ["copy_from_user"]\nfaults = ["none"]\nsizes = [{size}]\noffsets = [{offset}]\n'
            'seeds = [1]\n')
    path.write_text(text.format(size=protocol.MAX_RANGE, offset=protocol.PAGE - 1))
    assert load_campaign(path, None).sizes == (protocol.MAX_RANGE,)
    for size, offset, key in ((protocol.MAX_RANGE + 1, 0, "sizes"), (0, protocol.PAGE, "offsets")):
        path.write_text(text.format(size=size, offset=offset))
        with pytest.raises(SpecError, match=key):
            load_campaign(path, None)
    assert max(ROUNDS) < agent_number("DEFAULT_ROUNDS") == protocol.DEFAULT_ROUNDS
