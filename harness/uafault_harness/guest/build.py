"""`guest-build`: the x86_64 guest kernel the agent runs on, built from the
same tree as the KUnit runs into a build dir of its own.

The recipe is deliberately the plain one, so a hand build gives the same
result:  cp configs/guest.config B/.config;
make -C TREE O=B ARCH=x86_64 olddefconfig; make -C TREE O=B ARCH=x86_64 -jN
GCOV_PROFILE='...' all, the GCOV_PROFILE of configs/coverage.paths
(guest/profiled.py; --dry-run prints it)."""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..core import fsutil
from ..core.errors import ExitCode, HarnessError
from ..core.paths import GUEST_ARCH, Layout
from ..core.procutil import stream_command
from ..core.progress import build_progress
from ..setup.link import ensure_linked
from ..setup.requirements import GUEST_BUILD_TOOLS, require_tools
from ..setup.source import read_stamp, require_tree
from ..core.profiled import load_profiled
from ..setup.image import Image, config_options, prepare_image

GUEST_FRAGMENT = Path("configs/guest.config")
KASAN_FRAGMENT = Path("configs/guest-kasan.config")
BZIMAGE_RELPATH = Path("arch/x86/boot/bzImage")
STAMP_NAME = ".uafault-guest-stamp"
# Part of the stamp: changing the recipe below must invalidate old builds.
RECIPE_VERSION = "guest-build v2: olddefconfig, all with GCOV_PROFILE"
# `all` because the guest config has CONFIG_MODULES=y: it builds bzImage,
# the in-tree modules and what out-of-tree (M=) module builds need.
BUILD_TARGETS: tuple[str, ...] = ("all",)
_WANTED_OPTION = re.compile(r"^(CONFIG_\w+)=([ym])$")


@dataclass(frozen=True)
class GuestKernel:
    # Where the kernel is built, and uafault's artefacts for it go.
    build_dir: Path
    kasan: bool
    fragments: tuple[Path, ...]
    # A prebuilt distribution kernel (setup/image.py) instead of a build.
    image: Image | None = None

    @property
    def bzimage(self) -> Path:
        return self.image.vmlinuz if self.image else self.build_dir / BZIMAGE_RELPATH

    @property
    def dotconfig(self) -> Path:
        return self.image.config if self.image else self.build_dir / ".config"

    @property
    def stamp(self) -> Path:
        return self.image.stamp if self.image else self.build_dir / STAMP_NAME

    @property
    def kdir(self) -> Path:
        """What modules build against with M=: the build directory, or an
        image's headers."""
        return self.image.headers if self.image else self.build_dir

    def options(self) -> dict[str, str]:
        """The kernel's config, CONFIG_X -> y/m/value ({} before a build)."""
        return config_options(self.dotconfig) if self.dotconfig.is_file() else {}

    def describe(self, layout: Layout) -> str:
        """What this kernel is, for every result: the image's package, the
        Debian source's version, or the user's tree and its release."""
        if self.image:
            return self.image.describe()
        release = self.build_dir / "include" / "config" / "kernel.release"
        rel = release.read_text().strip() if release.is_file() else "unbuilt"
        if layout.user_tree:
            return f"{layout.tree} ({_git_describe(layout.tree) or 'no git'}), release {rel}"
        return f"Debian {layout.source_package} {read_stamp(layout.stamp) or 'unknown'}, release {rel}"

    def config_digest(self) -> str:
        return hashlib.sha256(self.dotconfig.read_bytes()).hexdigest() if self.dotconfig.is_file() else ""


def _git_describe(tree: Path) -> str:
    proc = subprocess.run(["git", "-C", str(tree), "describe", "--always", "--dirty"], capture_output=True,
                          text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def guest_kernel(layout: Layout, kasan: bool) -> GuestKernel:
    fragments = (GUEST_FRAGMENT, KASAN_FRAGMENT) if kasan else (GUEST_FRAGMENT,)
    return GuestKernel(layout.guest_build_dir(kasan), kasan, fragments)


def config_text(layout: Layout, kernel: GuestKernel) -> str:
    """The fragments concatenated, byte for byte what `cp`/`cat` give."""
    parts: list[str] = []
    for fragment in kernel.fragments:
        path = layout.project / fragment
        try:
            parts.append(path.read_text())
        except FileNotFoundError:
            raise HarnessError(ExitCode.MISSING_PREREQ, f"config fragment {path} is missing") from None
    return "".join(parts)


def wanted_options(fragment_text: str) -> list[str]:
    """The `CONFIG_X=y/m` lines the resulting .config must keep."""
    return [line.strip() for line in fragment_text.splitlines() if _WANTED_OPTION.match(line.strip())]


_KCONFIG_SYMBOL = re.compile(r"^\s*(?:menu)?config\s+(\w+)", re.M)


def tree_symbols(tree: Path) -> frozenset[str]:
    """Every CONFIG_ symbol the tree's Kconfig files define."""
    names: set[str] = set()
    for kconfig in tree.rglob("Kconfig*"):
        if kconfig.is_file():
            names.update("CONFIG_" + m for m in _KCONFIG_SYMBOL.findall(kconfig.read_text(errors="replace")))
    return frozenset(names)


def unknown_options(fragment_text: str, symbols: frozenset[str]) -> list[str]:
    """The fragment's wanted options an older tree does not have at all
    (IOMMUFD on 6.1): left out, and their features then say so at run
    time; an option the tree knows but will not set is still an error."""
    if not symbols:     # no Kconfig read (not a kernel tree): assume nothing
        return []
    return [line.split("=")[0] for line in wanted_options(fragment_text) if line.split("=")[0] not in symbols]


def missing_options(wanted: list[str], dotconfig_text: str) -> list[str]:
    have = {line.strip() for line in dotconfig_text.splitlines()}
    return [option for option in wanted if option not in have]


def make_command(layout: Layout, kernel: GuestKernel, *targets: str, jobs: int | None = None,
                 profile: str = "") -> list[str]:
    """profile: the GCOV_PROFILE variable, given to the build (it names
    what gcov instruments)."""
    cmd = ["make", "-C", str(layout.tree), f"O={kernel.build_dir}", f"ARCH={GUEST_ARCH}", *compiler(layout)]
    if jobs is not None:
        cmd.append(f"-j{jobs}")
    return cmd + ([profile] if profile else []) + list(targets)


def compiler(layout: Layout) -> list[str]:
    """A user's tree (KSRC: a bisection's steps, a developer's commits)
    compiles through ccache when it is installed, so a step back to
    sources built before costs little; the cached Debian tree never
    changes and is built once, so it compiles as it always did."""
    return ["CC=ccache gcc"] if layout.user_tree and shutil.which("ccache") else []


def profile_variable(layout: Layout) -> str:
    return load_profiled(layout.project).make_variable()


def expected_stamp(layout: Layout, kernel: GuestKernel, fragment_text: str) -> str | None:
    """None when the tree has no source stamp: then nothing tells us the
    sources are unchanged, so make (which is incremental) always runs."""
    source = read_stamp(layout.stamp)
    if source is None:
        return None
    digest = hashlib.sha256()
    for part in (RECIPE_VERSION, str(layout.tree), fragment_text, profile_variable(layout), source):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def is_up_to_date(kernel: GuestKernel, stamp: str | None) -> bool:
    return stamp is not None and kernel.bzimage.is_file() and read_stamp(kernel.stamp) == stamp


def dry_run_script(layout: Layout, kernel: GuestKernel, jobs: int) -> list[str]:
    """The shell equivalent of build_guest_kernel, for --dry-run."""
    sources = " ".join(shlex.quote(str(layout.project / f)) for f in kernel.fragments)
    dest = shlex.quote(str(kernel.dotconfig))
    copy = f"cp {sources} {dest}" if len(kernel.fragments) == 1 else f"cat {sources} > {dest}"
    return [
        f"mkdir -p {shlex.quote(str(kernel.build_dir))}",
        copy,
        shlex.join(make_command(layout, kernel, "olddefconfig")),
        "# then: every CONFIG_X=y/m line of the fragments must be in .config",
        shlex.join(make_command(layout, kernel, *BUILD_TARGETS, jobs=jobs, profile=profile_variable(layout))),
        f"# then: write {kernel.stamp}",
    ]


def image_guest_kernel(layout: Layout, kasan: bool) -> GuestKernel:
    """The prebuilt image of layout's source as the guest kernel."""
    if kasan:
        raise HarnessError(ExitCode.USAGE, f"kernel source {layout.source} is a prebuilt image without KASAN "
                                           "(CONFIG_KASAN): the KASAN guest needs debian[:SERIES] or ksrc")
    image = prepare_image(layout, layout.source)
    return GuestKernel(layout.cache / "build" / f"image-{image.release}", False, (), image)


def build_guest_kernel(layout: Layout, kasan: bool, jobs: int, dry_run: bool = False) -> GuestKernel:
    """Build (or reuse) the guest kernel, or unpack the prebuilt image;
    raises HarnessError on failure."""
    if layout.source.kind == "image":
        return image_guest_kernel(layout, kasan)
    require_tree(layout)
    kernel = guest_kernel(layout, kasan)
    if dry_run:  # changes nothing, the lock file included
        return _build_guest_kernel(layout, kernel, jobs, dry_run)
    with fsutil.locked(fsutil.dir_lock(kernel.build_dir), "guest kernel build"):
        return _build_guest_kernel(layout, kernel, jobs, dry_run)


def _build_guest_kernel(layout: Layout, kernel: GuestKernel, jobs: int, dry_run: bool) -> GuestKernel:
    text = config_text(layout, kernel)
    stamp = expected_stamp(layout, kernel, text)
    if is_up_to_date(kernel, stamp):
        print(f"guest-build: {kernel.bzimage} is up to date (stamp matches); not rebuilding", flush=True)
        return kernel
    if stamp is None:
        print(f"guest-build: {layout.stamp} missing: cannot tell if sources changed, running make", flush=True)
    if dry_run:
        print("guest-build: dry run; would run:")
        for line in dry_run_script(layout, kernel, jobs):
            print(f"  {line}")
        return kernel
    require_tools(GUEST_BUILD_TOOLS, "to build the guest kernel")
    ensure_linked(layout)
    kernel.build_dir.mkdir(parents=True, exist_ok=True)
    # A build interrupted from here on must not look finished next time.
    kernel.stamp.unlink(missing_ok=True)
    fsutil.atomic_write_text(kernel.dotconfig, text)
    _make(layout, kernel, ["olddefconfig"], None, "olddefconfig")
    unknown = unknown_options(text, tree_symbols(layout.tree))
    if unknown:
        print(f"guest-build: not in {layout.tree}'s Kconfig, left out: {', '.join(unknown)}", flush=True)
    wanted = [o for o in wanted_options(text) if o.split("=")[0] not in unknown]
    missing = missing_options(wanted, kernel.dotconfig.read_text())
    if missing:
        raise HarnessError(
            ExitCode.BUILD_FAILED,
            "Not all Kconfig options of " + " + ".join(map(str, kernel.fragments))
            + f" were in the generated {kernel.dotconfig}.\n"
            "This is probably due to unsatisfied dependencies.\n"
            "Missing: " + ", ".join(missing),
        )
    absent = load_profiled(layout.project).missing_in(layout.tree)
    if absent:
        print(f"guest-build: not in {layout.tree}, so not profiled: {', '.join(absent)}", flush=True)
    with build_progress(f"guest kernel build ({kernel.build_dir.name})", kernel.build_dir) as build:
        _make(layout, kernel, list(BUILD_TARGETS), jobs, "build", profile_variable(layout))
        build.ok = True
    if not kernel.bzimage.is_file():
        raise HarnessError(ExitCode.BUILD_FAILED, f"make succeeded but {kernel.bzimage} is missing")
    if stamp is not None:
        fsutil.atomic_write_text(kernel.stamp, stamp + "\n")
    print(f"guest-build: built {kernel.bzimage}", flush=True)
    return kernel


def _make(layout: Layout, kernel: GuestKernel, targets: list[str], jobs: int | None, what: str,
          profile: str = "") -> None:
    cmd = make_command(layout, kernel, *targets, jobs=jobs, profile=profile)
    print(f"[uafault] {shlex.join(cmd)}", flush=True)
    rc = stream_command(cmd, layout.tree, None)
    if rc != 0:
        raise HarnessError(ExitCode.BUILD_FAILED, f"guest kernel {what} failed (make exited {rc})")
