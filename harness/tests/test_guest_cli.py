"""The guest commands as a user runs them: usage errors and help."""

from __future__ import annotations

import pytest
from conftest import run_cli

from uafault_harness.core.errors import ExitCode


@pytest.mark.parametrize("args, needle", [
    (["guest", "--timeout", "0"], "--timeout must be > 0"),
    (["guest", "--silence-timeout", "x"], "--silence-timeout must be a whole number"),
    (["guest", "--agent-args", "--targets 'copy"], "No closing quotation"),
    (["guest", "--accel", "yes"], "'yes' is not one of auto, kvm, tcg"),
    (["campaign", "x.toml", "--boot", "warm"], "'warm' is not one of snapshot, cold"),
    (["guest-build", "--jobs", "0"], "--jobs must be > 0"),
    (["test", "--skip-guest", "--jobs", "0"], "--jobs must be > 0"),
])
def test_guest_bad_usage_exits_2(args: list[str], needle: str, isolated_env: dict[str, str]) -> None:
    proc = run_cli(args, isolated_env)
    assert proc.returncode == ExitCode.USAGE
    assert needle in proc.stderr


def test_guest_help_names_every_option(isolated_env: dict[str, str]) -> None:
    out = run_cli(["guest", "--help"], isolated_env).stdout
    for option in ("--kasan", "--allow-crash", "--timeout", "--silence-timeout", "--accel", "--boot",
                   "--agent-args"):
        assert option in out
    assert "--skip-guest" in run_cli(["test", "--help"], isolated_env).stdout


def test_guest_without_tree_asks_for_setup(isolated_env: dict[str, str]) -> None:
    proc = run_cli(["guest"], isolated_env)
    assert proc.returncode == ExitCode.MISSING_PREREQ
    assert "harness/uafault setup" in proc.stderr


def test_a_bad_accel_in_the_environment_is_a_usage_error(isolated_env: dict[str, str]) -> None:
    proc = run_cli(["guest"], {**isolated_env, "UAFAULT_ACCEL": "hvf"})
    assert proc.returncode == ExitCode.USAGE and "$UAFAULT_ACCEL" in proc.stderr


def test_a_bad_boot_mode_in_the_environment_is_a_usage_error(isolated_env: dict[str, str]) -> None:
    proc = run_cli(["guest"], {**isolated_env, "UAFAULT_BOOT": "warm"})
    assert proc.returncode == ExitCode.USAGE and "$UAFAULT_BOOT" in proc.stderr
