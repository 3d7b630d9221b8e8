"""Per-architecture differences, in one table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ArchProfile:
    name: str
    # Extra Kconfig fragments, relative to the project root, merged after
    # kunit/.kunitconfig.
    extra_kunitconfigs: tuple[Path, ...] = ()
    # Passed to kunit.py as one --qemu_args string (it shlex-splits it).
    qemu_args: str | None = None
    # Passed to kunit.py as --kernel_args, one each.
    kernel_args: tuple[str, ...] = ()
    # Suites that must have run with no case skipped; a skip there means
    # the environment silently lost a feature under test.
    required_suites: tuple[str, ...] = ()
    # Programs kunit.py needs at exec time beyond the build toolchain.
    runtime_tools: tuple[str, ...] = ()


ARCH_PROFILES: dict[str, ArchProfile] = {
    # uafault_limits' copies over INT_MAX WARN by design (check_copy_size()).
    "um": ArchProfile(name="um", kernel_args=("uafault_kunit.allow_warn=1",)),
    "x86_64": ArchProfile(
        name="x86_64",
        extra_kunitconfigs=(Path("configs/kunit-x86_64.config"),),
        # TCG "max" exposes SMAP; -smp 2 gives the race suite two CPUs.
        qemu_args="-cpu max -smp 2",
        # The raw accesses of uafault_smap oops on purpose; off by default.
        kernel_args=("uafault_kunit.allow_oops=1", "uafault_kunit.allow_warn=1"),
        required_suites=("uafault_smap",),
        runtime_tools=("qemu-system-x86_64",),
    ),
}

ARCHES: tuple[str, ...] = tuple(ARCH_PROFILES)
