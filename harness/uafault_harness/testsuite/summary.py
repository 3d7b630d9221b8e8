"""Text summaries of a run's layers (tables and the totals line); "report"
means only the HTML report of a campaign run (reports/html.py)."""

from __future__ import annotations

from pathlib import Path

from ..core import known
from ..core.results import Counts, LayerResult
from .layers import load_run_layers


def totals(layers: list[LayerResult]) -> Counts:
    total = Counts()
    for layer in layers:
        total.add(layer.counts)
    return total


def totals_line(layers: list[LayerResult]) -> str:
    """The last line of `uafault test`; a crash is a failure here, a case
    that could not be set up (unresolved) neither a pass nor a failure."""
    t = totals(layers)
    return (f"{t.passed} passed, {t.failed + t.crashed} failed, {t.skipped} skipped, {t.unresolved} unresolved, "
            f"{t.xfail} known deviations")


def known_lines(layers: list[LayerResult]) -> list[str]:
    """Each known-deviation record the run's KUnit and guest layers
    checked: present (with its fix) or fixed in this kernel (with its
    commit), which is news and never a failure."""
    by_source: dict[str, known.Seen] = {}
    names: dict[str, str] = {}
    for layer in layers:
        if "known" not in layer.details:
            continue
        source = str(layer.details.get("kernel_source") or "")
        by_source.setdefault(source, known.Seen({}, {})).merge(known.Seen.from_json(layer.details["known"]))
        if layer.details.get("kernel_release"):
            names.setdefault(source, str(layer.details["kernel_release"]))
    lines: list[str] = []
    for source, seen in by_source.items():
        kernel = names.get(source) or source or "this kernel"
        prefix = f"{kernel}: " if len(by_source) > 1 else ""
        lines += [prefix + line for line in known.verdict_lines(seen, "this kernel" if prefix else kernel)]
    return lines


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        # Numbers right-aligned so columns of counts line up; text left.
        cells = [c.rjust(w) if c.isdigit() else c.ljust(w) for c, w in zip(row, widths)]
        return "  ".join(cells).rstrip()

    return [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]


def layer_table(layers: list[LayerResult]) -> str:
    rows = [[l.layer, l.outcome, str(l.counts.passed), str(l.counts.failed),
             str(l.counts.skipped), str(l.counts.crashed), str(l.counts.unresolved), str(l.counts.xfail)]
            for l in layers]
    lines = _table(["layer", "outcome", "passed", "failed", "skipped", "crashed", "unresolved", "xfail"], rows)
    for l in layers:
        if l.exit_code != 0:
            lines.append(f"{l.layer}: {l.message}")
    return "\n".join(lines)


def suite_table(layer: LayerResult) -> str:
    rows = [[name, str(c.passed), str(c.failed), str(c.skipped), str(c.crashed), str(c.unresolved), str(c.xfail)]
            for name, c in sorted(layer.suites.items())]
    return "\n".join(_table([f"{layer.layer} suite", "passed", "failed", "skipped", "crashed", "unresolved",
                             "xfail"], rows))


def run_report(run_dir: Path) -> str:
    layers = load_run_layers(run_dir)
    if not layers:
        return f"run {run_dir.name}: no completed layers"
    parts = [f"run {run_dir.name} ({run_dir})", layer_table(layers)]
    parts += [suite_table(l) for l in layers if l.suites]
    deviations = known_lines(layers)
    if deviations:
        parts.append("\n".join(deviations))
    parts.append(totals_line(layers))
    return "\n\n".join(parts)
