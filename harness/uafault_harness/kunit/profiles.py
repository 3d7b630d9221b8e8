"""Per-architecture differences, in one table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


# The suites' cases that make the kernel report on purpose, off unless
# asked for: uafault_limits' copies over INT_MAX WARN (check_copy_size()),
# uafault_smap's raw accesses oops.
ALLOW_WARN = "uafault_kunit.allow_warn=1"
ALLOW_OOPS = "uafault_kunit.allow_oops=1"
# The suites whose cases oops: an oops taints the kernel and turns lockdep
# off, so in a guest they run after everything else.
OOPS_SUITES = "uafault_smap"


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
    "um": ArchProfile(name="um", kernel_args=(ALLOW_WARN,)),
    "x86_64": ArchProfile(
        name="x86_64",
        extra_kunitconfigs=(Path("configs/kunit-x86_64.config"),),
        # TCG "max" exposes SMAP; -smp 2 gives the race suite two CPUs.
        qemu_args="-cpu max -smp 2",
        kernel_args=(ALLOW_OOPS, ALLOW_WARN),
        required_suites=(OOPS_SUITES,),
        runtime_tools=("qemu-system-x86_64",),
    ),
}

ARCHES: tuple[str, ...] = tuple(ARCH_PROFILES)
