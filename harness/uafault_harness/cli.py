"""Command line: argument validation and dispatch; the work is elsewhere."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Callable, Sequence

from .campaign.known_issues import case_globs, shipped_known_issues
from .campaign.batch import described_lines
from .campaign.runner import CAMPAIGN_DIR, CampaignRequest, run_campaign
from .campaign.spec import load_campaign, parse_duration, parse_shard
from .campaign.store import DB_NAME, RUN_ID, merge_into
from .core.errors import ExitCode, HarnessError, worst
from .core.paths import (DEFAULT_SOURCE, KERNEL_SOURCE_ENV, KernelSource, Layout, parse_kernel_source,
                         resolve_layout)
from .core.results import SUMMARY_NAME, LayerResult, create_run_dir, find_run, mark_latest
from .guest.accel import ACCEL_ENV, ACCELS, accel_arg, default_accel
from .guest.snapshot import BOOT_ENV, BOOT_MODES
from .core.coverage import Coverage, from_tracefile, sources_for
from .guest.build import build_guest_kernel, guest_kernel
from .guest.coverage import case_coverage, read_records
from .guest.disks import COVERAGE_NAME
from .guest.kernels import BOOT_KERNELS, DEFAULT_KERNEL, KERNELS
from .guest.modules import Modules, module_dir_problem
from .guest.qemu import DEFAULT_SILENCE_TIMEOUT, append_problem
from .guest.qemu import DEFAULT_TIMEOUT as GUEST_DEFAULT_TIMEOUT
from .guest.runner import GuestRequest, artefacts_for, guest_preflight, run_guest_layer
from .kunit.coverage import INFO_NAME as KUNIT_INFO_NAME
from .kunit.profiles import ARCHES, ARCH_PROFILES
from .kunit.runner import DEFAULT_TIMEOUT, KunitRequest, default_jobs, preflight, run_kunit_layer
from .reports.export import FORMATS as EXPORT_FORMATS
from .reports.export import export as export_run
from .reports.coverage import LCOV_DIR, Ran, ran_of_names, summary as coverage_summary, write_lcov
from .reports.html import render as render_report, run_or_newest
from .reports.matrix import detection as variant_detection
from .setup import doctor, provision
from .setup.link import SYMLINK_RELPATH, link, unlink
from .setup.requirements import PURPOSES
from .setup.source import require_tree
from .testsuite import summary
from .testsuite.layers import TEST_HELP, TestRun, run_layers
from .lava import run as lava_run
from .lava import server as lava_server
from .mutate import runner as mutate_runner
from .mutate.catalogue import CATALOGUE, check_against_tree, load_catalogue
from .mutate.runner import MUTANT_TIMEOUT
from .triage.bug import BugRequest, bug_from_case, bug_from_repro
from .triage.bisect import RUN_SCRIPT, bisect, git, step_for, top_of as bisect_top
from .triage.minimize import NotReproduced, minimize
from .triage.repro import describe, known_reason, load_repro, run_repro


def positive_int(what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{what} must be > 0, got {value}")
        return value
    parse.__name__ = what
    return parse


def shell_words(text: str) -> str:
    """Checked here so bad quoting is a usage error, not a crash later."""
    try:
        shlex.split(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def module_dir(text: str) -> Path:
    path = Path(text).resolve()
    why = module_dir_problem(path)
    if why is not None:
        raise argparse.ArgumentTypeError(why)
    return path


def kernel_params(text: str) -> str:
    why = append_problem(text)
    if why is not None:
        raise argparse.ArgumentTypeError(why)
    return " ".join(text.split())


def shard_arg(text: str) -> tuple[int, int]:
    parsed = parse_shard(text)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N with 1 <= I <= N")
    return parsed


def run_id_arg(text: str) -> str:
    if not RUN_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"--run-id {text!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return text


def duration(text: str) -> int:
    seconds = parse_duration(text)
    if not seconds:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 30m or 2h")
    return seconds


def add_jobs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=positive_int("--jobs"), default=default_jobs(),
                        help="parallel make jobs (default: CPUs available, %(default)s)")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    add_jobs_option(parser)
    parser.add_argument("--timeout", type=positive_int("--timeout"), default=DEFAULT_TIMEOUT,
                        help="seconds allowed for the kernel to run the tests (default %(default)s)")


def boot_arg(text: str) -> str:
    """argparse type of --boot; its default may come from $UAFAULT_BOOT."""
    if text not in BOOT_MODES:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(BOOT_MODES)} (from --boot or ${BOOT_ENV})")
    return text


def kernel_source_arg(text: str) -> KernelSource:
    try:
        return parse_kernel_source(text)
    except HarnessError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_source_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kernel-source", type=kernel_source_arg, default=None, metavar="SOURCE",
                        help="where the kernel comes from: debian[:SERIES] (Debian's linux-source-SERIES, built "
                             f"here; default {DEFAULT_SOURCE}), image[:ABI] (Debian 12's prebuilt "
                             "linux-image-ABI-amd64 and its linux-headers: no kernel build) or ksrc (the tree "
                             f"$KSRC names); default ${KERNEL_SOURCE_ENV}, else $KSRC's tree if set, else "
                             f"{DEFAULT_SOURCE}")


def add_boot_options(parser: argparse.ArgumentParser) -> None:
    """How every boot of a command runs: --accel, --boot and the kernel's
    source."""
    add_source_option(parser)
    parser.add_argument("--accel", type=accel_arg, default=default_accel(), metavar="{" + ",".join(ACCELS) + "}",
                        help="auto: KVM where a probe boot shows it works (kept per host boot), else TCG; kvm: "
                             f"KVM or an error; tcg: never probe (default ${ACCEL_ENV}, else %(default)s)")
    parser.add_argument("--boot", type=boot_arg, default=os.environ.get(BOOT_ENV) or BOOT_MODES[0],
                        metavar="{" + ",".join(BOOT_MODES) + "}",
                        help="snapshot: restore a guest saved at the end of its boot (made once per kernel, "
                             "agent and command line); cold: boot the kernel every time (default "
                             f"${BOOT_ENV}, else %(default)s)")


def add_coverage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--coverage", action="store_true",
                        help="also record which lines of the code under test (configs/coverage.paths, uafault's "
                             "and your modules) each case ran: lcov tree and error-path tables")


def add_guest_options(parser: argparse.ArgumentParser) -> None:
    kernels = parser.add_mutually_exclusive_group()
    kernels.add_argument("--kernel", choices=KERNELS, default=DEFAULT_KERNEL,
                         help="the guest kernel to boot: " + "; ".join(f"{k.name}: {k.about}" for k in BOOT_KERNELS))
    kernels.add_argument("--kasan", dest="kernel", action="store_const", const="kasan",
                         help="the KASAN guest kernel (--kernel kasan)")
    parser.add_argument("--allow-crash", action="store_true",
                        help="let the agent run the targets that oops on purpose (SMAP)")
    parser.add_argument("--timeout", type=positive_int("--timeout"), default=GUEST_DEFAULT_TIMEOUT,
                        help="seconds the whole boot may take (default %(default)s)")
    parser.add_argument("--silence-timeout", type=positive_int("--silence-timeout"),
                        default=DEFAULT_SILENCE_TIMEOUT,
                        help="seconds without console output before the guest counts as hung "
                             "(default %(default)s)")
    add_boot_options(parser)
    parser.add_argument("--fuzz-calls", type=positive_int("--fuzz-calls"), default=0, metavar="N",
                        help="also run the ioctl fuzzer for N calls (one more suite)")
    parser.add_argument("--module", dest="modules", type=module_dir, action="append", default=[], metavar="DIR",
                        help="also build this out-of-tree module directory (M=) against the guest kernel with "
                             "uafault.ko's Module.symvers and load it after uafault.ko; one of its modules must "
                             "register a target (repeatable)")
    parser.add_argument("--path", dest="paths", type=Path, action="append", default=[], metavar="FILE",
                        help="also run the device path FILE describes (TOML, as configs/paths/*.toml, which "
                             "always run; repeatable)")
    parser.add_argument("--append", type=kernel_params, default="", metavar="PARAMS",
                        help="more kernel parameters for the guest, e.g. \"transparent_hugepage=always\"")
    parser.add_argument("--kunit", action="store_true",
                        help="also load uafault_kunit.ko (its suites run) and run each suite again "
                             "through /sys/kernel/debug/kunit/<suite>/run (one more suite each), the cases "
                             "that WARN on purpose on, with --allow-crash those that oops too (SMAP, last)")
    add_coverage_option(parser)
    parser.add_argument("--agent-args", type=shell_words, default="", metavar="ARGS",
                        help="extra uafault-agent arguments, shell-quoted, e.g. \"--targets 'copy*'\"")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uafault",
        description="Fault injection for the kernel's user-access and DMA-pinning paths: KUnit suites, "
                    "uafault.ko and its agent in QEMU guests, campaigns, repro configs and minimisation.",
        epilog="Exit codes: " + ", ".join(f"{c.value}={c.name}" for c in ExitCode),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("setup", help="install packages, unpack kernel source, link the project")
    add_source_option(p)
    p.add_argument("--no-install", action="store_true", help="report missing packages instead of installing")
    p.add_argument("--for", dest="purpose", choices=PURPOSES, default="run",
                   help="what to install for: run (build and run the UML suites, the default), guest (also "
                        "QEMU and the guest's tools), test (also pytest and chromium: make test)")

    sub.add_parser("link", help="hook the project into the kernel tree (lib/uafault)")
    sub.add_parser("unlink", help="undo link, restoring the tree byte for byte")

    p = sub.add_parser("kunit", help="build and run the KUnit suites for one arch")
    add_source_option(p)
    p.add_argument("--arch", choices=ARCHES, default="um")
    add_run_options(p)
    p.add_argument("--coverage", action="store_true",
                   help="UML: build with kunit.py's coverage_uml.config (own build dir) and report the lines of "
                        "the code under test and of the suites that ran (lcov tree)")
    p.add_argument("filter_glob", nargs="?", default="", help="suite[.test] glob, e.g. 'uafault_copy*'")

    p = sub.add_parser("mutants", help="score the KUnit suites against configs/mutants.toml: each mutant of the "
                       "kernel code they cover applied to the cached tree, built, run, undone")
    p.add_argument("names", nargs="*", metavar="GLOB", help="only the mutants whose names match (default: all)")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the run on the unedited tree (only when the suites just passed on it)")
    add_jobs_option(p)
    p.add_argument("--timeout", type=positive_int("--timeout"), default=MUTANT_TIMEOUT,
                   help="seconds each kernel may run the suites (default %(default)s: a mutant that "
                        "loops is killed by it)")

    p = sub.add_parser("guest-build", help="build (or reuse) the x86_64 guest kernel for the agent")
    add_source_option(p)
    p.add_argument("--kasan", action="store_true", help="add configs/guest-kasan.config (own build dir)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, change nothing")
    add_jobs_option(p)

    p = sub.add_parser("guest", help="run the agent and uafault.ko on the guest kernel under QEMU")
    add_guest_options(p)
    add_jobs_option(p)

    p = sub.add_parser("campaign", help="run a campaign file's cases in guests, verdicts kept in results/uafault.db")
    p.add_argument("spec", type=Path, help="configs/campaigns/*.toml")
    p.add_argument("--budget", type=duration, default=None,
                   help="stop starting boots after this long, e.g. 30m (default: the file's)")
    p.add_argument("--resume", metavar="RUN", help="finish run RUN of this file; finished cases are not rerun")
    p.add_argument("--shard", type=shard_arg, default=None, metavar="I/N",
                   help="plan only slice I of N (1-based) of the whole matrix, for N machines (the file's "
                        "nights are not used); fold the databases with merge")
    p.add_argument("--run-id", type=run_id_arg, default=None, metavar="ID",
                   help="name the run (default: the UTC time); shards given one ID merge into one run")
    # Not -j: to a make user that is build jobs (--jobs here too).
    p.add_argument("--guests", type=positive_int("--guests"), default=1, metavar="N",
                   help="guests booted at once, each taking the next batch (default 1)")
    p.add_argument("--dry-run", action="store_true",
                   help="plan only: print the cases per kernel, fault kind and target, and an estimate of the "
                        "time from earlier runs; nothing runs or is stored")
    add_coverage_option(p)
    add_boot_options(p)
    add_jobs_option(p)

    p = sub.add_parser("repro", help="replay a repro config's case N times: REPRODUCED k/N (exit 0), "
                       "NOT REPRODUCED (exit 1), or an error (exit 2)")
    p.add_argument("file", type=Path, help="configs/repro/*.toml")
    p.add_argument("--runs", type=positive_int("--runs"), default=None, help="runs (default: the file's)")
    add_coverage_option(p)
    add_boot_options(p)
    add_jobs_option(p)

    p = sub.add_parser("minimize", help="turn a failing campaign case into the smallest repro config and a "
                       "standalone C reproducer (exit 0 done, 1 does not reproduce, 2 error)")
    p.add_argument("run", help="campaign run id")
    p.add_argument("case", help="case id, e.g. variant_pin_leak_on_error.unmapped.0123456789")
    p.add_argument("--out", type=Path, default=None,
                   help="where the .toml and .c go (default results/repro/minimized/RUN)")
    p.add_argument("--runs", type=positive_int("--runs"), default=1,
                   help="runs per attempt, all of which must reproduce (default 1)")
    add_boot_options(p)
    add_jobs_option(p)

    p = sub.add_parser("bisect", help="the first commit at which a repro config reproduces, over the kernel tree "
                       "(KSRC) or a git repository of one of its modules (exit 0 found, 1 none, 2 error)")
    p.add_argument("file", type=Path, help="configs/repro/*.toml, or a repro config of your own")
    p.add_argument("--good", required=True, metavar="REV", help="a revision where it does not reproduce")
    p.add_argument("--bad", required=True, metavar="REV", help="a revision where it reproduces")
    p.add_argument("--repo", type=Path, default=None,
                   help="the git repository to bisect: one holding a module directory of the repro "
                        "(only the module is rebuilt), or a kernel tree (default: $KSRC)")
    p.add_argument("--runs", type=positive_int("--runs"), default=None,
                   help="runs per step, as many as the file's threshold scaled (default: the file's)")
    add_boot_options(p)
    add_jobs_option(p)

    p = sub.add_parser("bug", help="a finding as one upstream-ready report (syzbot's shape): the decoded trace, "
                       "the minimized and C reproducers, how often it reproduces, maintainers, known fix")
    p.add_argument("run", nargs="?", default=None, help="the campaign run of the case")
    p.add_argument("case", nargs="?", default=None, help="the case id (as `results` and the report show it)")
    p.add_argument("--repro", type=Path, default=None, metavar="FILE", help="a repro config instead of a case")
    p.add_argument("--out", type=Path, default=None, help="the report's directory (default results/bugs/NAME)")
    p.add_argument("--runs", type=positive_int("--runs"), default=3, help="runs to say how often it reproduces")
    p.add_argument("--bisect", type=Path, default=None, metavar="REPO",
                   help="also bisect REPO (a kernel tree, or a module's repository) for the first bad commit")
    p.add_argument("--good", default="", metavar="REV", help="with --bisect: a revision where it does not reproduce")
    p.add_argument("--bad", default="HEAD", metavar="REV", help="with --bisect: one where it does (default HEAD)")
    add_boot_options(p)
    add_jobs_option(p)

    p = sub.add_parser("report", help="a campaign run as one self-contained HTML file")
    p.add_argument("run", nargs="?", default=None, help="campaign run id (default: the newest)")
    p.add_argument("--out", type=Path, default=None,
                   help="where to write it (default results/campaigns/RUN/report.html)")
    p.add_argument("--variants", action="store_true",
                   help="print the buggy-variant detection matrix instead (default run: the newest with variants); "
                        "exit 0 only if every variant was caught and every twin passed")

    p = sub.add_parser("export", help="a campaign run as KTAP, kunit.py-style JSON or KCIDB JSON")
    p.add_argument("run", nargs="?", default=None, help="campaign run id (default: the newest)")
    p.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    p.add_argument("--out", type=Path, default=None, help="file to write (default: standard output)")

    p = sub.add_parser("merge", help="fold campaign databases (e.g. shards from other machines) into one")
    p.add_argument("sources", type=Path, nargs="+", help="uafault.db files to fold in")
    p.add_argument("--into", type=Path, default=None, help="the database to fold into (default results/uafault.db)")

    p = sub.add_parser("lava", help="run a campaign on a LAVA lab: up/down (a lab on this machine), submit, "
                       "collect (verdicts into results/uafault.db)")
    lava = p.add_subparsers(dest="lava_command", required=True, metavar="{up,down,submit,collect}")
    q = lava.add_parser("up", help="install, start and set up a LAVA lab on this machine (idempotent)")
    q.add_argument("--devices", type=positive_int("--devices"), default=2, metavar="N",
                   help="qemu devices on the lab's worker: jobs run at once (default 2)")
    lava.add_parser("down", help="stop what `lava up` started")
    q = lava.add_parser("submit", help="plan a campaign once and submit its cases as LAVA jobs, N shards")
    q.add_argument("spec", type=Path, help="configs/campaigns/*.toml")
    q.add_argument("--shards", type=positive_int("--shards"), default=1, metavar="N")
    q.add_argument("--resume", metavar="RUN", help="send only RUN's cases that no finished job judged")
    q.add_argument("--run-id", type=run_id_arg, default=None, metavar="ID")
    q.add_argument("--artefacts-url", default="", metavar="URL",
                   help="where a remote dispatcher fetches results/ from (default: file:// URLs, for a "
                        "dispatcher on this machine)")
    add_jobs_option(q)
    q = lava.add_parser("collect", help="read a LAVA run's finished jobs into its verdicts (idempotent)")
    q.add_argument("run", type=run_id_arg, help="the run id submit printed")
    q.add_argument("--wait", type=duration, default=0, nargs="?", const=7200, metavar="TIME",
                   help="wait for the run's jobs to finish, up to TIME (default 2h)")
    for name in ("submit", "collect"):
        lava.choices[name].add_argument("--server", default="", metavar="URL",
                                        help="a LAVA server (default: the lab `lava up` made here)")
        lava.choices[name].add_argument("--token", default=os.environ.get("UAFAULT_LAVA_TOKEN", ""),
                                        help="its API token (default $UAFAULT_LAVA_TOKEN, or the lab's)")

    p = sub.add_parser("test", help=TEST_HELP, description=TEST_HELP)
    p.add_argument("--kunit-py-x86_64", action="store_true",
                   help="also run the suites on x86_64 through kunit.py (a kernel of its own: about 3 minutes "
                   "to build cold); the guest runs them on x86_64 anyway")
    p.add_argument("--skip-pytest", action="store_true")
    p.add_argument("--skip-guest", action="store_true", help="leave out the QEMU guest and campaign layers")
    add_boot_options(p)
    add_run_options(p)

    sub.add_parser("doctor", help="check every prerequisite and print the fix")

    p = sub.add_parser("results", help="print the summary of a stored run")
    p.add_argument("run", nargs="?", default=None, help="run id (default: latest)")
    return parser


def _print_layers(layers: list[LayerResult], run_dir_text: str) -> None:
    print()
    print(summary.layer_table(layers))
    for line in summary.known_lines(layers):
        print(line)
    print(f"artefacts: {run_dir_text}")
    # Must stay the very last line: scripts read it.
    print(summary.totals_line(layers))


def _print_layer(result: LayerResult, out_dir: Path) -> ExitCode:
    """A one-layer command's table and totals; its exit code."""
    if result.suites:
        print()
        print(summary.suite_table(result))
    _print_layers([result], str(out_dir))
    return result.exit_code


def cmd_kunit(args: argparse.Namespace, layout: Layout) -> ExitCode:
    if args.coverage and args.arch != "um":
        raise HarnessError(ExitCode.USAGE, "kunit --coverage runs on UML (kunit.py's gcov route); on x86_64 "
                                           "the guest counts coverage: harness/uafault guest --coverage")
    request = KunitRequest(arch=args.arch, jobs=args.jobs, timeout=args.timeout, filter_glob=args.filter_glob,
                           coverage=args.coverage)
    if args.coverage:
        provision.ensure_packages("coverage")
    preflight(layout, request.profile)
    run_dir = create_run_dir(layout.results_root)
    code = _print_layer(run_kunit_layer(layout, request, run_dir), run_dir / args.arch)
    info = run_dir / args.arch / KUNIT_INFO_NAME
    if args.coverage:
        if not info.is_file():
            raise HarnessError(ExitCode.RUN_FAILED, "kunit --coverage: no coverage was captured (see "
                                                    f"{run_dir / args.arch / SUMMARY_NAME})")
        # The code under test, and the suites themselves (linked in as lib/uafault).
        sources = sources_for(layout.tree, layout.project, (layout.tree / SYMLINK_RELPATH,))
        cov = from_tracefile(info.read_text(errors="replace"), sources.name, "kunit")
        _show_coverage(cov, [Ran("kunit", "kunit", "none")], run_dir / args.arch / LCOV_DIR, "uafault KUnit (UML)")
    return code


def cmd_mutants(args: argparse.Namespace, layout: Layout) -> ExitCode:
    if layout.user_tree:
        raise HarnessError(ExitCode.USAGE, f"mutants edits kernel sources and KSRC={layout.tree} is yours: "
                                           "run it on the cached tree (unset KSRC)")
    catalogue = layout.project / CATALOGUE
    mutants = mutate_runner.select(load_catalogue(catalogue), args.names)
    if not mutants:
        raise HarnessError(ExitCode.USAGE, f"no mutant of {catalogue} matches {' '.join(args.names)}")
    check_against_tree(mutants, layout.tree, catalogue)
    for arch in sorted({m.arch for m in mutants}):
        preflight(layout, ARCH_PROFILES[arch])
    run_dir = create_run_dir(layout.results_root)
    out_dir = run_dir / "mutants"
    if not args.no_baseline:
        for arch in sorted({m.arch for m in mutants}):
            base = mutate_runner.run_baseline(layout, arch, args.jobs, args.timeout, out_dir)
            if base.exit_code is not ExitCode.OK:
                print(f"mutants: the suites fail on the unedited tree ({base.message}): no mutant can be scored")
                return base.exit_code
    outcomes = mutate_runner.run_mutants(layout, mutants, args.jobs, args.timeout, out_dir)
    print(mutate_runner.table(outcomes))
    print(f"artefacts: {out_dir}")
    return ExitCode.OK


def cmd_guest_build(args: argparse.Namespace, layout: Layout) -> ExitCode:
    build_guest_kernel(layout, args.kasan, args.jobs, dry_run=args.dry_run)
    return ExitCode.OK


def guest_request(args: argparse.Namespace, layout: Layout) -> GuestRequest:
    return GuestRequest(path_lines=described_lines(layout, tuple(args.paths)), kernel=args.kernel,
                        allow_crash=args.allow_crash, timeout=args.timeout,
                        silence_timeout=args.silence_timeout, accel=args.accel,
                        agent_args=args.agent_args, jobs=args.jobs, fuzz_calls=args.fuzz_calls,
                        kunit=args.kunit, modules=Modules(dirs=tuple(dict.fromkeys(args.modules))),
                        append=args.append, coverage=args.coverage,
                        known_issues=case_globs(shipped_known_issues(layout.project), args.kernel))


def _show_coverage(cov: Coverage, cases: list[Ran], out_dir: Path, title: str) -> None:
    if not cov.files:
        print("coverage: no case ran any code under test")
        return
    index = write_lcov(cov, cases, out_dir, title)
    print(coverage_summary(cov, cases))
    print(f"coverage: {index}")
    for problem in cov.problems[:3]:
        print(f"coverage: gcov: {problem.splitlines()[0]}")


def cmd_guest(args: argparse.Namespace, layout: Layout) -> ExitCode:
    request = guest_request(args, layout)
    guest_preflight(layout, args.coverage)
    run_dir = create_run_dir(layout.results_root)
    code = _print_layer(run_guest_layer(layout, request, run_dir), run_dir / request.layer_dir)
    image = run_dir / request.layer_dir / COVERAGE_NAME
    if request.coverage and image.is_file():
        home = artefacts_for(guest_kernel(layout, request.kasan)).home
        cov = case_coverage(read_records(image), sources_for(layout.tree, layout.project, (home,) if home else ()))
        _show_coverage(cov, ran_of_names(list(cov.hits)), run_dir / request.layer_dir / LCOV_DIR,
                       f"uafault guest {request.kernel}")
        image.unlink()
    return code


def cmd_campaign(args: argparse.Namespace, layout: Layout) -> ExitCode:
    provision.ensure_packages("coverage" if args.coverage else "guest")
    # A bad file fails now, not after minutes of building the guest.
    campaign = load_campaign(args.spec, None)
    require_tree(layout)
    if args.dry_run and args.resume:
        raise HarnessError(ExitCode.USAGE, "--dry-run plans a new run; it cannot --resume one")
    code, message = run_campaign(layout, CampaignRequest(args.spec, args.jobs, budget_seconds=args.budget,
                                                       resume=args.resume, guests=args.guests,
                                                       shard=args.shard, run_id=args.run_id,
                                                       dry_run=args.dry_run, accel=args.accel,
                                                       coverage=args.coverage, campaign=campaign))
    print(f"campaign: {message}")
    return code


def cmd_repro(args: argparse.Namespace, layout: Layout) -> ExitCode:
    provision.ensure_packages("coverage" if args.coverage else "guest")
    repro = load_repro(args.file)
    require_tree(layout)
    result = run_repro(layout, repro, args.runs, args.jobs, args.accel, args.coverage)
    print(f"repro: {args.file}: runs in {result.out_dir}")
    if result.coverage is not None:
        cases = repro.cases(result.runs)
        _show_coverage(result.coverage, [Ran(c.case_id, c.target, c.fault) for c in cases],
                       result.out_dir / LCOV_DIR, f"uafault repro {repro.name}")
    print(describe(repro, result))
    reason = known_reason(layout, repro)
    if reason:
        print(f"repro: the case is a known issue: {reason}")
    return ExitCode.OK if result.ok else ExitCode.TEST_FAILED


def cmd_bisect(args: argparse.Namespace, layout: Layout) -> ExitCode:
    provision.ensure_packages("guest")
    repro = load_repro(args.file)
    require_tree(layout)
    runs = args.runs or repro.runs
    repo = args.repo or (layout.tree if layout.user_tree else None)
    if repo is None:
        raise HarnessError(ExitCode.USAGE, "bisect: say which repository with --repo (or KSRC for a kernel tree)")
    top = bisect_top(repo)
    test, kernel = step_for(layout, repro, top, runs, args.jobs, args.accel)
    result = bisect(layout, repro, top, args.good, args.bad, runs, test, layout.project / "harness" / "uafault",
                    args.accel, keep_worktree=kernel)
    print(f"bisect: {len(result.steps)} steps, logs in {result.out_dir} (and {RUN_SCRIPT} for git bisect run)")
    if result.first_bad is None:
        print(f"bisect: no first bad commit: {result.said.strip().splitlines()[-1:] or 'git said nothing'}")
        return ExitCode.TEST_FAILED
    print(f"bisect: first bad commit: {git(top, 'log', '-1', '--format=%H %s', result.first_bad).strip()}")
    return ExitCode.OK


def cmd_bug(args: argparse.Namespace, layout: Layout) -> ExitCode:
    if (args.repro is None) == (args.run is None or args.case is None):
        raise HarnessError(ExitCode.USAGE, "bug: give RUN CASE (a campaign's case) or --repro FILE, one of them")
    if args.bisect is not None and not args.good:
        raise HarnessError(ExitCode.USAGE, "bug --bisect REPO needs --good REV")
    provision.ensure_packages("guest")
    require_tree(layout)
    request = BugRequest(args.out, args.runs, args.jobs, args.accel, args.bisect, args.good, args.bad)
    try:
        report = (bug_from_repro(layout, args.repro, request) if args.repro is not None
                  else bug_from_case(layout, args.run, args.case, request))
    except NotReproduced as exc:
        print(f"bug: NOT REPRODUCED: {exc}")
        return ExitCode.TEST_FAILED
    print(report.read_text())
    print(f"bug: {report}")
    return ExitCode.OK


def cmd_minimize(args: argparse.Namespace, layout: Layout) -> ExitCode:
    provision.ensure_packages("guest")
    require_tree(layout)
    try:
        done = minimize(layout, args.run, args.case, args.jobs, args.out, args.runs, args.accel)
    except NotReproduced as exc:
        print(f"minimize: NOT REPRODUCED: {exc}")
        return ExitCode.TEST_FAILED
    print(f"minimize: repro config {done.config} (harness/uafault repro {done.config})")
    c_said = f"{done.c_verdict.verdict} {done.c_verdict.title}".strip()
    if not done.c_reproduced:
        print(f"minimize: C reproducer {done.source} gave {c_said!r}, not the same verdict")
        return ExitCode.TEST_FAILED
    print(f"minimize: C reproducer {done.source}: same verdict in the guest ({c_said})")
    return ExitCode.OK


def cmd_report(args: argparse.Namespace, layout: Layout) -> ExitCode:
    if args.variants:
        code, text = variant_detection(layout.results_root / DB_NAME, args.run)
        sys.stdout.write(text)
        return code
    run_id = run_or_newest(layout.results_root / DB_NAME, args.run)
    out = args.out or layout.results_root / CAMPAIGN_DIR / run_id / "report.html"
    # A run with coverage: its lcov tree beside the page.
    _, page = render_report(layout.results_root / DB_NAME, run_id, out.parent / LCOV_DIR)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    print(f"report: {out}")
    return ExitCode.OK


def cmd_export(args: argparse.Namespace, layout: Layout) -> ExitCode:
    _, text = export_run(layout.results_root / DB_NAME, args.run, args.format)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
        print(f"export: {args.out}")
    return ExitCode.OK


def cmd_merge(args: argparse.Namespace, layout: Layout) -> ExitCode:
    dest = args.into or layout.results_root / DB_NAME
    added = merge_into(dest, args.sources)
    print(f"merge: into {dest}: " + ", ".join(f"{n} {table}" for table, n in added.items()) + " added")
    return ExitCode.OK


def cmd_lava(args: argparse.Namespace, layout: Layout) -> ExitCode:
    if args.lava_command == "up":
        lava_server.up(layout, args.devices)
        return ExitCode.OK
    if args.lava_command == "down":
        lava_server.down(layout)
        return ExitCode.OK
    if args.lava_command == "collect":
        code, message = lava_run.collect(layout, args.run, lava_run.server_of(layout, args.server, args.token),
                                         args.wait or 0)
    else:
        provision.ensure_packages("guest")
        load_campaign(args.spec, None)
        require_tree(layout)
        code, message = lava_run.submit(layout, lava_run.SubmitRequest(
            args.spec, args.shards, args.server, args.token, args.artefacts_url, args.resume, args.run_id,
            args.jobs))
    print(f"lava: {message}")
    return code


def cmd_test(args: argparse.Namespace, layout: Layout) -> ExitCode:
    arches = [a for a in ARCHES if a != "x86_64" or args.kunit_py_x86_64]
    # Fail before spending minutes on pytest if a kernel layer cannot run.
    for arch in arches:
        preflight(layout, ARCH_PROFILES[arch])
    if not args.skip_guest:
        guest_preflight(layout, coverage=True)
    run_dir = create_run_dir(layout.results_root)
    # --timeout is the KUnit runs'; the guests keep their own watchdogs.
    layers = run_layers(TestRun(layout, run_dir, args.jobs, args.timeout, args.accel, args.kunit_py_x86_64),
                        skip_pytest=args.skip_pytest, skip_guest=args.skip_guest)
    # The user module and path layers' `guest` runs made run dirs of their own:
    # `results` with no run id must show this one.
    mark_latest(run_dir)
    _print_layers(layers, str(run_dir))
    return worst([l.exit_code for l in layers])


def cmd_setup(args: argparse.Namespace, layout: Layout) -> ExitCode:
    return provision.setup(layout, install=not args.no_install, purpose=args.purpose)


def _print_changes(verb: str, changes: list[str], layout: Layout) -> ExitCode:
    for change in changes:
        print(f"{verb}: {change}")
    if not changes:
        print(f"{verb}: nothing to do for {layout.tree}")
    return ExitCode.OK


def cmd_link(args: argparse.Namespace, layout: Layout) -> ExitCode:
    require_tree(layout)
    return _print_changes("link", link(layout.tree, layout.project), layout)


def cmd_unlink(args: argparse.Namespace, layout: Layout) -> ExitCode:
    require_tree(layout)
    return _print_changes("unlink", unlink(layout.tree, layout.project), layout)


def cmd_results(args: argparse.Namespace, layout: Layout) -> ExitCode:
    run_dir = find_run(layout.results_root, args.run)
    print(summary.run_report(run_dir))
    return ExitCode.OK


ERRORS_ARE_USAGE = ("repro", "minimize")

COMMANDS: dict[str, Callable[[argparse.Namespace, Layout], ExitCode]] = {
    "setup": cmd_setup,
    "link": cmd_link,
    "unlink": cmd_unlink,
    "kunit": cmd_kunit,
    "mutants": cmd_mutants,
    "test": cmd_test,
    "guest-build": cmd_guest_build,
    "guest": cmd_guest,
    "campaign": cmd_campaign,
    "merge": cmd_merge,
    "lava": cmd_lava,
    "report": cmd_report,
    "repro": cmd_repro,
    "minimize": cmd_minimize,
    "bug": cmd_bug,
    "bisect": cmd_bisect,
    "export": cmd_export,
    "results": cmd_results,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "boot", None):
        # Read where the boots happen (guest/runner.py), however deep.
        os.environ[BOOT_ENV] = args.boot
    if getattr(args, "kernel_source", None):
        os.environ[KERNEL_SOURCE_ENV] = str(args.kernel_source)
    try:
        if args.command == "doctor":
            # doctor reports a bad KSRC as one of its lines instead of dying.
            return int(doctor.doctor())
        return int(COMMANDS[args.command](args, resolve_layout()))
    except HarnessError as exc:
        print(f"uafault: error: {exc}", file=sys.stderr)
        # repro's contract: 0 reproduced, 1 not reproduced, 2 any error.
        return int(ExitCode.USAGE if args.command in ERRORS_ARE_USAGE else exc.code)
    except KeyboardInterrupt:
        print("uafault: interrupted; completed artefacts were kept", file=sys.stderr)
        return 130
