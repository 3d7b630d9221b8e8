"""The harness's own unit tests as a layer of `uafault test`."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout
from ..core.procutil import stream_command
from ..core.results import Counts, LayerResult
from ..setup.requirements import PYTEST_PACKAGE, apt_install_command, pytest_interpreter

LAYER = "pytest"
JUNIT_NAME = "pytest.xml"


def counts_from_junit(xml_path: Path) -> Counts:
    root = ET.parse(xml_path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = Counts()
    for suite in suites:
        tests = int(suite.get("tests", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        counts.add(Counts(passed=tests - failed - skipped, failed=failed, skipped=skipped))
    return counts


def layer_from_junit(xml_path: Path, pytest_rc: int | None = None) -> LayerResult:
    counts = counts_from_junit(xml_path)
    if counts.failed:
        return LayerResult(LAYER, ExitCode.TEST_FAILED, f"{counts.failed} test(s) failed", counts)
    if counts.total == 0:
        return LayerResult(LAYER, ExitCode.RUN_FAILED, "pytest collected no tests", counts)
    if pytest_rc not in (None, 0):
        return LayerResult(LAYER, ExitCode.RUN_FAILED, f"pytest exited {pytest_rc}", counts)
    return LayerResult(LAYER, ExitCode.OK, f"{counts.passed} passed, {counts.skipped} skipped", counts)


def run_pytest_layer(layout: Layout, run_dir: Path) -> LayerResult:
    interpreter = pytest_interpreter()
    if interpreter is None:
        raise HarnessError(
            ExitCode.MISSING_PREREQ,
            f"no python interpreter can import pytest; fix: {apt_install_command([PYTEST_PACKAGE])}",
        )
    final = run_dir / JUNIT_NAME
    part = run_dir / (JUNIT_NAME + ".part")
    tests_dir = layout.project / "harness" / "tests"
    cmd = [str(interpreter), "-m", "pytest", "-q", "-p", "no:cacheprovider",
           str(tests_dir), f"--junitxml={part}"]
    print(f"[uafault] pytest ({interpreter})", flush=True)
    rc = stream_command(cmd, layout.project, None)
    if not part.exists():
        return LayerResult(LAYER, ExitCode.RUN_FAILED, f"pytest exited {rc} without writing {JUNIT_NAME}")
    os.replace(part, final)
    return layer_from_junit(final, rc)
