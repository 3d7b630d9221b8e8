"""The campaign report: matrix, titles, plots and the diff, from a store
filled by hand, checked through the DOM."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from uafault_harness.campaign.spec import Case
from uafault_harness.campaign.store import CaseVerdict, RunInfo, Store
from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.reports.html import render
from uafault_harness.setup.requirements import find_tool, tool_named
from uafault_harness.testsuite.browser import browse, dump_dom


class Dom(HTMLParser):
    """Elements as (tag, attrs, text) in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], str]] = []
        self._open: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}, ""))
        self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            i = self._open[-1]
            tag, attrs, text = self.elements[i]
            self.elements[i] = (tag, attrs, text + data)

    def find(self, tag: str, cls: str = "") -> list[tuple[str, dict[str, str], str]]:
        return [e for e in self.elements if e[0] == tag and (not cls or cls in e[1].get("class", "").split())]


CASES = [Case(i, "plain", t, f, 0, -1, 1, rep) for i, (t, f, rep) in enumerate(
    [("copy_from_user", "none", 0), ("copy_from_user", "unmapped", 0), ("pin_dma_write", "none", 0),
     ("pin_dma_write", "none", 1)])]


def fill(store: Store, run_id: str, verdicts: list[tuple[str, str]]) -> None:
    store.create_run(RunInfo(run_id, "smoke", "smoke.toml", "d"), "6.12.117", "cfgdigest", CASES)
    for case, (verdict, title) in zip(CASES, verdicts):
        store.record(run_id, CaseVerdict(case.case_id, verdict, title, 0.5))


def test_report_shows_matrix_titles_plots_and_diff(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    store = Store(db)
    fill(store, "20260101T000000Z", [("PASS", ""), ("CRASH", "BUG: old"), ("PASS", ""), ("PASS", "")])
    fill(store, "20260102T000000Z", [("FAIL", ""), ("PASS", ""), ("PASS", ""), ("CRASH", "BUG: flaky")])
    store.close()
    run_id, page = render(db, None)
    assert run_id == "20260102T000000Z"
    dom = Dom()
    dom.feed(page)
    cells = dom.find("td", "cell")
    # target x fault, then target x memory kind and target x kernel.
    assert [(c[1]["class"], c[2]) for c in cells] == [
        ("cell fail", "1 FAIL"), ("cell pass", "1 PASS"), ("cell crash", "1 CRASH 1 PASS")] + [
        ("cell fail", "1 FAIL 1 PASS"), ("cell crash", "1 CRASH 1 PASS")] * 2
    assert {e[1]["id"] for e in dom.find("table", "matrix")} == {"by-fault", "by-memory", "by-kernel"}
    titles = [e[2] for e in dom.find("td")]
    assert "BUG: old" in titles and "BUG: flaky" in titles
    svgs = dom.find("svg", "plot")
    # Two plots, one bar per run in each.
    assert len(svgs) == 2 and len(dom.find("rect", "bar")) == 4
    lists = {e[1]["class"].split()[1]: e for e in dom.find("ul", "diff")}
    assert set(lists) == {"new-failures", "fixed", "flaky"}
    items = [e[2] for e in dom.find("li")]
    assert CASES[0].case_id in items and CASES[3].case_id in items  # new failures
    assert CASES[1].case_id in items  # fixed
    assert "pin_dma_write.none size=0 offset=-1 seed=1 (plain)" in items  # flaky across reps
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_report_of_an_unknown_run_is_no_such_run(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as err:
        render(tmp_path / "none.db", None)
    assert err.value.code is ExitCode.NO_SUCH_RUN
    store = Store(tmp_path / "u.db")
    fill(store, "R1", [("PASS", "")] * 4)
    store.close()
    with pytest.raises(HarnessError) as err:
        render(tmp_path / "u.db", "R2")
    assert err.value.code is ExitCode.NO_SUCH_RUN


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    if find_tool(tool_named("chromium")) is None:
        pytest.fail("chromium is missing: harness/uafault setup installs it")
    db = tmp_path / "u.db"
    store = Store(db)
    fill(store, "20260101T000000Z", [("PASS", ""), ("CRASH", "BUG: x"), ("PASS", ""), ("SKIP", "")])
    store.close()
    page = tmp_path / "report.html"
    page.write_text(render(db, None)[1])

    # The DOM after the browser parsed and laid it out.
    dom = Dom()
    dom.feed(dump_dom(page, tmp_path / "profile"))
    assert [c[2] for c in dom.find("td", "cell")][:3] == ["1 PASS", "1 CRASH", "1 PASS 1 SKIP"]
    assert len(dom.find("svg", "plot")) == 2 and len(dom.find("rect", "bar")) == 2
    shot = tmp_path / "report.png"
    browse(page, tmp_path / "profile", f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_findings_are_grouped_by_title_and_link_their_bug_reports(tmp_path: Path) -> None:
    from uafault_harness.core.results import BUG_REPORT_NAME, BUGS_DIR, bug_slug
    db = tmp_path / "u.db"
    store = Store(db)
    fill(store, "R", [("FAIL", "[result] ret 0 done 1, expected ret -14"), ("FAIL", "[result] ret 0 done 9"),
                      ("PASS", ""), ("CRASH", "BUG: flaky")])
    store.close()
    report = tmp_path / BUGS_DIR / bug_slug(f"R-{CASES[3].case_id}") / BUG_REPORT_NAME
    report.parent.mkdir(parents=True)
    report.write_text("Title\n=====\nBUG: flaky\n")
    _, page = render(db, "R", tmp_path / "campaigns" / "R" / "coverage")
    dom = Dom()
    dom.feed(page)
    rows = [e[2] for e in dom.find("td")]
    # Two complaints of one oracle on one target are one finding.
    assert "[result] in copy_from_user" in rows and rows[rows.index("[result] in copy_from_user") + 1] == "2"
    links = [e[1]["href"] for e in dom.find("a")]
    assert links == [f"../../{BUGS_DIR}/{report.parent.name}/{BUG_REPORT_NAME}"]
    assert [e[2] for e in dom.find("code")] == [f"harness/uafault bug R {CASES[0].case_id}"]
