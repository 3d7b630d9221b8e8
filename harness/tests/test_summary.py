from __future__ import annotations

from pathlib import Path

from uafault_harness.core.errors import ExitCode, worst
from uafault_harness.core.results import Counts, LayerResult, write_layer
from uafault_harness.testsuite.pytest_layer import counts_from_junit, layer_from_junit
from uafault_harness.testsuite.summary import layer_table, run_report, totals_line

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1"
 failures="2" skipped="3" tests="20" time="0.5"></testsuite></testsuites>"""


def _layers() -> list[LayerResult]:
    return [
        LayerResult("pytest", ExitCode.OK, "", Counts(passed=40, skipped=1)),
        LayerResult("kunit um", ExitCode.TEST_FAILED, "1 case(s) failed", Counts(passed=100, failed=1, skipped=4)),
        LayerResult("kunit x86_64", ExitCode.RUN_FAILED, "1 case(s) crashed",
                    Counts(passed=90, failed=0, skipped=2, crashed=1)),
    ]


def test_totals_line_counts_crashes_as_failures() -> None:
    assert totals_line(_layers()) == "230 passed, 2 failed, 7 skipped, 0 unresolved, 0 known deviations"
    assert totals_line([]) == "0 passed, 0 failed, 0 skipped, 0 unresolved, 0 known deviations"


def test_layer_table_lists_each_layer_and_why_it_failed() -> None:
    table = layer_table(_layers()).splitlines()
    assert table[0].split() == ["layer", "outcome", "passed", "failed", "skipped", "crashed", "unresolved", "xfail"]
    assert table[3].split() == ["kunit", "um", "test_failed", "100", "1", "4", "0", "0", "0"]
    assert table[0].index("outcome") == table[3].index("test_failed")
    assert "kunit x86_64: 1 case(s) crashed" in table


def test_worst_exit_code() -> None:
    assert worst([ExitCode.OK, ExitCode.TEST_FAILED, ExitCode.RUN_FAILED]) is ExitCode.RUN_FAILED
    assert worst([ExitCode.OK, ExitCode.OK]) is ExitCode.OK
    assert worst([ExitCode.TEST_FAILED, ExitCode.BUILD_FAILED]) is ExitCode.BUILD_FAILED


def test_junit_counts(tmp_path: Path) -> None:
    xml = tmp_path / "pytest.xml"
    xml.write_text(JUNIT)
    assert counts_from_junit(xml) == Counts(passed=14, failed=3, skipped=3)
    assert layer_from_junit(xml).exit_code is ExitCode.TEST_FAILED


def test_run_report_ends_with_totals(tmp_path: Path) -> None:
    (tmp_path / "pytest.xml").write_text(JUNIT)
    write_layer(tmp_path / "um" / "summary.json",
                LayerResult("kunit um", ExitCode.OK, "", Counts(passed=5), {"uafault_copy": Counts(passed=5)}))
    text = run_report(tmp_path)
    assert "uafault_copy" in text
    assert text.splitlines()[-1] == "19 passed, 3 failed, 3 skipped, 0 unresolved, 0 known deviations"


def test_results_of_a_run_total_every_layer_test_ran(tmp_path: Path) -> None:
    """`results RUN` reads back every layer `test` runs, from the one list
    both use, so its last line is `test`'s last line."""
    from uafault_harness.testsuite.layers import LAYERS
    from uafault_harness.testsuite.pytest_layer import JUNIT_NAME

    (tmp_path / "pytest.xml").write_text(JUNIT)
    layers = [layer_from_junit(tmp_path / "pytest.xml")]
    for n, layer_dir in enumerate((l.dir for l in LAYERS if l.dir != JUNIT_NAME), 1):
        layer = LayerResult(layer_dir, ExitCode.OK, "", Counts(passed=n, skipped=1, unresolved=n % 2))
        write_layer(tmp_path / layer_dir / "summary.json", layer)
        layers.append(layer)
    assert run_report(tmp_path).splitlines()[-1] == totals_line(layers)
    assert {"mutants", "bisect", "campaign-variants", "repro", "minimize", "image", "guest", "guest-kasan"} <= {
        l.dir for l in LAYERS}
