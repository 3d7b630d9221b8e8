"""Drive the tree's own kunit.py (config, build, exec as separate steps so a
build failure is never mistaken for a test failure) and turn its output
into stored artefacts and a LayerResult."""

from __future__ import annotations

import fnmatch
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..core import fsutil
from ..core.errors import ExitCode
from ..core.paths import Layout
from ..core.procutil import stream_command
from ..core.progress import build_progress
from ..core.results import LayerResult, SUMMARY_NAME, write_layer
from ..setup.link import ensure_linked
from ..setup.requirements import require_tools
from ..setup.source import read_stamp
from . import ktap
from .coverage import COVERAGE_KUNITCONFIG, COVERAGE_MAKE_OPTIONS, COVERAGE_VARIANT, INFO_NAME, capture, zero_counters
from .profiles import ARCH_PROFILES, ArchProfile

DEFAULT_TIMEOUT = 1800
# kunit.py writes the raw kernel console here, inside the build dir.
CONSOLE_LOG_NAME = "test.log"


def default_jobs() -> int:
    return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class KunitRequest:
    arch: str
    jobs: int
    timeout: int = DEFAULT_TIMEOUT
    filter_glob: str = ""
    # UML only: gcov's counters of the run, captured by lcov (kunit/coverage.py).
    coverage: bool = False

    @property
    def profile(self) -> ArchProfile:
        return ARCH_PROFILES[self.arch]


def uafault_kunitconfigs(layout: Layout, profile: ArchProfile) -> list[Path]:
    # A directory: kunit.py reads its .kunitconfig.
    return [layout.kunit_dir] + [layout.project / p for p in profile.extra_kunitconfigs]


def kunit_py_command(
    layout: Layout,
    step: str,
    profile: ArchProfile,
    build_dir: Path,
    kunitconfigs: list[Path],
    *,
    jobs: int | None = None,
    timeout: int | None = None,
    json_path: Path | None = None,
    filter_glob: str = "",
    make_options: tuple[str, ...] = (),
) -> list[str]:
    cmd = [sys.executable, str(layout.kunit_py), step]
    cmd += [f"--kunitconfig={p}" for p in kunitconfigs]
    cmd += [f"--build_dir={build_dir}", f"--arch={profile.name}"]
    if profile.qemu_args:
        cmd.append(f"--qemu_args={profile.qemu_args}")
    if step in ("exec", "run"):  # only these take --kernel_args
        cmd += [f"--kernel_args={arg}" for arg in profile.kernel_args]
    if jobs is not None:
        cmd.append(f"--jobs={jobs}")
    cmd += [f"--make_options={option}" for option in make_options]
    if timeout is not None:
        cmd.append(f"--timeout={timeout}")
    if json_path is not None:
        cmd.append(f"--json={json_path}")
    if filter_glob:
        cmd.append(filter_glob)
    return cmd


def require_runtime_tools(profile: ArchProfile) -> None:
    require_tools(profile.runtime_tools, f"for --arch={profile.name}")


def preflight(layout: Layout, profile: ArchProfile) -> None:
    ensure_linked(layout)
    require_runtime_tools(profile)


def _policy_applies(suite: str, filter_glob: str) -> bool:
    if not filter_glob:
        return True
    return fnmatch.fnmatchcase(suite, filter_glob.split(".", 1)[0])


def policy_violations(parsed: ktap.ParsedRun, profile: ArchProfile, filter_glob: str = "") -> list[str]:
    violations: list[str] = []
    for suite in profile.required_suites:
        if not _policy_applies(suite, filter_glob):
            continue
        counts = parsed.suites.get(suite)
        if counts is None:
            violations.append(f"suite {suite} did not run on {profile.name}")
        elif counts.skipped:
            what = "SMAP cases were skipped" if suite == "uafault_smap" else f"{suite} cases were skipped"
            violations.append(
                f"{what} ({counts.skipped} of {counts.total} in suite {suite}); "
                f"on {profile.name} every case of {suite} must run"
            )
    return violations


def judge(parsed: ktap.ParsedRun, violations: list[str], exec_rc: int) -> tuple[ExitCode, str]:
    c = parsed.counts
    verdict = ktap.judge_cases(parsed, "no KTAP output: the kernel ran no tests (or crashed before them)")
    if verdict is not None:
        return verdict
    if violations:
        return ExitCode.TEST_FAILED, "; ".join(violations)
    if exec_rc != 0:
        return ExitCode.RUN_FAILED, f"kunit.py exec exited {exec_rc} although every case passed"
    return ExitCode.OK, f"{c.passed} passed, {c.skipped} skipped"


def _finish_json(part: Path, final: Path, console: Path) -> None:
    """kunit.py's JSON, the known deviations of the console's KTAP marked
    (ktap.annotate_json)."""
    if not part.exists():
        return
    if console.is_file():
        try:
            xfails = ktap.xfail_paths(console.read_text(errors="replace").splitlines())
            if xfails:
                part.write_text(ktap.annotate_json(part.read_text(), xfails) + "\n")
        except (ValueError, OSError):
            pass    # kept as kunit.py wrote it
    os.replace(part, final)


def kernel_release(layout: Layout, arch: str) -> str:
    """The tree a KUnit run built: the Debian source package's version, or
    the user's tree."""
    if layout.user_tree:
        return f"{layout.tree} ({arch})"
    return f"Debian {layout.source_package} {read_stamp(layout.stamp) or 'unknown'} ({arch})"


def _analyse_console(
    layout: Layout, request: KunitRequest, out_dir: Path, console: Path, exec_rc: int
) -> LayerResult:
    layer = f"kunit {request.arch}"
    fsutil.atomic_copy(console, out_dir / "console.log")
    text = console.read_text(errors="backslashreplace")
    parsed = ktap.parse_console(text.splitlines(), layout.kunit_tool_dir)
    fsutil.atomic_write_text(out_dir / "ktap.txt", "".join(line + "\n" for line in parsed.ktap_lines))
    # kunit.py passes a case whatever the kernel reported during it.
    reports = ktap.reports_in_cases(text.splitlines())
    ktap.fail_reported_cases(parsed, reports)
    violations = policy_violations(parsed, request.profile, request.filter_glob)
    code, message = judge(parsed, violations, exec_rc)
    said = [f"{r.suite}: {r.case} {r.outcome} though the kernel reported {r.title!r} during it" for r in reports]
    if said:
        message += "; " + said[0] + (f" (and {len(said) - 1} more)" if len(said) > 1 else "")
    return LayerResult(
        layer=layer, exit_code=code, message=message, counts=parsed.counts, suites=parsed.suites,
        details={"policy_violations": violations, "kernel_reports_in_cases": said,
                 "parse_errors": parsed.parse_errors,
                 "parser_status": parsed.status, "kunit_py_exec_exit": exec_rc,
                 "known": parsed.deviations.to_json(), "kernel_source": str(layout.source),
                 "kernel_release": kernel_release(layout, request.arch)},
    )


def run_kunit_layer(layout: Layout, request: KunitRequest, run_dir: Path) -> LayerResult:
    """Run one arch and store its artefacts under run_dir/<arch>/."""
    profile = request.profile
    out_dir = run_dir / request.arch
    out_dir.mkdir(parents=True, exist_ok=True)
    build_dir = layout.build_dir(request.arch, variant=COVERAGE_VARIANT if request.coverage else "")
    build_dir.mkdir(parents=True, exist_ok=True)
    configs = uafault_kunitconfigs(layout, profile)
    if request.coverage:
        configs.append(layout.tree / COVERAGE_KUNITCONFIG)
    json_part = out_dir / "kunit.json.part"
    options = COVERAGE_MAKE_OPTIONS if request.coverage else ()
    steps: list[tuple[str, list[str]]] = [
        ("config", kunit_py_command(layout, "config", profile, build_dir, configs, make_options=options)),
        ("build", kunit_py_command(layout, "build", profile, build_dir, configs, jobs=request.jobs,
                                   make_options=options)),
        ("exec", kunit_py_command(layout, "exec", profile, build_dir, configs, timeout=request.timeout,
                                  json_path=json_part, filter_glob=request.filter_glob)),
    ]
    console = build_dir / CONSOLE_LOG_NAME
    out_part = out_dir / "kunit.out.part"
    details: dict[str, object] = {"tree": str(layout.tree), "build_dir": str(build_dir),
                                  "filter_glob": request.filter_glob}
    result: LayerResult | None = None
    exec_started = 0.0
    try:
        with open(out_part, "w") as log, fsutil.locked(fsutil.dir_lock(build_dir), f"kunit.py run in {build_dir}"):
            for step, cmd in steps:
                print(f"[uafault] kunit.py {step} ({request.arch})", flush=True)
                if step == "exec":
                    exec_started = time.time()
                    if request.coverage:
                        zero_counters(build_dir)
                if step == "build":
                    with build_progress(f"kunit.py build ({request.arch})", build_dir) as build:
                        rc = stream_command(cmd, layout.tree, log)
                        build.ok = rc == 0
                else:
                    rc = stream_command(cmd, layout.tree, log)
                if step != "exec" and rc != 0:
                    result = LayerResult(f"kunit {request.arch}", ExitCode.BUILD_FAILED,
                                         f"kunit.py {step} failed (exit {rc}); see {out_dir / 'kunit.out'}")
                    break
                if step == "exec":
                    # A test.log older than this exec is from an earlier run.
                    if not console.exists() or console.stat().st_mtime < exec_started - 1:
                        result = LayerResult(f"kunit {request.arch}", ExitCode.RUN_FAILED,
                                             f"kernel produced no console log ({console}); kunit.py exec exited {rc}")
                    else:
                        result = _analyse_console(layout, request, out_dir, console, rc)
                    if request.coverage:
                        why = capture(build_dir, out_dir / INFO_NAME)
                        details["coverage"] = why or str(out_dir / INFO_NAME)
    finally:
        # Keep whatever was captured, even on Ctrl-C.
        if out_part.exists():
            os.replace(out_part, out_dir / "kunit.out")
        _finish_json(json_part, out_dir / "kunit.json", out_dir / "console.log")
    assert result is not None
    result.details = {**details, **result.details}
    write_layer(out_dir / SUMMARY_NAME, result)
    return result
