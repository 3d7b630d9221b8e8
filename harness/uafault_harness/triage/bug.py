"""`bug RUN CASE` / `bug --repro FILE`: a finding as one plain-text report a
kernel developer can send upstream as it is, in syzbot's shape, with
everything it names in one directory:

- the title (the kernel report's normalised title, or the oracle's
  complaint and the target), the kernel (what it was built from, its
  config's digest, the config attached), the guest's command line, the
  case (target, fault kind, memory kind, caller, range);
- what the contract expected and what happened: the oracle's complaint
  and the agent's notes of the case, from the console of a run made now;
- the kernel's report decoded to file:line by the tree's own
  scripts/decode_stacktrace.sh against the guest's vmlinux and modules;
- the repro config (minimized from a campaign case first) and the C
  reproducer, run once more in a guest to confirm it, and how often the
  config reproduces (`--runs N`);
- with --bisect REPO --good REV: the first bad commit; with a run that
  kept coverage: the lines this case reached that the target's cases
  without a fault did not (the suspect code);
- the MAINTAINERS entries of the tree's files in the decoded trace
  (scripts/get_maintainer.pl --no-git), the fix of a known record that
  matches, and a Reported-by/Closes footer left for the user.

The report is BUG_REPORT_NAME in the directory (default results/bugs/SLUG/);
`report`'s HTML links each finding of a run to its report."""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..campaign.batch import known_issues_for
from ..campaign.known_issues import KnownIssue
from ..campaign.plan import agent_facts
from ..campaign.store import DB_NAME, CaseVerdict, History
from ..core import known
from ..core.errors import ExitCode, HarnessError
from ..core.paths import Layout, with_source
from ..core.results import BUG_REPORT_NAME, BUGS_DIR, bug_slug
from ..guest.accel import DEFAULT_ACCEL
from ..guest.kernels import boot_kernel
from ..guest.protocol import (CAMPAIGN_CASE_PREFIX, ORACLE_NOTE, case_started, complaint_title, oracle_tag,
                              parse_result)
from ..guest.qemu import kernel_append
from ..guest.runner import CONSOLE_NAME, PreparedGuest, prepare_guest
from .bisect import bisect, git, step_for, top_of
from .minimize import c_reproduce, describe_range, minimize
from .repro import Repro, ReproResult, load_repro, replay

CONFIG_NAME = "config"
DECODED_NAME = "decoded.txt"
DECODE_SCRIPT = "scripts/decode_stacktrace.sh"
MAINTAINER_SCRIPT = "scripts/get_maintainer.pl"
# A decoded frame's source: "func+0x1/0x2 (mm/gup.c:123)" or "(mm/gup.c:123 (discriminator 1))".
FRAME_FILE = re.compile(r"\(([\w./+-]+\.[chS]):(\d+)")
# The function a report's RIP line names: "RIP: 0010:raw_deref+0x2d/0x70".
_RIP = re.compile(r"RIP: [0-9a-f]{4}:([A-Za-z_][\w.]*)\+0x")
# Frames no maintainer of the finding owns: the entry code, the syscall's
# dispatch, lockdep and the machinery that prints the report (as
# syzkaller's guilty-file search skips them).
_GENERIC = ("arch/x86/entry/", "kernel/entry/", "fs/ioctl.c", "kernel/locking/lockdep", "lib/dump_stack",
            "kernel/panic", "lib/bug.c", "mm/kasan/", "mm/kfence/", "mm/kmsan/", "mm/slub.c")
SECTIONS = ("Title", "Kernel", "Case", "Expected and observed", "Kernel report", "Reproducer", "Cause",
            "Suspect code", "Known issue", "Maintainers", "Footer")
SUSPECT_LINES = 25
DECODE_SECONDS = 300


@dataclass(frozen=True)
class BugRequest:
    out: Path | None = None
    runs: int = 3
    jobs: int = 2
    accel: str = DEFAULT_ACCEL
    bisect_repo: Path | None = None
    good: str = ""
    bad: str = "HEAD"


@dataclass
class Finding:
    """What a report says, gathered before it is written."""
    repro: Repro
    origin: str
    guest: PreparedGuest
    result: ReproResult
    c_source: Path
    c_verdict: CaseVerdict
    steps: tuple[str, ...] = ()
    # From a campaign case: its run and id (suspect code, the stored verdict).
    run_id: str = ""
    case_id: str = ""
    # How many runs of the C reproducer reproduced, of how many.
    c_runs: tuple[int, int] = (0, 0)
    sections: dict[str, str] = field(default_factory=dict)

    @property
    def example(self) -> CaseVerdict | None:
        """The repro runs' verdict that reproduced it (a CRASH: its excerpt)."""
        return next((v for v in self.result.verdicts.values() if self.repro.reproduced(v)), None)


def title_of(repro: Repro, verdict: CaseVerdict | None) -> str:
    """syzbot's title: the kernel report's normalised title, "in" the
    function it faulted in where the title does not say; for an oracle's
    complaint, its first clause without its numbers and the target it was
    made of."""
    said = verdict.title if verdict else repro.title
    if not oracle_tag(said):
        rip = _RIP.search(verdict.excerpt) if verdict else None
        if said and " in " not in said and rip:
            return f"{said} in {rip.group(1)}"
        return said or f"{repro.expect} in {repro.target}"
    return f"{complaint_title(said)} in {repro.target}"


def bug_from_case(layout: Layout, run_id: str, case_id: str, request: BugRequest) -> Path:
    out = _out_dir(layout, request, f"{run_id}-{case_id}")
    done = minimize(layout, run_id, case_id, request.jobs, out, 1, request.accel)
    repro = done.repro
    guest, result = _rate(layout, repro, request, out)
    finding = Finding(repro, f"case {case_id} of run {run_id}", guest, result, done.source, done.c_verdict,
                      done.steps, run_id, case_id)
    return _write(layout, finding, out, request)


def bug_from_repro(layout: Layout, path: Path, request: BugRequest) -> Path:
    given = load_repro(path)
    out = _out_dir(layout, request, given.name)
    repro = dataclasses.replace(given, path=out / f"{given.target}.{given.fault}.toml")
    repro.path.write_text(repro.to_toml(f"From {path}."))
    guest, result = _rate(layout, repro, request, out)
    kinds = agent_facts(guest.artefacts.agent)
    source, _, c_verdict, c_hits = c_reproduce(layout, guest, kinds.crash, repro, f"repro config {path}",
                                               out / "work" / "c", request.runs)
    return _write(layout, Finding(repro, f"repro config {path}", guest, result, source, c_verdict,
                                  c_runs=(c_hits, request.runs)), out, request)


def _out_dir(layout: Layout, request: BugRequest, name: str) -> Path:
    out = request.out or layout.results_root / BUGS_DIR / bug_slug(name)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _rate(layout: Layout, repro: Repro, request: BugRequest, out: Path) -> tuple[PreparedGuest, ReproResult]:
    """The guest of repro's kernel and request.runs runs of it."""
    if repro.kernel_source is not None:
        layout = with_source(layout, repro.kernel_source)
    guest = prepare_guest(layout, boot_kernel(repro.kernel).kasan, request.jobs, repro.modules.dirs, request.accel)
    kinds = agent_facts(guest.artefacts.agent)
    runs = dataclasses.replace(repro, runs=request.runs, threshold=1)
    return guest, replay(guest, kinds.crash, runs, request.runs, out / "work" / "runs", runs.env(layout))


def _write(layout: Layout, finding: Finding, out: Path, request: BugRequest) -> Path:
    repro, guest, example = finding.repro, finding.guest, finding.example
    title = title_of(repro, example)
    s = finding.sections
    s["Title"] = title
    kernel = guest.kernel
    if kernel.dotconfig.is_file():
        shutil.copyfile(kernel.dotconfig, out / CONFIG_NAME)
    s["Kernel"] = (f"{guest.kernel_text}\nconfig: sha256 {kernel.config_digest()[:16]} (attached: {CONFIG_NAME})\n"
                   f"command line: {kernel_append(repro.append, boot_kernel(repro.kernel).append)}\n"
                   f"guest: the {repro.kernel} kernel under QEMU ({guest.accel})")
    s["Case"] = (f"target {repro.target}, fault kind {repro.fault}, memory kind {repro.memory}, caller "
                 f"{repro.caller}, {describe_range(repro)}, seed {repro.seed}\nfound as {finding.origin}")
    s["Expected and observed"] = _observed(finding, example)
    s["Kernel report"] = _decoded(layout, guest, example, out)
    s["Reproducer"] = _reproducer(finding, out)
    s["Cause"] = _cause(layout, finding, request)
    s["Suspect code"] = _suspect(layout, finding)
    s["Known issue"] = _known(repro, example, known_issues_for(layout, repro.known_issues))
    s["Maintainers"] = _maintainers(layout, s["Kernel report"])
    s["Footer"] = ("Reported-by: <your name and address>\n"
                   "Closes: <the report's URL, once it has one>\n"
                   f"Found with uafault (harness/uafault bug): {finding.origin}")
    text = "".join(f"{name}\n{'=' * len(name)}\n{body.rstrip()}\n\n" for name, body in s.items())
    report = out / BUG_REPORT_NAME
    report.write_text(text)
    return report


def _case_lines(console: Path, case_id: str) -> list[str]:
    """What the console printed of one case: from its marker to its result."""
    lines, inside = [], False
    for line in console.read_text(errors="replace").splitlines() if console.is_file() else []:
        started = case_started(line)
        if started:
            inside = started == CAMPAIGN_CASE_PREFIX + case_id
        if inside:
            lines.append(line.strip())
            result = parse_result(line)
            if result is not None and result.name == case_id:
                break
    return lines


def _observed(finding: Finding, example: CaseVerdict | None) -> str:
    repro = finding.repro
    if example is None:
        return (f"expected from the contract: the call's documented outcome; this run did not reproduce "
                f"{repro.expect} {repro.title!r} ({finding.result.reproduced}/{finding.result.runs})")
    tag = oracle_tag(example.title)
    lines = next((found for console in sorted(finding.result.out_dir.glob(f"boot-*/{CONSOLE_NAME}"))
                  if (found := _case_lines(console, example.case_id))), [])
    notes = [ln for ln in lines if ORACLE_NOTE.match(ln) or ln.startswith("#")]
    if tag:
        head = (f"the [{tag}] oracle's complaint (what the target's contract promises for this fault, against "
                f"what the call did; Documentation/guest.md lists the oracles):\n  {example.title}")
    else:
        head = (f"the contract: the call fails cleanly with the documented error and the kernel reports nothing.\n"
                f"observed: {example.verdict}: {example.title}")
    return head + ("\n\nthe agent's notes of the case:\n" + "\n".join(f"  {n}" for n in notes[:30]) if notes else "")


def _decoded(layout: Layout, guest: PreparedGuest, example: CaseVerdict | None, out: Path) -> str:
    """The excerpt decoded by the tree's decode_stacktrace.sh (it is kept
    raw where the tree or vmlinux lacks what it needs, and says so)."""
    if example is None or not example.excerpt:
        return "(no kernel report: the oracle's complaint above is the finding)"
    script = layout.tree / DECODE_SCRIPT
    vmlinux = guest.kernel.build_dir / "vmlinux"
    modules = guest.artefacts.home or guest.kernel.build_dir
    if not script.is_file() or not vmlinux.is_file():
        return f"(not decoded: {script if not script.is_file() else vmlinux} missing)\n{example.excerpt}"
    done = subprocess.run(["bash", str(script), str(vmlinux), str(layout.tree), str(modules)],
                          input=example.excerpt, capture_output=True, text=True, cwd=layout.tree,
                          timeout=DECODE_SECONDS, check=False)
    decoded = done.stdout.strip() or example.excerpt
    # uafault's own modules by their path in the project, not the build's copy.
    if guest.artefacts.home is not None:
        decoded = decoded.replace(f"{guest.artefacts.home}/", "")
    (out / DECODED_NAME).write_text(decoded + "\n")
    how = f"decoded with {DECODE_SCRIPT} against {vmlinux}"
    if not FRAME_FILE.search(decoded):
        how += " (no file:line: this vmlinux has no debug info, CONFIG_DEBUG_INFO)"
    return f"({how})\n{decoded}"


def _reproducer(finding: Finding, out: Path) -> str:
    repro, result = finding.repro, finding.result
    confirmed = "reproduces" if repro.reproduced(finding.c_verdict) else "did NOT reproduce"
    hits, runs = finding.c_runs
    how_often = f" in {hits} of {runs} runs" if runs > 1 else ""
    if repro.tries > 1:
        how_often += f" (each up to {repro.tries} tries, as its config allows)"
    lines = [f"repro config: {repro.path.relative_to(out)} (harness/uafault repro {repro.path.name})",
             f"C reproducer: {finding.c_source.relative_to(out)} (how to build and run it: its header); run again "
             f"in a guest, it {confirmed}{how_often}: {finding.c_verdict.verdict} {finding.c_verdict.title}".rstrip(),
             f"reproduced {result.reproduced} of {result.runs} runs of the config"]
    if finding.steps:
        lines += ["minimized from the campaign case:"] + [f"  {step}" for step in finding.steps]
    return "\n".join(lines)


def _cause(layout: Layout, finding: Finding, request: BugRequest) -> str:
    if request.bisect_repo is None:
        return "(not bisected: bug --bisect REPO --good REV names the first bad commit)"
    top = top_of(request.bisect_repo)
    test, keep = step_for(layout, finding.repro, top, request.runs, request.jobs, request.accel)
    result = bisect(layout, finding.repro, top, request.good, request.bad, request.runs, test,
                    layout.project / "harness" / "uafault", request.accel, echo=False, keep_worktree=keep)
    if result.first_bad is None:
        return f"bisect of {top} ({request.good}..{request.bad}): no first bad commit ({result.out_dir})"
    return (f"first bad commit (bisect of {top}, {len(result.steps)} steps, {result.out_dir}):\n"
            + git(top, "log", "-1", "--format=%H%n%s%n%nAuthor: %an <%ae>", result.first_bad).strip())


def _suspect(layout: Layout, finding: Finding) -> str:
    """Lines the case reached that its target's cases with no fault did not."""
    db = layout.results_root / DB_NAME
    if not finding.run_id or not db.is_file():
        return "(no coverage: a campaign run with --coverage gives the lines this case reached and a no-fault run did not)"
    with History(db) as stored:
        cov = stored.coverage(finding.run_id)
        rows = [r for r in stored.rows(finding.run_id) if r.case.target == finding.repro.target]
    mine = cov.hits.get(finding.case_id, {})
    if not mine:
        return f"(run {finding.run_id} kept no coverage of this case)"
    plain: dict[str, set[int]] = {}
    for row in rows:
        if row.case.fault == "none":
            for name, lines in cov.hits.get(row.case.case_id, {}).items():
                plain.setdefault(name, set()).update(lines)
    extra = [(name, line) for name, lines in sorted(mine.items()) for line in sorted(lines - plain.get(name, set()))]
    if not extra:
        return "this case reached no line that the target's cases without a fault did not"
    listed = "\n".join(f"  {name}:{line}" for name, line in extra[:SUSPECT_LINES])
    return (f"{len(extra)} lines this case reached that {finding.repro.target}'s cases without a fault did not"
            f" (run {finding.run_id}):\n{listed}")


def _known(repro: Repro, example: CaseVerdict | None, issues: tuple[KnownIssue, ...] = ()) -> str:
    """The kernel's record the finding is (by its verdict, or an issue:
    glob), else a known issue of uafault's or the file's that matches."""
    said = example.title if example else ""
    for record in known.records():
        named = f"known {record.id}:" in said
        globbed = any(fnmatch.fnmatchcase(f"{repro.target}.{repro.fault}", glob)
                      for glob in record.case_globs("issue"))
        if named or globbed:
            return (f"{record.id}: {record.deviation}\nfix: {record.fix_text}"
                    + ("" if record.fixed_upstream else " (a kernel with the fix would show it fixed)"))
    case = repro.cases(1)[0]
    issue = next((i for i in issues if i.matches(case)), None)
    if issue is not None:
        return f"a known issue (not the kernel's): {issue.reason}"
    return "(no record of module/uafault_known.h and no known issue matches: a new finding)"


def _maintainers(layout: Layout, decoded: str) -> str:
    named = list(dict.fromkeys(
        m.group(1) for line in decoded.splitlines() if not re.match(r"^\[[ \d.]+\]\s+\? ", line)
        for m in FRAME_FILE.finditer(line) if not m.group(1).startswith(("/", *_GENERIC))))
    files = [f for f in named if (layout.tree / f).is_file()]
    script = layout.tree / MAINTAINER_SCRIPT
    if not files:
        outside = f": its frames are in {', '.join(named)}, outside the tree" if named else ""
        return f"(no file of the tree in the decoded trace{outside})"
    if not script.is_file():
        return f"(no {MAINTAINER_SCRIPT} in {layout.tree}) files: {', '.join(files)}"
    done = subprocess.run(["perl", str(script), "--no-git", "--no-git-fallback", "-f", *files],
                          capture_output=True, text=True, cwd=layout.tree, timeout=120, check=False)
    said = done.stdout.strip() or done.stderr.strip()
    return f"{MAINTAINER_SCRIPT} --no-git -f {' '.join(files)}:\n{said}"


def section(text: str, name: str) -> str:
    """The body of a report's section name ('' if it has none)."""
    found = re.search(rf"^{re.escape(name)}\n=+\n(.*?)(?:\n\n|\Z)", text, re.M | re.S)
    return found.group(1) if found else ""


def section_names(report: Path) -> list[str]:
    """The sections a written report holds, in order."""
    text = report.read_text()
    return [name for name in SECTIONS if re.search(rf"^{re.escape(name)}\n=+$", text, re.M)]


def check_written(report: Path) -> None:
    missing = [name for name in SECTIONS if name not in section_names(report)]
    if missing:
        raise HarnessError(ExitCode.RUN_FAILED, f"{report}: sections missing: {', '.join(missing)}")

