"""Command line: argument validation and dispatch; the work is elsewhere."""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from . import doctor, provision, report
from .errors import ExitCode, HarnessError, worst
from .kunit_runner import DEFAULT_TIMEOUT, KunitRequest, default_jobs, preflight, run_kunit_layer
from .link import link, unlink
from .paths import Layout, resolve_layout
from .profiles import ARCH_PROFILES, ARCHES
from .pytest_layer import run_pytest_layer
from .results import LayerResult, create_run_dir, find_run
from .source import require_tree


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


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=positive_int("--jobs"), default=default_jobs(),
                        help="parallel make jobs (default: CPUs available, %(default)s)")
    parser.add_argument("--timeout", type=positive_int("--timeout"), default=DEFAULT_TIMEOUT,
                        help="seconds allowed for the kernel to run the tests (default %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uafault",
        description="Fault-injection KUnit suites for the kernel's user-access paths.",
        epilog="Exit codes: " + ", ".join(f"{c.value}={c.name}" for c in ExitCode),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("setup", help="install packages, unpack kernel source, link the project")
    p.add_argument("--no-install", action="store_true", help="report missing packages instead of installing")

    sub.add_parser("link", help="hook the project into the kernel tree (lib/uafault)")
    sub.add_parser("unlink", help="undo link, restoring the tree byte for byte")

    p = sub.add_parser("kunit", help="build and run the KUnit suites for one arch")
    p.add_argument("--arch", choices=ARCHES, default="um")
    add_run_options(p)
    p.add_argument("filter_glob", nargs="?", default="", help="suite[.test] glob, e.g. 'uafault_copy*'")

    p = sub.add_parser("test", help="pytest + KUnit um + KUnit x86_64 in one run")
    p.add_argument("--skip-x86_64", action="store_true")
    p.add_argument("--skip-pytest", action="store_true")
    add_run_options(p)

    sub.add_parser("doctor", help="check every prerequisite and print the fix")

    p = sub.add_parser("results", help="print the summary of a stored run")
    p.add_argument("run", nargs="?", default=None, help="run id (default: latest)")
    return parser


def _print_layers(layers: list[LayerResult], run_dir_text: str) -> None:
    print()
    print(report.layer_table(layers))
    print(f"artefacts: {run_dir_text}")
    # Must stay the very last line: scripts read it.
    print(report.totals_line(layers))


def cmd_kunit(args: argparse.Namespace, layout: Layout) -> ExitCode:
    request = KunitRequest(arch=args.arch, jobs=args.jobs, timeout=args.timeout, filter_glob=args.filter_glob)
    preflight(layout, request.profile)
    run_dir = create_run_dir(layout.results_root)
    result = run_kunit_layer(layout, request, run_dir)
    if result.suites:
        print()
        print(report.suite_table(result))
    _print_layers([result], str(run_dir / args.arch))
    return result.exit_code


def cmd_test(args: argparse.Namespace, layout: Layout) -> ExitCode:
    arches = [a for a in ARCHES if not (a == "x86_64" and args.skip_x86_64)]
    # Fail before spending minutes on pytest if a kernel layer cannot run.
    for arch in arches:
        preflight(layout, ARCH_PROFILES[arch])
    run_dir = create_run_dir(layout.results_root)
    layers: list[LayerResult] = []
    if not args.skip_pytest:
        layers.append(run_pytest_layer(layout, run_dir))
    for arch in arches:
        layers.append(run_kunit_layer(layout, KunitRequest(arch, args.jobs, args.timeout), run_dir))
    _print_layers(layers, str(run_dir))
    return worst([l.exit_code for l in layers])


def cmd_setup(args: argparse.Namespace, layout: Layout) -> ExitCode:
    return provision.setup(layout, install=not args.no_install)


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
    print(report.run_report(run_dir))
    return ExitCode.OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Layout], ExitCode]] = {
    "setup": cmd_setup,
    "link": cmd_link,
    "unlink": cmd_unlink,
    "kunit": cmd_kunit,
    "test": cmd_test,
    "results": cmd_results,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "doctor":
            # doctor reports a bad KSRC as one of its lines instead of dying.
            return int(doctor.doctor())
        return int(COMMANDS[args.command](args, resolve_layout()))
    except HarnessError as exc:
        print(f"uafault: error: {exc}", file=sys.stderr)
        return int(exc.code)
    except KeyboardInterrupt:
        print("uafault: interrupted; completed artefacts were kept", file=sys.stderr)
        return 130
