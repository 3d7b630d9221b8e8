from __future__ import annotations

from pathlib import Path

import ktap_samples as samples

from uafault_harness.core.errors import ExitCode
from uafault_harness.core.results import Counts
from uafault_harness.guest.protocol import is_unresolved
from uafault_harness.kunit.ktap import judge_cases, parse_console
from uafault_harness.kunit.profiles import ARCH_PROFILES
from uafault_harness.kunit.runner import judge, policy_violations


def test_counts_leaf_cases_including_parameters(kunit_tool_dir: Path) -> None:
    parsed = parse_console(samples.UM_CONSOLE.splitlines(), kunit_tool_dir)
    assert parsed.suites == {
        "uafault_copy": Counts(passed=3, failed=1),
        "uafault_string": Counts(passed=3, skipped=1),
        "uafault_user_mem": Counts(passed=2),
    }
    assert parsed.counts == Counts(passed=8, failed=1, skipped=1)
    assert judge(parsed, [], exec_rc=1) == (ExitCode.TEST_FAILED, "1 case(s) failed")


UNRESOLVED_SUITE = """\
KTAP version 1
1..1
    KTAP version 1
    # Subtest: copy_to_user
    1..3
    # uafault-case: copy_to_user.swapped
    # pagemap: 0 of 8 pages swapped out before the call (5 tries)
    # [setup] MADV_PAGEOUT left 8 of 8 pages resident after 5 tries on every CPU
    ok 1 swapped # SKIP set-up failed
    # uafault-case: copy_to_user.movable
    # the target keeps no pages
    ok 2 movable # SKIP
    # uafault-case: copy_to_user.none
    ok 3 none
# copy_to_user: pass:1 fail:0 skip:2 total:3
ok 1 copy_to_user
"""


def test_a_case_not_set_up_counts_apart_from_skips(kunit_tool_dir: Path) -> None:
    parsed = parse_console(UNRESOLVED_SUITE.splitlines(), kunit_tool_dir, is_unresolved)
    assert parsed.suites == {"copy_to_user": Counts(passed=1, skipped=1, unresolved=1)}
    assert judge_cases(parsed, "no KTAP") is None


def test_ktap_extraction_drops_console_noise(kunit_tool_dir: Path) -> None:
    parsed = parse_console(samples.X86_SMAP_RAN.splitlines(), kunit_tool_dir)
    assert parsed.ktap_lines[0] == "KTAP version 1"
    assert "    # Subtest: uafault_smap" in parsed.ktap_lines
    assert not any("Linux version" in l or "reboot" in l or l.startswith("[") for l in parsed.ktap_lines)
    assert parsed.counts == Counts(passed=3)
    assert judge(parsed, [], exec_rc=0)[0] is ExitCode.OK


def test_x86_policy_flags_skipped_smap_cases(kunit_tool_dir: Path) -> None:
    parsed = parse_console(samples.X86_SMAP_SKIPPED.splitlines(), kunit_tool_dir)
    assert parsed.suites["uafault_smap"] == Counts(skipped=2)
    violations = policy_violations(parsed, ARCH_PROFILES["x86_64"])
    assert len(violations) == 1 and "SMAP cases were skipped" in violations[0]
    code, message = judge(parsed, violations, exec_rc=0)
    assert code is ExitCode.TEST_FAILED and "SMAP cases were skipped" in message
    # um has no such policy, and a filter that excludes the suite lifts it.
    assert policy_violations(parsed, ARCH_PROFILES["um"]) == []
    assert policy_violations(parsed, ARCH_PROFILES["x86_64"], "uafault_user_mem") == []
    assert policy_violations(parsed, ARCH_PROFILES["x86_64"], "uafault_*.smap_read*") != []


def test_x86_policy_requires_smap_suite(kunit_tool_dir: Path) -> None:
    parsed = parse_console(samples.UM_CONSOLE.splitlines(), kunit_tool_dir)
    assert policy_violations(parsed, ARCH_PROFILES["x86_64"]) == ["suite uafault_smap did not run on x86_64"]


def test_crash_is_a_run_failure(kunit_tool_dir: Path) -> None:
    parsed = parse_console(samples.CRASHED_CONSOLE.splitlines(), kunit_tool_dir)
    assert parsed.counts.passed == 1
    assert parsed.counts.crashed >= 1
    assert judge(parsed, [], exec_rc=1)[0] is ExitCode.RUN_FAILED


def test_no_ktap_means_no_tests_ran(kunit_tool_dir: Path) -> None:
    parsed = parse_console(samples.NO_KTAP_CONSOLE.splitlines(), kunit_tool_dir)
    assert parsed.ktap_lines == []
    assert parsed.counts == Counts()
    code, message = judge(parsed, [], exec_rc=1)
    assert code is ExitCode.RUN_FAILED and "no KTAP" in message


def test_parsing_prints_nothing(kunit_tool_dir: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    parse_console(samples.UM_CONSOLE.splitlines(), kunit_tool_dir)
    assert capsys.readouterr().out == ""
