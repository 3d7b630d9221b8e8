"""Where everything lives.  The only module that reads the environment for
locations; everything else receives a Layout."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import ExitCode, HarnessError

# harness/uafault_harness/paths.py -> project root is two levels up.
PROJECT_ROOT: Path = Path(__file__).resolve().parents[3]

DEBIAN_SOURCE_PACKAGE = "linux-source-6.12"
DEBIAN_SOURCE_TARBALL = Path("/usr/src") / f"{DEBIAN_SOURCE_PACKAGE}.tar.xz"
CACHE_TREE_NAME = DEBIAN_SOURCE_PACKAGE
SOURCE_STAMP_NAME = ".uafault-source"
KUNIT_TOOL_RELPATH = Path("tools/testing/kunit")
KUNIT_PY_RELPATH = KUNIT_TOOL_RELPATH / "kunit.py"
# The guest kernel is x86_64 only: SMAP and the QEMU machine are x86.
GUEST_ARCH = "x86_64"
# What makes a directory usable as a kernel tree for us.
TREE_MARKERS: tuple[Path, ...] = (Path("Makefile"), KUNIT_PY_RELPATH)


def missing_tree_markers(tree: Path) -> list[Path]:
    return [m for m in TREE_MARKERS if not (tree / m).is_file()]


def cache_root(env: Mapping[str, str]) -> Path:
    if env.get("UAFAULT_CACHE"):
        return Path(env["UAFAULT_CACHE"]).expanduser()
    xdg = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")) / ".cache")
    return Path(xdg).expanduser() / "uafault"


def _build_dir_prefix(tree: Path) -> str:
    # Readable and collision-free: two trees whose sanitised paths agree
    # still differ in the hash.
    text = str(tree.resolve())
    slug = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[-40:]
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{slug}-{digest}"


@dataclass(frozen=True)
class Layout:
    project: Path
    cache: Path
    tree: Path
    # True when the tree came from $KSRC: we never unpack over, or silently
    # modify, a tree the user owns.
    user_tree: bool
    # Where runs and the campaign database live: results/ of the project, or
    # $UAFAULT_RESULTS (benchmarks keep their runs out of the history).
    results: Path | None = None

    @property
    def kunit_dir(self) -> Path:
        return self.project / "kunit"

    @property
    def results_root(self) -> Path:
        return self.results if self.results is not None else self.project / "results"

    @property
    def kunit_py(self) -> Path:
        return self.tree / KUNIT_PY_RELPATH

    @property
    def kunit_tool_dir(self) -> Path:
        return self.tree / KUNIT_TOOL_RELPATH

    @property
    def stamp(self) -> Path:
        return self.tree / SOURCE_STAMP_NAME

    def build_dir(self, arch: str, flavour: str = "kunit", variant: str = "") -> Path:
        name = f"{flavour}-{arch}" + (f"-{variant}" if variant else "")
        if self.user_tree:
            name = f"{_build_dir_prefix(self.tree)}-{name}"
        return self.cache / "build" / name

    def guest_build_dir(self, kasan: bool) -> Path:
        """The guest kernel's build dir, shared by guest-build and guest."""
        return self.build_dir(GUEST_ARCH, "guest", "kasan" if kasan else "")


def resolve_layout(env: Mapping[str, str] | None = None, project: Path = PROJECT_ROOT) -> Layout:
    env = os.environ if env is None else env
    cache = cache_root(env)
    results = Path(env["UAFAULT_RESULTS"]).expanduser().resolve() if env.get("UAFAULT_RESULTS") else None
    ksrc = env.get("KSRC")
    if ksrc:
        tree = Path(ksrc).expanduser()
        missing = missing_tree_markers(tree)
        if missing:
            raise HarnessError(
                ExitCode.BAD_TREE,
                f"KSRC={ksrc} is not a usable kernel tree: missing "
                + ", ".join(str(m) for m in missing)
                + ". Point KSRC at a kernel source tree, or unset it to use "
                f"the Debian {DEBIAN_SOURCE_PACKAGE} tree in {cache}.",
            )
        return Layout(project=project, cache=cache, tree=tree.resolve(), user_tree=True,
                      results=results)
    return Layout(project=project, cache=cache, tree=cache / CACHE_TREE_NAME, user_tree=False, results=results)
