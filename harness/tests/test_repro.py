"""Repro configs: loading, what counts as reproduced, and the CLI's exit
contract (0 reproduced, 1 not, 2 error)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli
from test_campaign import agent_fault_kinds, variant_shapes

from uafault_harness.campaign.store import CaseVerdict
from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.core.paths import PROJECT_ROOT, resolve_layout
from uafault_harness.triage.minimize import shrink, signature
from uafault_harness.triage.repro import Repro, load_repro
from uafault_harness.triage.reproducer import (C_HEADERS, build_command, c_reproducer, c_sources, compile_c,
                                               kernel_cflags)

GOOD = """\
# a comment
[repro]
kernel = "plain"
modules = ["variants"]
target = "variant_pin_leak_on_error"
fault = "unmapped"
offset = 5
runs = 4
threshold = 2
expect = "FAIL"
title = "[pins]"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.toml"
    path.write_text(text)
    return path


def test_one_shipped_repro_per_variant_and_each_loads() -> None:
    shapes = variant_shapes()
    configs = sorted((PROJECT_ROOT / "configs" / "repro").glob("*.toml"))
    assert [c.stem for c in configs] == shapes
    for config in configs:
        repro = load_repro(config, agent_fault_kinds())
        assert repro.target == f"variant_{config.stem}" and repro.modules.variants
        assert repro.title, f"{config}: say what reproducing looks like"


def test_each_kernel_finding_has_a_repro_that_loads_and_a_known_issue() -> None:
    """configs/repro/kernel/: what the oracles found in the kernel itself,
    each a record of module/uafault_known.h, whose deviation names the
    file."""
    import fnmatch

    from uafault_harness.campaign.known_issues import shipped_known_issues

    known = shipped_known_issues(PROJECT_ROOT)
    configs = sorted((PROJECT_ROOT / "configs" / "repro" / "kernel").glob("*.toml"))
    assert configs
    for config in configs:
        repro = load_repro(config, agent_fault_kinds())
        assert repro.title
        assert any(fnmatch.fnmatchcase(repro.target, i.target) and fnmatch.fnmatchcase(repro.kernel, i.kernel)
                   and f"configs/repro/kernel/{config.name}" in i.reason for i in known), config


@pytest.mark.parametrize("change, line, key", [
    (('expect = "FAIL"', 'expect = "PASS"'), 10, "expect"),
    (('threshold = 2', 'threshold = 5'), 9, "threshold"),
    (('offset = 5', 'offset = 5000'), 7, "offset"),
    (('target = "variant_pin_leak_on_error"', 'target = "a b"'), 5, "target"),
    (('fault = "unmapped"', 'fault = "unmaped"'), 6, "fault"),
    (('title = "[pins]"', 'title = "[pins]"\nruns_ = 1'), 12, "runs_"),
])
def test_errors_name_file_line_and_key(tmp_path: Path, change: tuple[str, str], line: int, key: str) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(HarnessError) as err:
        load_repro(path, agent_fault_kinds())
    assert err.value.code is ExitCode.BAD_CONFIG
    assert str(err.value).startswith(f"{path}:{line}: {key}: ")


def test_what_counts_as_reproduced(tmp_path: Path) -> None:
    repro = load_repro(write(tmp_path, GOOD))
    assert repro.reproduced(CaseVerdict("c", "FAIL", "[pins] pin balance 3 -> 4: pins leaked"))
    # Another oracle, no oracle (the agent could not set the case up), or a pass: no.
    assert not repro.reproduced(CaseVerdict("c", "FAIL", "[result] ret 0 done 100"))
    assert not repro.reproduced(CaseVerdict("c", "FAIL", ""))
    assert not repro.reproduced(CaseVerdict("c", "PASS", ""))
    crash = load_repro(write(tmp_path, GOOD.replace('"FAIL"', '"CRASH"').replace('"[pins]"', '"BUG: unable"')))
    assert crash.reproduced(CaseVerdict("c", "CRASH", "BUG: unable to handle page fault for address"))
    assert not crash.reproduced(CaseVerdict("c", "CRASH", "KASAN: use-after-free Read in x"))
    # The threshold scales with --runs.
    assert (repro.needed(4), repro.needed(8), repro.needed(1)) == (2, 4, 1)


def test_written_config_reads_back_the_same(tmp_path: Path) -> None:
    repro = load_repro(write(tmp_path, GOOD.replace('title = "[pins]"', 'title = "a \\"q\\" b"')))
    again = write(tmp_path, repro.to_toml("minimised from run R, case C"))
    back = load_repro(again)
    assert (back.target, back.fault, back.offset, back.runs, back.threshold, back.title, back.modules) == \
        (repro.target, repro.fault, repro.offset, repro.runs, repro.threshold, repro.title, repro.modules)


def test_a_written_config_keeps_a_users_module_from_anywhere(tmp_path: Path) -> None:
    """minimize writes its config elsewhere (results/): the module
    directory and the known issues stay the same files."""
    drv = tmp_path / "src" / "mydrv"
    drv.mkdir(parents=True)
    (drv / "Kbuild").write_text("obj-m += mydrv.o\n")
    (tmp_path / "src" / "known.toml").write_text("")
    source = tmp_path / "src" / "r.toml"
    source.write_text(GOOD.replace('modules = ["variants"]', 'modules = ["variants", "mydrv"]\n'
                                   'known_issues = "known.toml"\nappend = "nokaslr"'))
    repro = load_repro(source)
    elsewhere = tmp_path / "results" / "r.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(repro.to_toml())
    back = load_repro(elsewhere)
    assert back.modules == repro.modules and back.modules.dirs == (drv.resolve(),) and back.modules.variants
    assert back.known_issues == repro.known_issues == (tmp_path / "src" / "known.toml").resolve()
    assert back.append == "nokaslr"


def test_cli_errors_exit_2(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    path = write(tmp_path, GOOD.replace('expect = "FAIL"', 'expect = "PASS"'))
    proc = run_cli(["repro", str(path)], isolated_env)
    assert proc.returncode == 2 and f"{path}:10: expect:" in proc.stderr
    proc = run_cli(["repro", str(tmp_path / "missing.toml")], isolated_env)
    assert proc.returncode == 2 and "cannot read" in proc.stderr


def test_c_reproducer_is_one_file_that_builds_static(tmp_path: Path) -> None:
    repro = load_repro(write(tmp_path, GOOD))
    source = tmp_path / "repro.c"
    source.write_text(c_reproducer(resolve_layout(), repro, "header line"))
    text = source.read_text()
    assert '#include "' not in text
    case = repro.cases(1)[0]
    assert f'"{case.case_id}", "variant_pin_leak_on_error", "unmapped", 0, 5, 1' in text
    # Two of its four runs may pass: the program tries the case three times.
    assert repro.tries == 3 and "#define REPRO_TRIES\t3\n" in text
    compile_c(source, tmp_path / "repro")
    ldd = subprocess.run(["ldd", str(tmp_path / "repro")], capture_output=True, text=True)
    assert "not a dynamic executable" in ldd.stdout + ldd.stderr
    # Without the module it says so and exits 3 (the device could not be set up).
    proc = subprocess.run([str(tmp_path / "repro")], capture_output=True, text=True)
    assert proc.returncode == 3 and "/dev/uafault" in proc.stderr


def test_a_steady_case_is_tried_once(tmp_path: Path) -> None:
    """A config every run of which must reproduce gives its C reproducer
    one try: the program's default, nothing defined."""
    repro = load_repro(write(tmp_path, GOOD.replace("threshold = 2", "threshold = 4")))
    assert repro.tries == 1
    assert "REPRO_TRIES" not in c_reproducer(resolve_layout(), repro, "header").split("/* ---- ")[0]


def test_a_described_paths_reproducer_carries_its_description(tmp_path: Path) -> None:
    """The C reproducer of a described path's case knows the device and
    the call: minimize's reproducer runs without the agent's --path-file."""
    (tmp_path / "zero.toml").write_text('[path]\nname = "zero_copy"\ndevice = "/dev/zero"\ncall = "read"\n'
                                        'writes = "zeros"\ncontract = "all"\n')
    repro = load_repro(write(tmp_path, '[repro]\npaths = ["zero.toml"]\ntarget = "path_zero_copy"\n'
                                       'fault = "unmapped"\nexpect = "FAIL"\n'))
    assert repro.paths == ((tmp_path / "zero.toml").resolve(),)
    text = c_reproducer(resolve_layout(), repro, "header")
    assert ('#define REPRO_PATHS\t"zero_copy /dev/zero rdwr read 0 range 0 0 0 0 count to_user zeros all none\\n"'
            in text)
    source = tmp_path / "repro.c"
    source.write_text(text)
    compile_c(source, tmp_path / "repro")


def test_a_kernel_paths_reproducer_builds_against_its_kernels_headers(tmp_path: Path) -> None:
    """The agent's Makefile is the one place that says what a kernel's
    build adds (its uapi, iommufd's and gup_test's test ABIs); a
    reproducer asks it.  Without a kernel those paths are left out and
    the rest builds."""
    project = resolve_layout().project
    kdir = tmp_path / "kbuild"
    # A tree older than iommufd (6.1) has no test header: no iommufd paths.
    (kdir / "source" / "mm").mkdir(parents=True)
    (kdir / "source" / "mm" / "gup_test.h").write_text("")
    assert kernel_cflags(project, kdir) == ("-isystem", f"{kdir}/usr/include", "-idirafter", f"{kdir}/source/mm",
                                            "-DHAVE_GUP_TEST")
    (kdir / "source" / "drivers" / "iommu" / "iommufd").mkdir(parents=True)
    (kdir / "source" / "drivers" / "iommu" / "iommufd" / "iommufd_test.h").write_text("")
    flags = kernel_cflags(project, kdir)
    assert flags == ("-isystem", f"{kdir}/usr/include", f"-I{kdir}/source/drivers/iommu/iommufd",
                     "-DHAVE_IOMMUFD_TEST", "-idirafter", f"{kdir}/source/mm", "-DHAVE_GUP_TEST")
    assert kernel_cflags(project, None) == ()
    assert build_command(Path("r.c"), Path("r"), flags)[-4:-2] == [flags[-1], "-o"]
    repro = load_repro(write(tmp_path, '[repro]\ntarget = "path_iommufd_ioas_map"\nfault = "fail_nth"\n'
                                       'expect = "FAIL"\n'))
    source = tmp_path / "repro.c"
    source.write_text(c_reproducer(resolve_layout(), repro, "header"))
    assert '"path_iommufd_ioas_map", "fail_nth"' in source.read_text()
    compile_c(source, tmp_path / "repro")


def test_signature_of_stored_failures() -> None:
    assert signature(CaseVerdict("c", "XFAIL", "[pins] pin balance 1 -> 2: pins leaked")) == ("FAIL", "[pins]")
    assert signature(CaseVerdict("c", "CRASH", "BUG: unable to handle page fault for address")) == \
        ("CRASH", "BUG: unable to handle page fault for address")
    assert signature(CaseVerdict("c", "XFAIL", "KASAN: slab-out-of-bounds Read in x"))[0] == "CRASH"
    with pytest.raises(HarnessError):
        signature(CaseVerdict("c", "PASS", ""))


def test_shrink_keeps_only_steps_that_reproduce(tmp_path: Path) -> None:
    start = load_repro(write(tmp_path, GOOD))
    tried = []

    def reproduces(r: Repro) -> bool:
        tried.append((r.fault, r.size, r.offset))
        # The bug needs the hole and at least 8 bytes; any start will do.
        return r.fault == "unmapped" and (r.size == 0 or r.size >= 8)

    smallest, steps = shrink(start, reproduces, lambda _: None)
    assert (smallest.fault, smallest.size, smallest.offset) == ("unmapped", 8, 0)
    assert tried[0] == ("none", 0, 5) and ("unmapped", 1, 5) in tried
    assert steps[0].startswith("drop the fault: nothing smaller")


def test_shrink_lowers_the_rounds_of_a_raced_kind(tmp_path: Path) -> None:
    start = load_repro(write(tmp_path, GOOD.replace('"unmapped"', '"race_header"')))

    def reproduces(r: Repro) -> bool:
        return r.fault == "race_header" and (r.rounds == 0 or r.rounds >= 50)

    smallest, _ = shrink(start, reproduces, lambda _: None, frozenset({"race_header"}))
    assert smallest.rounds == 50
    same, _ = shrink(start, reproduces, lambda _: None, frozenset())
    assert same.rounds == 0


def test_the_reproducer_is_made_of_what_the_makefile_builds_uafault_repro_from() -> None:
    """c_sources() reads the agent Makefile's REPRO_SRCS: every kind family
    and path file, and repro_main.c last."""
    sources = c_sources(PROJECT_ROOT)
    assert sources[:len(C_HEADERS)] == C_HEADERS and sources[-1] == "harness/agent/repro_main.c"
    assert {"harness/agent/kinds_inject.c", "harness/agent/paths.c", "harness/agent/paths_uring.c"} <= set(sources)
    assert all((PROJECT_ROOT / s).is_file() for s in sources) and "harness/agent/main.c" not in sources
    # Each header after those it includes: the joined file needs no include.
    headers = [s for s in sources if s.endswith(".h")]
    assert "harness/agent/protocol.h" in headers and "harness/agent/agent.h" in headers
    for i, header in enumerate(headers):
        for name in re.findall(r'^#include "(\w+\.h)"', (PROJECT_ROOT / header).read_text(), re.M):
            assert f"harness/agent/{name}" in headers[:i], (header, name)
