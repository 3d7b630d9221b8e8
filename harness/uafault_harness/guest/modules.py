"""The modules a boot loads besides uafault.ko and the example: the
buggy-variant catalogue and a user's own out-of-tree module directories.
A user's directory is built with M= against every guest kernel it boots
(plain and KASAN), with the Module.symvers of the uafault.ko built for that
kernel, in a copy inside the kernel's build directory (the user's tree
stays clean)."""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..core.errors import ExitCode, HarnessError
from ..core.procutil import stream_command

# The name a campaign or repro file gives the buggy-variant catalogue; any
# other entry of `modules` is a directory.
VARIANTS = "variants"
USER_DIRNAME = "user"
SYMVERS = "Module.symvers"
# uafault's module/ as built for a kernel: its Module.symvers, and
# uafault_target.h for a user's module to include (module/example/Makefile
# reads the directory from this make variable).
MODULE_DIRNAME = "module"
INCLUDE_VAR = "UAFAULT_INCLUDE"
_BUILD_FILES = ("Makefile", "Kbuild")


@dataclass(frozen=True)
class Modules:
    """What a boot loads besides uafault.ko and the example."""
    variants: bool = False
    # A user's module directories, absolute.
    dirs: tuple[Path, ...] = ()

    @property
    def entries(self) -> list[str]:
        """As a campaign or repro file's `modules` says it."""
        return ([VARIANTS] if self.variants else []) + [str(d) for d in self.dirs]


def module_dir_problem(path: Path) -> str | None:
    """Why path cannot be a module directory, or None."""
    if not path.is_dir():
        return f"{path}: no such directory"
    if not any((path / name).is_file() for name in _BUILD_FILES):
        return f"{path}: no Makefile or Kbuild (a kernel module directory builds with `make M=`)"
    return None


def parse_modules(entries: list[str], base: Path, problem: Callable[[str], Exception]) -> Modules:
    """A `modules` list: "variants", or directories relative to base (the
    directory of the file naming them).  problem(message) makes the error
    to raise, naming the file and line."""
    dirs: list[Path] = []
    for entry in entries:
        if entry == VARIANTS:
            continue
        path = (base / entry).resolve()
        why = module_dir_problem(path)
        if why is not None:
            raise problem(f"{entry!r}: {why.removeprefix(str(path) + ': ')} (not {VARIANTS!r}, so a module "
                          f"directory, relative to {base})")
        if path not in dirs:
            dirs.append(path)
    return Modules(VARIANTS in entries, tuple(dirs))


@dataclass(frozen=True)
class BuiltModule:
    """A user's module directory built for one guest kernel."""
    source: Path
    kos: tuple[Path, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The module names the kernel knows them by."""
        return tuple(ko.stem.replace("-", "_") for ko in self.kos)


def _copy_dir(source: Path, artefacts: Path) -> Path:
    digest = hashlib.sha256(str(source).encode()).hexdigest()[:8]
    return artefacts / USER_DIRNAME / f"{source.name}-{digest}"


def _ordered_kos(copy: Path) -> tuple[Path, ...]:
    """The modules this very build made, as Kbuild's modules.order lists
    them (a stale .ko of an earlier build is not one)."""
    order = copy / "modules.order"
    if not order.is_file():
        return ()
    kos = []
    for line in order.read_text().split():
        obj = Path(line) if Path(line).is_absolute() else copy / line
        kos.append(obj.with_suffix(".ko"))
    return tuple(kos)


# A user's module is code under test: a kernel with CONFIG_GCOV_KERNEL
# counts its lines (`--coverage`), as it does uafault's own.
PROFILE_MODULE = "GCOV_PROFILE=y"


def build_user_module(source: Path, kdir: Path, artefacts: Path, jobs: int, kernel_name: str,
                      reserved: frozenset[str], sync: Callable[[Path, Path], None]) -> BuiltModule:
    """Build source with M= against kdir in a copy under artefacts, with
    the Module.symvers of the uafault.ko there; every failure is one line
    that names the module and the reason."""
    why = module_dir_problem(source)
    if why is not None:
        raise HarnessError(ExitCode.USAGE, f"module {why}")
    copy = _copy_dir(source, artefacts)
    sync(source, copy)
    include = artefacts / MODULE_DIRNAME
    cmd = ["make", "-C", str(kdir), f"-j{jobs}", f"M={copy}", f"KBUILD_EXTRA_SYMBOLS={include / SYMVERS}",
           f"{INCLUDE_VAR}={include}", PROFILE_MODULE, "modules"]
    print(f"[uafault] module {source}: {shlex.join(cmd)}", flush=True)
    rc = stream_command(cmd, copy, None)
    if rc != 0:
        raise HarnessError(ExitCode.BUILD_FAILED, f"module {source}: the build against the {kernel_name} guest "
                           f"kernel failed (make exit {rc}; its messages are above)")
    kos = _ordered_kos(copy)
    missing = [ko for ko in kos if not ko.is_file()]
    if not kos or missing:
        raise HarnessError(ExitCode.BUILD_FAILED, f"module {source}: the build made no module "
                           f"(is there an obj-m line in its Makefile or Kbuild?)")
    built = BuiltModule(source, kos)
    clash = sorted(set(built.names) & reserved)
    if clash:
        raise HarnessError(ExitCode.USAGE, f"module {source}: builds {', '.join(clash)}, a name uafault's own "
                           "modules use; rename it")
    return built
