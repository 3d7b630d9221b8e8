"""The guest layer: the agent and uafault.ko on a real x86_64 kernel under
QEMU.  Builds (or reuses) the guest kernel, packs the initramfs, boots it,
then reads the console into a LayerResult and artefacts under
<run dir>/guest/."""

from __future__ import annotations

import atexit
import hashlib
import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from ..core import fsutil
from ..core.errors import ExitCode, HarnessError
from ..core.paths import GUEST_ARCH, Layout
from ..core.procutil import stream_command
from ..core.results import LayerResult, SUMMARY_NAME, write_layer
from ..core.verdicts import Verdict
from ..kunit import ktap
from ..kunit.profiles import ALLOW_OOPS, ALLOW_WARN, ARCH_PROFILES, OOPS_SUITES
from ..kunit.runner import policy_violations
from ..setup.provision import ensure_packages
from ..setup.requirements import GUEST_RUNTIME_TOOLS, require_tools
from ..setup.source import require_tree
from .accel import ACCEL_CACHE_NAME, DEFAULT_ACCEL, KvmProbe, probe_kvm, select_accel
from .build import GuestKernel, build_guest_kernel
from ..setup.image import boot_modules
from .console import ConsoleTracker, KernelReport
from .disks import PLACEHOLDERS, BootDisks, blank_disks, boot_disks
from .initramfs import (
    GUEST_FUZZER, INITRAMFS_NAME, Base, BaseSpec, JobSpec, build_base, cached_base, guest_module_path,
)
from .modules import INCLUDE_VAR, SYMVERS, BuiltModule, Modules, build_user_module
from .kernels import DEFAULT_KERNEL, BootKernel, boot_kernel
from .protocol import (
    AGENT_ALLOW_CRASH, AGENT_COVERAGE, AGENT_DMA, AGENT_EXPECT_TARGETS, AGENT_FUZZ_CALLS, AGENT_FUZZER,
    AGENT_KNOWN_ISSUE, AGENT_KUNIT, AGENT_KUNIT_LAST, AGENT_KUNIT_PARAM, AGENT_MODULE, AGENT_MODULE_PARAMS,
    AGENT_NAME, AGENT_PATH_FILE, agent_error, is_unresolved, unavailable,
)
from .qemu import (
    BASE_APPEND, DEFAULT_SILENCE_TIMEOUT, DEFAULT_TIMEOUT, RunOutcome, QemuEnd, Watchdog,
    incoming_args, kernel_append, qemu_command, run_console,
)
from .snapshot import SNAPSHOT_DIRNAME, Template, boot_mode, forget, template, template_key

GUEST_LAYER_DIR = "guest"


def guest_layer_dir(kernel: str) -> str:
    return GUEST_LAYER_DIR if kernel == DEFAULT_KERNEL else f"{GUEST_LAYER_DIR}-{kernel}"


# Every guest layer's directory under a run dir, plain first.
# `test` runs the ioctl fuzzer this long in each guest layer (issue: >= 100k
# calls under KASAN); a few seconds under TCG.
TEST_FUZZ_CALLS = 100_000
CONSOLE_NAME = "console.log"
KTAP_NAME = "ktap.txt"
KUNIT_JSON_NAME = "kunit.json"
# Where a guest kernel's artefacts are built: inside its build dir, so a
# KASAN kernel never loads modules built for the plain one.
ARTEFACTS_DIRNAME = "uafault-artefacts"
MODULE_SRC = Path("module")
KUNIT_SRC = Path("kunit")
# uafault.ko first: the agent passes allow_crash to the first module only.
MODULE_RELPATHS: tuple[Path, ...] = (Path("uafault.ko"), Path("example/uafault_example.ko"))
# The buggy-variant catalogue: loaded only when asked for (it taints), with
# the variant that oopses under SMAP registered too.
VARIANTS_RELPATH = Path("variants/uafault_variants.ko")
VARIANTS_PARAMS = "allow_oops=1"
# The KUnit suites as a module: they run when it loads (the cases that
# WARN or oops on purpose stay off) and the agent runs them again through
# debugfs with those on (the oopses only in a boot that may oops, and
# last).  That second run is make test's x86_64 KUnit run, held to
# kunit.py's x86_64 policy: every SMAP case runs.
KUNIT_RELPATH = Path("uafault_kunit.ko")
KUNIT_GLOB = "uafault_*"
KUNIT_POLICY = ARCH_PROFILES[GUEST_ARCH]
# After a user's modules: set-up fails unless one of them registered a target.
# Where the described paths' lines sit in the guest, for --path-file.
GUEST_PATHS = "/paths.txt"
FUZZER_NAME = "uafault-fuzz"
# Top-level make target that builds the modules and the agent against KDIR.
ARTEFACTS_TARGET = "guest-artefacts"
# Only these are copied: Kbuild's own products in a stale copy stay put.
_MODULE_SOURCE_SUFFIXES = (".c", ".h")
_MODULE_SOURCE_NAMES = ("Makefile", "Kbuild")



@dataclass(frozen=True)
class GuestRequest:
    # A guest kernel's name (guest/kernels.py).
    kernel: str = DEFAULT_KERNEL
    allow_crash: bool = False
    timeout: int = DEFAULT_TIMEOUT
    silence_timeout: int = DEFAULT_SILENCE_TIMEOUT
    # auto, kvm or tcg (guest/accel.py).
    accel: str = DEFAULT_ACCEL
    agent_args: str = ""
    jobs: int = 1
    # Calls of the ioctl fuzzer, run as one more suite; 0 leaves it out.
    fuzz_calls: int = 0
    # The buggy-variant catalogue and a user's modules, loaded after the
    # example (a user's directories must have been prepared: prepare_guest).
    modules: Modules = Modules()
    # More kernel parameters (checked by qemu.append_problem).
    append: str = ""
    # Described paths, one agent line each (campaign/paths.py writes them).
    path_lines: tuple[str, ...] = ()
    # Load uafault_kunit.ko and run its suites again through debugfs.
    kunit: bool = False
    # Cases ("target.kind" globs) a known issue expects to fail: the agent
    # reports their failures as SKIPs that say XFAIL (campaigns judge
    # known issues themselves, from the raw verdicts).
    known_issues: tuple[str, ...] = ()
    # Each case's gcov counters to the coverage disk (guest/coverage.py).
    coverage: bool = False

    @property
    def boot(self) -> BootKernel:
        return boot_kernel(self.kernel)

    @property
    def kasan(self) -> bool:
        return self.boot.kasan

    @property
    def layer(self) -> str:
        return f"guest {GUEST_ARCH}" + ("" if self.kernel == DEFAULT_KERNEL else f" {self.kernel}")

    @property
    def layer_dir(self) -> str:
        return guest_layer_dir(self.kernel)


@dataclass(frozen=True)
class GuestArtefacts:
    modules: tuple[Path, ...]
    variants: Path
    # uafault_kunit.ko: None for a kernel without CONFIG_KUNIT.
    kunit: Path | None
    agent: Path
    fuzzer: Path
    # A user's module directories, built for this kernel.
    user: tuple[BuiltModule, ...] = ()
    # Where the build keeps them (the paths above may be a command's copy).
    home: Path | None = None

    @property
    def symvers(self) -> Path:
        """What a user's module links against: uafault.ko's exports."""
        return self.modules[0].parent / SYMVERS

    def user_modules(self, request: GuestRequest) -> tuple[BuiltModule, ...]:
        by_source = {m.source: m for m in self.user}
        missing = [d for d in request.modules.dirs if d not in by_source]
        if missing:
            raise HarnessError(ExitCode.USAGE, f"module {missing[0]} was not built for this guest kernel")
        return tuple(by_source[d] for d in request.modules.dirs)

    def built_from(self, module: Path) -> BuiltModule | None:
        """The user's module directory module was built from, if any."""
        return next((m for m in self.user if module in m.kos), None)

    def params(self, module: Path) -> str:
        """The parameters module loads with."""
        return VARIANTS_PARAMS if module == self.variants else ""

    def loaded(self, request: GuestRequest) -> tuple[Path, ...]:
        """The modules a boot for request loads, in order."""
        return (self.modules + ((self.variants,) if request.modules.variants else ())
                + tuple(ko for m in self.user_modules(request) for ko in m.kos)
                + ((self.kunit,) if request.kunit and self.kunit else ()))


def kunit_missing(kernel: GuestKernel) -> str:
    """Why uafault_kunit.ko cannot run on kernel, or ""."""
    options = kernel.options()
    if not options or options.get("CONFIG_KUNIT") in ("y", "m"):
        return ""
    return f"the KUnit suites are not available: CONFIG_KUNIT is off in {kernel.dotconfig}; turn it on (=m) to run them"


def artefacts_for(kernel: GuestKernel) -> GuestArtefacts:
    out = kernel.build_dir / ARTEFACTS_DIRNAME
    return GuestArtefacts(modules=tuple(out / MODULE_SRC / p for p in MODULE_RELPATHS),
                          variants=out / MODULE_SRC / VARIANTS_RELPATH,
                          kunit=None if kunit_missing(kernel) else out / KUNIT_SRC / KUNIT_RELPATH,
                          agent=out / AGENT_NAME, fuzzer=out / FUZZER_NAME, home=out)


# In the cache: each running command's copy of what it boots.
IN_USE_DIRNAME = "in-use"


def _prune_in_use(root: Path) -> None:
    """Copies of commands that are gone (killed: no atexit ran)."""
    for entry in root.glob("*-*-*") if root.is_dir() else []:
        pid = entry.name.split("-")[-2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(entry, ignore_errors=True)


def snapshot_artefacts(artefacts: GuestArtefacts, root: Path, name: str) -> GuestArtefacts:
    """A copy of the built files this command boots with, so another
    command's rebuild (other sources, another checkout) into the shared
    build directory changes nothing under it; removed when the command
    ends.  A few MB: milliseconds."""
    _prune_in_use(root)
    root.mkdir(parents=True, exist_ok=True)
    dst = Path(tempfile.mkdtemp(prefix=f"{name}-{os.getpid()}-", dir=root))
    atexit.register(shutil.rmtree, dst, True)
    home = artefacts.home or artefacts.agent.parent

    def keep(path: Path) -> Path:
        target = dst / (path.relative_to(home) if path.is_relative_to(home) else path.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        return target

    modules = tuple(keep(m) for m in artefacts.modules)
    if artefacts.symvers.is_file():
        keep(artefacts.symvers)
    user = tuple(replace(u, kos=tuple(keep(ko) for ko in u.kos)) for u in artefacts.user)
    return replace(artefacts, modules=modules, variants=keep(artefacts.variants),
                   kunit=keep(artefacts.kunit) if artefacts.kunit else None,
                   agent=keep(artefacts.agent), fuzzer=keep(artefacts.fuzzer), user=user, home=home)


def sync_module_sources(src: Path, dst: Path) -> None:
    """Copy module/ (sources and Makefiles only) to dst.  A file whose
    bytes are already there is left alone, so Kbuild rebuilds nothing for
    it; a changed one is written anew and so is newer than any object,
    whichever checkout (with whatever mtimes) it came from."""
    for path in sorted(src.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix not in _MODULE_SOURCE_SUFFIXES and path.name not in _MODULE_SOURCE_NAMES:
            continue
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.read_bytes() == path.read_bytes():
            continue
        shutil.copyfile(path, target)


# What the artefacts are built from, besides module/ and kunit/ (which
# sync_module_sources copies): a change to any of it rebuilds them.
_ARTEFACT_INPUTS = (Path("Makefile"), Path("harness/agent"))
ARTEFACTS_STAMP = ".uafault-artefacts-stamp"


def artefacts_digest(layout: Layout, kernel: GuestKernel) -> str:
    """The content of everything the artefacts are built from, and of the
    kernel's own stamp: equal digests, equal artefacts."""
    digest = hashlib.sha256()
    for top in (MODULE_SRC, KUNIT_SRC, *_ARTEFACT_INPUTS):
        root = layout.project / top
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if path.is_file() and not path.name.startswith("."):
                digest.update(str(path.relative_to(layout.project)).encode() + b"\0" + path.read_bytes())
    # A tree without a source stamp (a bisection's worktree, a user's KSRC)
    # rebuilds the kernel at every make: then the kernel image itself says
    # whether the modules must follow (its release changes with each commit).
    digest.update(kernel.stamp.read_bytes() if kernel.stamp.is_file() else
                  kernel.bzimage.read_bytes() if kernel.bzimage.is_file() else b"no kernel")
    return digest.hexdigest()


def build_artefacts(layout: Layout, kernel: GuestKernel, jobs: int) -> GuestArtefacts:
    """uafault.ko, the example module, uafault_kunit.ko and the agent for
    this kernel, via `make guest-artefacts`, unless the last build was of
    the very same sources (then nothing runs: a campaign whose sources did
    not change starts at once)."""
    artefacts = artefacts_for(kernel)
    out = kernel.build_dir / ARTEFACTS_DIRNAME
    stamp = out / ARTEFACTS_STAMP
    digest = artefacts_digest(layout, kernel)
    built = [*artefacts.modules, artefacts.variants, *([artefacts.kunit] if artefacts.kunit else []),
             artefacts.agent, artefacts.fuzzer]
    if stamp.is_file() and stamp.read_text().strip() == digest and all(p.is_file() for p in built):
        print(f"[uafault] uafault's modules and agent for {kernel.build_dir.name} are up to date", flush=True)
        return artefacts
    stamp.unlink(missing_ok=True)
    sync_module_sources(layout.project / MODULE_SRC, out / MODULE_SRC)
    sync_module_sources(layout.project / KUNIT_SRC, out / KUNIT_SRC)
    cmd = ["make", "-C", str(layout.project), f"-j{jobs}", ARTEFACTS_TARGET, f"KDIR={kernel.kdir}",
           f"MODSRC={out / MODULE_SRC}", f"KUNITSRC={out / KUNIT_SRC}", f"AGENT_OUT={artefacts.agent.parent}"]
    if artefacts.kunit is None:
        print(f"[uafault] {kunit_missing(kernel)}", flush=True)
        cmd.append("KUNIT_MODULE=n")
    if kernel.image:
        # A headers package has no `make headers`: the host's uapi (Debian
        # 12's linux-libc-dev) is the image's own series.
        cmd.append("AGENT_KDIR=")
    print(f"[uafault] {shlex.join(cmd)}", flush=True)
    rc = stream_command(cmd, layout.project, None)
    if rc != 0:
        raise HarnessError(ExitCode.BUILD_FAILED, f"`{shlex.join(cmd)}` failed (exit {rc})")
    missing = [p for p in built if not p.is_file()]
    if missing:
        raise HarnessError(ExitCode.BUILD_FAILED,
                           f"`{shlex.join(cmd)}` succeeded but left no " + ", ".join(map(str, missing)))
    print(f"[uafault] uafault.ko's exports for this kernel: {artefacts.symvers} (a module of yours: make -C "
          f"{kernel.kdir} M=DIR KBUILD_EXTRA_SYMBOLS={artefacts.symvers} "
          f"{INCLUDE_VAR}={artefacts.symvers.parent} modules)", flush=True)
    fsutil.atomic_write_text(stamp, digest + "\n")
    return artefacts


def build_user_modules(artefacts: GuestArtefacts, kernel: GuestKernel, dirs: tuple[Path, ...],
                       jobs: int) -> GuestArtefacts:
    """artefacts with each of a user's module directories built for kernel."""
    reserved = frozenset(p.stem for p in (*artefacts.modules, artefacts.variants, *([artefacts.kunit] if artefacts.kunit else [])))
    built = [build_user_module(d, kernel.kdir, artefacts.agent.parent, jobs,
                               "KASAN" if kernel.kasan else "plain", reserved, sync_module_sources)
             for d in dirs]
    seen: dict[str, Path] = {}
    for module in built:
        for name in module.names:
            if name in seen:
                raise HarnessError(ExitCode.USAGE, f"module {module.source}: builds {name}, as {seen[name]} does")
            seen[name] = module.source
    return replace(artefacts, user=tuple(built))


def agent_argv(artefacts: GuestArtefacts, request: GuestRequest) -> tuple[str, ...]:
    argv: list[str] = []
    for module in artefacts.loaded(request):
        argv += [AGENT_MODULE, guest_module_path(module)]
        if artefacts.params(module):
            argv += [AGENT_MODULE_PARAMS, artefacts.params(module)]
        user = artefacts.built_from(module)
        if user is not None and module == user.kos[-1]:
            argv += [AGENT_EXPECT_TARGETS, ",".join(user.names)]
    if request.allow_crash:
        argv.append(AGENT_ALLOW_CRASH)
    argv += [AGENT_DMA, request.boot.dma]
    if request.kunit and artefacts.kunit:
        argv += [AGENT_KUNIT, KUNIT_GLOB, AGENT_KUNIT_PARAM, ALLOW_WARN]
        if request.allow_crash:
            argv += [AGENT_KUNIT_PARAM, ALLOW_OOPS, AGENT_KUNIT_LAST, OOPS_SUITES]
    if request.path_lines:
        argv += [AGENT_PATH_FILE, GUEST_PATHS]
    if request.fuzz_calls:
        argv += [AGENT_FUZZER, GUEST_FUZZER, AGENT_FUZZ_CALLS, str(request.fuzz_calls)]
    for glob in request.known_issues:
        argv += [AGENT_KNOWN_ISSUE, glob]
    if request.coverage:
        argv.append(AGENT_COVERAGE)
    return tuple(argv + shlex.split(request.agent_args))


def _case_status(root: Any, suite: str, case: str) -> str | None:
    """kunit_parser's status of a case, UNRESOLVED for a set-up failure."""
    for s in getattr(root, "subtests", []):
        if s.name == suite:
            for c in s.subtests:
                if c.name == case:
                    status = str(c.status.name)
                    return Verdict.UNRESOLVED if is_unresolved(status == "SKIPPED", c.log) else status
    return None


def charge_reports(parsed: ktap.ParsedRun, reports: list[KernelReport]) -> list[str]:
    """A case that printed `ok` but made the kernel report a bug did not
    pass: move it to crashed, so the totals line agrees with the verdict."""
    charged: list[str] = []
    for case in dict.fromkeys(r.case for r in reports if r.case):
        suite, _, name = case.partition(".")
        counts = parsed.suites.get(suite)
        status = _case_status(parsed.root, suite, name)
        if counts is None:
            continue
        if status == "SUCCESS" and counts.passed:
            counts.passed -= 1
            parsed.counts.passed -= 1
        elif status == "SKIPPED" and counts.skipped:
            counts.skipped -= 1
            parsed.counts.skipped -= 1
        elif status == Verdict.UNRESOLVED and counts.unresolved:
            counts.unresolved -= 1
            parsed.counts.unresolved -= 1
        else:
            continue
        counts.crashed += 1
        parsed.counts.crashed += 1
        charged.append(case)
    return charged


def judge_guest(parsed: ktap.ParsedRun, tracker: ConsoleTracker, outcome: RunOutcome,
                violations: list[str] | None = None) -> tuple[ExitCode, str]:
    c = parsed.counts
    unexpected = tracker.unexpected_reports
    if outcome.end is QemuEnd.TIMEOUT:
        return ExitCode.RUN_FAILED, f"TIMEOUT: {outcome.reason}; case in flight: {tracker.case or 'none'}"
    if unexpected:
        first = unexpected[0]
        return ExitCode.RUN_FAILED, (f"{len(unexpected)} kernel report(s); first: {first.title!r} "
                                     f"during {first.case or 'boot'}")
    said = agent_error(tracker.agent_lines)
    verdict = ktap.judge_cases(parsed, f"no KTAP output from the agent (agent exit {tracker.agent_exit})"
                               + (f": {said}" if said else ""))
    if verdict is not None:
        return verdict
    if violations:
        return ExitCode.TEST_FAILED, "; ".join(violations)
    if tracker.agent_exit is None:
        return ExitCode.RUN_FAILED, "the agent never finished (no exit marker on the console)"
    if tracker.agent_exit != 0:
        return ExitCode.RUN_FAILED, f"the agent exited {tracker.agent_exit} although every case passed"
    expected = len(tracker.reports)
    return ExitCode.OK, f"{c.passed} passed, {c.skipped} skipped" + (
        f", {c.unresolved} not set up" if c.unresolved else "") + (
        f", {expected} expected oops report(s)" if expected else "")


def _write_kunit_json(parsed: ktap.ParsedRun, kunit_tool_dir: Path, out: Path, kernel: GuestKernel | None) -> bool:
    module = ktap.load_kunit_json(kunit_tool_dir)
    if module is None or parsed.root is None:
        return False
    metadata = module.Metadata(arch=GUEST_ARCH,
                               def_config=" + ".join(map(str, kernel.fragments)) if kernel else "",
                               build_dir=str(kernel.build_dir) if kernel else "")
    fsutil.atomic_write_text(out, ktap.annotate_json(module.get_json_result(parsed.root, metadata),
                                                     parsed.xfails) + "\n")
    return True


def kunit_violations(parsed: ktap.ParsedRun, request: GuestRequest) -> list[str]:
    """A boot that ran the KUnit suites with their oopses allowed is the
    x86_64 KUnit run: none of KUNIT_POLICY's required cases may skip."""
    if not (request.kunit and request.allow_crash):
        return []
    return policy_violations(parsed, KUNIT_POLICY)


def analyse(layer: str, tracker: ConsoleTracker, outcome: RunOutcome, kunit_tool_dir: Path,
            out_dir: Path, kernel: GuestKernel | None = None, request: GuestRequest | None = None) -> LayerResult:
    """Console -> artefacts and verdict; needs no QEMU."""
    parsed = ktap.parse_console(tracker.agent_lines, kunit_tool_dir, is_unresolved)
    fsutil.atomic_write_text(out_dir / KTAP_NAME, "".join(line + "\n" for line in parsed.ktap_lines))
    wrote_json = _write_kunit_json(parsed, kunit_tool_dir, out_dir / KUNIT_JSON_NAME, kernel)
    charged = charge_reports(parsed, tracker.unexpected_reports)
    violations = kunit_violations(parsed, request) if request else []
    code, message = judge_guest(parsed, tracker, outcome, violations)
    details: dict[str, object] = {
        "verdict": outcome.end.value,
        "verdict_reason": outcome.reason,
        "qemu_exit": outcome.returncode,
        "qemu_wall_seconds": round(outcome.wall_seconds, 3),
        "boot_to_first_case_seconds": (None if tracker.first_case_seconds is None
                                       else round(tracker.first_case_seconds, 3)),
        "agent_started": tracker.agent_started,
        "agent_exit": tracker.agent_exit,
        "case_in_flight_at_end": tracker.case,
        "kernel_reports": [r.to_json() for r in tracker.reports],
        "cases_charged_with_reports": charged,
        "policy_violations": violations,
        "expected_oops_cases": sorted(tracker.expected_oops),
        "parse_errors": parsed.parse_errors,
        "parser_status": parsed.status,
        "kunit_json": wrote_json,
        "known": parsed.deviations.to_json(),
    }
    # What the kernel lacks is a skip that names its option, never a pass.
    missing = [str(u) for u in unavailable(tracker.agent_lines)]
    if missing:
        details["unavailable"] = missing
        parsed.counts.skipped += sum(1 for u in unavailable(tracker.agent_lines) if u.what != "kind")
    return LayerResult(layer=layer, exit_code=code, message=message, counts=parsed.counts,
                       suites=parsed.suites, details=details)


def guest_preflight(layout: Layout, coverage: bool = False) -> None:
    """What `test` checks before spending minutes on the other layers; QEMU
    and the guest's tools (and lcov for coverage) are installed the first
    time they are needed."""
    ensure_packages("coverage" if coverage else "guest")
    require_tree(layout)
    require_tools(GUEST_RUNTIME_TOOLS, "for the guest layer")


@dataclass(frozen=True)
class PreparedGuest:
    """A guest kernel with its artefacts, ready to boot any number of times."""
    tools: dict[str, Path]
    kernel: GuestKernel
    artefacts: GuestArtefacts
    # Where the KVM probe's answer is kept, and the command's --accel
    # (guest/accel.py): how every boot of it runs.
    accel_cache: Path
    accel: str = DEFAULT_ACCEL
    # Where base archives and saved guests live (guest/snapshot.py); None:
    # each boot's own directory, and every boot cold.
    snapshots: Path | None = None
    # What the kernel is, for every result (GuestKernel.describe).
    kernel_text: str = ""


def prepare_guest(layout: Layout, kasan: bool, jobs: int, user_dirs: tuple[Path, ...] = (),
                  accel: str = DEFAULT_ACCEL) -> PreparedGuest:
    """The kernel, uafault's artefacts and a user's module directories, all
    built for it."""
    tools = require_tools(GUEST_RUNTIME_TOOLS, "for the guest layer")
    kernel = build_guest_kernel(layout, kasan, jobs)
    with fsutil.locked(fsutil.dir_lock(kernel.build_dir), "build of uafault's modules and agent"):
        artefacts = build_user_modules(build_artefacts(layout, kernel, jobs), kernel, user_dirs, jobs)
        artefacts = snapshot_artefacts(artefacts, layout.cache / IN_USE_DIRNAME, kernel.build_dir.name)
    return PreparedGuest(tools, kernel, artefacts, layout.cache / ACCEL_CACHE_NAME, accel,
                         layout.cache / SNAPSHOT_DIRNAME, kernel.describe(layout))


class BootObserver:
    """Told of a boot as it goes: what a campaign batch reads its verdicts
    with, and what bench/ times boots with.  Override what you need."""

    def booting(self, out_dir: Path) -> None:
        """Before anything of the boot is made."""

    def line(self, tracker: ConsoleTracker, line: str) -> None:
        """Each console line, after the tracker has seen it."""

    def ended(self, tracker: ConsoleTracker, outcome: RunOutcome, details: dict[str, object]) -> None:
        """The boot is over (after a failed restore, its cold boot)."""


def _saved_guest(guest: PreparedGuest, command: Callable[[BootDisks], list[str]]) -> Template | None:
    """The saved guest that boots of command restore (made first if need
    be), or None, said once, when none could be made."""
    if guest.snapshots is None:
        return None
    found = template(guest.snapshots, template_key(command(PLACEHOLDERS), guest.kernel.bzimage),
                     lambda work: command(blank_disks(work)))
    if isinstance(found, Template):
        return found
    print(f"[uafault] guest: no snapshot ({found}); booting cold", flush=True)
    return None


def _check_coverage(kernel: GuestKernel, request: GuestRequest) -> None:
    options = kernel.options()
    if request.coverage and options and options.get("CONFIG_GCOV_KERNEL") != "y":
        raise HarnessError(ExitCode.USAGE, f"--coverage needs a kernel with CONFIG_GCOV_KERNEL; {kernel.dotconfig} "
                                           "has it off (a prebuilt distribution kernel has no gcov)")


def _base_and_disks(guest: PreparedGuest, request: GuestRequest, out_dir: Path, files: tuple[tuple[str, str], ...],
                    programs: tuple[tuple[str, Path], ...]) -> tuple[Base, BootDisks]:
    """The base archive (the same for every boot of a build) and the boot's
    disks, its job on one of them."""
    tools, kernel, artefacts = guest.tools, guest.kernel, guest.artefacts
    if request.path_lines:
        files += ((GUEST_PATHS, "".join(line + "\n" for line in request.path_lines)),)
    cpio = str(tools["cpio"])
    base_spec = BaseSpec(busybox=tools["busybox"], agent=artefacts.agent, fuzzer=artefacts.fuzzer,
                         kernel_modules=tuple(boot_modules(kernel.image)) if kernel.image else ())
    if guest.snapshots is not None:
        base = cached_base(base_spec, guest.snapshots, cpio)
    else:
        base = build_base(base_spec, out_dir / INITRAMFS_NAME, cpio)
    job = JobSpec(agent_args=agent_argv(artefacts, request), modules=artefacts.loaded(request), files=files,
                  programs=programs, allow_crash=request.allow_crash)
    return base, boot_disks(out_dir, tools["mkfs.ext4"], job, base.libraries, cpio)


def _command_of(guest: PreparedGuest, request: GuestRequest, base: Base, kvm: bool) -> Callable[[BootDisks], list[str]]:
    """The QEMU command of a boot of request, given its disks."""
    qemu, boot = guest.tools["qemu-system-x86_64"], request.boot
    append = kernel_append(request.append, boot.append)

    def command(d: BootDisks) -> list[str]:
        return qemu_command(qemu, guest.kernel.bzimage, base.archive, append, kvm, d.disk, boot.qemu_args,
                            boot.disk_platform, d.ext4, d.coverage, boot.memory_mib, d.job)
    return command


@dataclass(frozen=True)
class ColdBoot:
    """A cold boot made and not run: its QEMU command (TCG) and the disks
    it names, for an engine that boots it elsewhere (lava/)."""
    command: list[str]
    disks: BootDisks


def cold_boot(guest: PreparedGuest, request: GuestRequest, out_dir: Path, files: tuple[tuple[str, str], ...] = (),
              programs: tuple[tuple[str, Path], ...] = ()) -> ColdBoot:
    """What boot_guest would boot cold, under TCG, with out_dir's disks."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_coverage(guest.kernel, request)
    base, disks = _base_and_disks(guest, request, out_dir, files, programs)
    return ColdBoot(_command_of(guest, request, base, kvm=False)(disks), disks)


def boot_guest(guest: PreparedGuest, request: GuestRequest, out_dir: Path, probe: KvmProbe = probe_kvm,
               files: tuple[tuple[str, str], ...] = (),
               programs: tuple[tuple[str, Path], ...] = (),
               observers: tuple[BootObserver, ...] = (),
               echo: bool = True, restore: bool = True) -> tuple[ConsoleTracker, RunOutcome, dict[str, object]]:
    """One boot: the base archive, the boot's disks (guest/disks.py), QEMU
    under the watchdog; restored from a saved guest where there is one
    (guest/snapshot.py) unless not restore.  observers are told of it."""
    for observer in observers:
        observer.booting(out_dir)
    _check_coverage(guest.kernel, request)
    mode = boot_mode() if guest.snapshots is not None and restore else "cold"
    booted = _boot_once(guest, request, out_dir, probe, files, programs, observers, echo, mode)
    if booted is None:
        booted = _boot_once(guest, request, out_dir, probe, files, programs, observers, echo, "cold")
    assert booted is not None
    for observer in observers:
        observer.ended(*booted)
    return booted


def _boot_once(guest: PreparedGuest, request: GuestRequest, out_dir: Path, probe: KvmProbe,
               files: tuple[tuple[str, str], ...], programs: tuple[tuple[str, Path], ...],
               observers: tuple[BootObserver, ...], echo: bool,
               mode: str) -> tuple[ConsoleTracker, RunOutcome, dict[str, object]] | None:
    """None: a restore that never reached its job (boot again, cold)."""
    kernel = guest.kernel
    base, disks = _base_and_disks(guest, request, out_dir, files, programs)
    qemu = guest.tools["qemu-system-x86_64"]
    accel = select_accel(guest.accel, qemu, qemu_command(qemu, kernel.bzimage, None, BASE_APPEND, kvm=True),
                         guest.accel_cache, probe)
    command = _command_of(guest, request, base, accel.kvm)
    saved = _saved_guest(guest, command) if mode == "snapshot" else None
    cmd = command(disks) + (incoming_args(saved.state) if saved is not None else [])
    how = f"restored from {saved.state.parent}" if saved is not None else "booted cold"
    print(f"[uafault] guest: {accel.note}; {how}\n[uafault] {shlex.join(cmd)}", flush=True)
    tracker = ConsoleTracker()

    def feed(line: str, seconds: float | None) -> None:
        tracker.feed(line, seconds)
        for observer in observers:
            observer.line(tracker, line)

    outcome = run_console(cmd, out_dir / CONSOLE_NAME, feed, lambda: tracker.agent_exit is not None,
                          Watchdog(request.timeout, request.silence_timeout), sys.stdout if echo else None,
                          halted=lambda: tracker.powered_down, preamble=saved.console if saved else ())
    disks.remove(keep_coverage=request.coverage)
    if saved is not None and "job_read" not in tracker.arrived:
        # Between the restore and its job the guest only polls a disk: a
        # restore that never got there is a snapshot QEMU could not load,
        # not the boot's result.
        forget(saved)
        print(f"[uafault] guest: the restored guest never read its job ({outcome.reason}); snapshot "
              f"{saved.state.parent} dropped, booting cold", flush=True)
        return None
    details: dict[str, object] = {"qemu_command": cmd, "accel": accel.name, "accel_note": accel.note,
                                  "bzimage": str(kernel.bzimage), "boot": "snapshot" if saved else "cold"}
    if saved is not None and saved.made_seconds is not None:
        details["snapshot_made_seconds"] = saved.made_seconds
    return tracker, outcome, details


def _boot(layout: Layout, request: GuestRequest, out_dir: Path, probe: KvmProbe) -> LayerResult:
    guest = prepare_guest(layout, request.kasan, request.jobs, request.modules.dirs, request.accel)
    tracker, outcome, details = boot_guest(guest, request, out_dir, probe)
    result = analyse(request.layer, tracker, outcome, layout.kunit_tool_dir, out_dir, guest.kernel, request)
    result.details = {**details, **result.details, "kernel_source": str(layout.source),
                      "kernel_release": guest.kernel_text,
                      "kernel_config": str(guest.kernel.dotconfig),
                      "kernel_config_digest": guest.kernel.config_digest()}
    if request.kunit and guest.artefacts.kunit is None:
        # Asked for and not available: said, and a skip, never a silent pass.
        result.details["kunit"] = kunit_missing(guest.kernel)
        result.counts.skipped += 1
        result.message = f"{result.message}; {kunit_missing(guest.kernel)}"
    return result


def run_guest_layer(layout: Layout, request: GuestRequest, run_dir: Path,
                    probe: KvmProbe = probe_kvm) -> LayerResult:
    """Run the layer and store it under run_dir/guest[-kasan]/; a build or
    prerequisite failure becomes the layer's result, so `test` still totals."""
    out_dir = run_dir / request.layer_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        result = _boot(layout, request, out_dir, probe)
    except HarnessError as exc:
        result = LayerResult(request.layer, exc.code, str(exc))
    result.details = {"kernel": request.kernel, "kasan": request.kasan, "allow_crash": request.allow_crash,
                      "layer_wall_seconds": round(time.monotonic() - started, 3), **result.details}
    write_layer(out_dir / SUMMARY_NAME, result)
    return result
