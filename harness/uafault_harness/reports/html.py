"""`report [RUN]`: one self-contained HTML file for a campaign run (inline
CSS and SVG, no network): the run's findings grouped by title (each
linked to its `bug` report where one was written), the target x fault,
target x memory kind and target x kernel matrices, crash titles with
counts and first/last run seen, cases/s and duration per run of the same
campaign as plots, and the diff against the previous run: new failures,
fixed, flaky (repetitions that disagree); with `--coverage`, the
error-path coverage (reports/coverage.py)."""

from __future__ import annotations

import html
import os
from collections import Counter, defaultdict
from pathlib import Path

from ..campaign.store import History, Row
from ..core.errors import ExitCode, HarnessError
from ..core.results import BUG_REPORT_NAME, BUGS_DIR, bug_slug
from ..core.verdicts import BAD, ORDER, VERDICTS, Verdict
from ..guest.protocol import DEFAULT_CALLER, DEFAULT_MEMORY, oracle_tag
from .coverage import Ran, section as coverage_section, write_lcov


# The matrices' column axes: a Case field and what a heading calls it.
AXES = {"fault": "fault", "memory": "memory kind", "kernel": "kernel"}


def newest_run(history: History) -> str:
    run_id = history.newest_run()
    if run_id is None:
        raise HarnessError(ExitCode.NO_SUCH_RUN, "no campaign run in the database yet")
    return run_id


def run_or_newest(db_path: Path, run_id: str | None) -> str:
    with History(db_path) as stored:
        return run_id or newest_run(stored)


def _svg_bars(title: str, labels: list[str], values: list[float], unit: str) -> str:
    width, height, pad = 640, 200, 40
    top = max(values, default=0) or 1
    bar = (width - 2 * pad) / max(len(values), 1)
    parts = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" '
             f'role="img" aria-label="{html.escape(title)}">',
             f'<text x="{pad}" y="16" font-size="13">{html.escape(title)}</text>',
             f'<line x1="{pad}" y1="{height}" x2="{width - pad}" y2="{height}" stroke="#555"/>']
    for i, (label, value) in enumerate(zip(labels, values)):
        h = (height - 30) * value / top
        x = pad + i * bar + bar * 0.1
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{height - h:.1f}" width="{bar * 0.8:.1f}" '
                     f'height="{h:.1f}" fill="#2980b9"><title>{html.escape(label)}: {value:.2f} {unit}</title></rect>')
        parts.append(f'<text x="{x:.1f}" y="{height - h - 4:.1f}" font-size="10">{value:.1f}</text>')
        parts.append(f'<text x="{x:.1f}" y="{height + 14}" font-size="9">{html.escape(label[-9:])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _matrix(rows: list[Row], axis: str = "fault") -> str:
    """Targets against axis (a Case field: fault, memory, kernel), each
    cell coloured by its worst verdict, its counts as its text."""
    targets = list(dict.fromkeys(r.case.target for r in rows))
    faults = list(dict.fromkeys(getattr(r.case, axis) for r in rows))
    cells: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in rows:
        cells[r.case.target, getattr(r.case, axis)][r.verdict] += 1
    out = [f'<table class="matrix" id="by-{axis}"><tr><th>target \\ {AXES[axis]}</th>']
    out += [f"<th>{html.escape(f)}</th>" for f in faults] + ["</tr>"]
    for t in targets:
        out.append(f"<tr><th>{html.escape(t)}</th>")
        for f in faults:
            c = cells.get((t, f))
            if not c:
                out.append('<td class="none"></td>')
                continue
            worst = next(v for v in ORDER if c[v])
            text = " ".join(f"{n} {v}" for v, n in sorted(c.items(), key=lambda kv: ORDER.index(kv[0])))
            out.append(f'<td class="cell {worst.lower()}" style="background:{VERDICTS[worst].colour}" '
                       f'title="{html.escape(text)}">{html.escape(text)}</td>')
        out.append("</tr>")
    return "".join(out) + "</table>"


def finding_title(row: Row) -> str:
    """What groups a run's bad cases into findings: the kernel report's
    title, or the oracle and the target of a complaint (whose numbers
    differ from case to case)."""
    tag = oracle_tag(row.title)
    if row.verdict == Verdict.FAIL and tag:
        return f"[{tag}] in {row.case.target}"
    return row.title or f"{row.verdict} in {row.case.target}"


def _findings(rows: list[Row], run_id: str, bugs: Path | None, page_dir: Path | None) -> str:
    """The run's failures grouped by title: how many cases, on which
    kernels and memory kinds, a case to start from, and the link to its
    `bug` report where one was written."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        if r.verdict in BAD:
            groups[finding_title(r)].append(r)
    if not groups:
        return '<p class="empty">No failures in this run.</p>'
    out = ['<table class="findings"><tr><th>finding</th><th>cases</th><th>kernels</th><th>memory kinds</th>'
           '<th>first case</th><th>report</th></tr>']
    for title, mine in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        first = mine[0].case.case_id
        link = ""
        reports = [bugs / bug_slug(f"{run_id}-{r.case.case_id}") / BUG_REPORT_NAME for r in mine] if bugs else []
        written = next((p for p in reports if p.is_file()), None)
        if written is not None:
            href = os.path.relpath(written, page_dir) if page_dir else written.as_uri()
            link = f'<a href="{html.escape(href)}">report</a>'
        else:
            link = f"<code>harness/uafault bug {html.escape(run_id)} {html.escape(first)}</code>"
        kernels = ", ".join(dict.fromkeys(r.case.kernel for r in mine))
        memory = ", ".join(dict.fromkeys(r.case.memory for r in mine))
        out.append(f"<tr><td>{html.escape(title)}</td><td>{len(mine)}</td><td>{html.escape(kernels)}</td>"
                   f"<td>{html.escape(memory)}</td><td>{html.escape(first)}</td><td>{link}</td></tr>")
    return "".join(out) + "</table>"


def _titles(history: History, campaign: str) -> str:
    rows = history.crash_titles(campaign, (Verdict.CRASH, Verdict.TIMEOUT, Verdict.XFAIL))
    if not rows:
        return '<p class="empty">No crash titles in any run of this campaign.</p>'
    body = "".join(f"<tr><td>{html.escape(t)}</td><td>{n}</td><td>{a}</td><td>{b}</td></tr>" for t, n, a, b in rows)
    return f'<table class="titles"><tr><th>title</th><th>count</th><th>first seen</th><th>last seen</th></tr>{body}</table>'


def diff(current: list[Row], previous: list[Row]) -> dict[str, list[str]]:
    before = {r.case.case_id: r.verdict for r in previous}
    by_params: dict[tuple[object, ...], set[str]] = defaultdict(set)
    for r in current:
        by_params[r.params].add("bad" if r.verdict in BAD else r.verdict)
    return {
        "new failures": [r.case.case_id for r in current if r.verdict in BAD and before.get(r.case.case_id) not in BAD],
        "fixed": [r.case.case_id for r in current if r.verdict not in BAD and before.get(r.case.case_id) in BAD],
        "flaky": sorted(f"{t}.{f} size={sz} offset={off} seed={seed}"
                        + (f" memory={mem}" if mem != DEFAULT_MEMORY else "")
                        + (f" caller={caller}" if caller != DEFAULT_CALLER else "") + f" ({var})"
                        for (var, t, f, sz, off, seed, mem, caller), v in by_params.items()
                        if "bad" in v and len(v) > 1),
    }


def render(db_path: Path, run_id: str | None, lcov_dir: Path | None = None) -> tuple[str, str]:
    """(run_id, html) of a stored campaign run.  A run with coverage gets
    its section, and its lcov tree in lcov_dir (linked relative to it:
    the page goes in lcov_dir's parent); findings link the `bug` reports
    under the database's results directory."""
    with History(db_path) as stored:
        run_id = run_id or newest_run(stored)
        cov = stored.coverage(run_id)
        head = stored.header(run_id)
        campaign, started, source, config = head.campaign, head.started, head.source_version, head.config_digest
        rows = stored.rows(run_id)
        planned = stored.planned_count(run_id)
        runs = stored.runs_of(campaign, run_id)
        history = [stored.rows(r) for r in runs]
        titles = _titles(stored, campaign)
    cases = [Ran(r.case.case_id, r.case.target, r.case.fault) for r in rows]
    href = None
    if cov.files and lcov_dir is not None:
        write_lcov(cov, cases, lcov_dir, f"uafault {campaign} {run_id}")
        href = f"{lcov_dir.name}/index.html"
    coverage = coverage_section(cov, cases, href)
    counts = Counter(r.verdict for r in rows)
    rates = [len(h) / max(sum(r.seconds for r in h), 1e-9) for h in history]
    seconds = [sum(r.seconds for r in h) for h in history]
    changes = diff(rows, history[-2] if len(history) > 1 else [])
    previous = runs[-2] if len(runs) > 1 else "none"
    diff_html = "".join(
        f'<h3>{html.escape(k)} ({len(v)})</h3><ul class="diff {k.replace(" ", "-")}">'
        + "".join(f"<li>{html.escape(x)}</li>" for x in v) + "</ul>" for k, v in changes.items())
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: ORDER.index(kv[0])))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>uafault {html.escape(campaign)} {run_id}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #bbb; padding: 3px 6px; font-size: 12px; }}
td.cell {{ color: #fff; text-align: center; }}
.plot {{ display: block; margin: 0.5em 0; }}
</style></head><body>
<h1>uafault campaign <span id="campaign">{html.escape(campaign)}</span>, run <span id="run">{run_id}</span></h1>
<p id="summary">{len(rows)} of {planned} planned cases have a verdict: {html.escape(summary)}.
Started {html.escape(started)}; source {html.escape(source)}; guest config {html.escape(config[:12])}.</p>
<h2>Findings</h2>{_findings(rows, run_id, db_path.parent / BUGS_DIR, lcov_dir.parent if lcov_dir else None)}
<h2>Target x fault</h2>{_matrix(rows)}
<h2>Target x memory kind</h2>{_matrix(rows, "memory")}
<h2>Target x kernel</h2>{_matrix(rows, "kernel")}
<h2>Crash titles (all runs of {html.escape(campaign)})</h2>{titles}
<h2>Per run</h2>
{_svg_bars("cases per second of guest time", runs, rates, "cases/s")}
{_svg_bars("guest seconds per run (sum of case durations)", runs, seconds, "s")}
<h2>Against the previous run ({html.escape(previous)})</h2>{diff_html}
{coverage}
</body></html>
"""
    return run_id, page
