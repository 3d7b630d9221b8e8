"""The mutant catalogue (configs/mutants.toml): loaded, checked against the
kernel tree it will edit, every mistake reported as file:line."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ExitCode, HarnessError
from ..kunit.profiles import ARCHES

CATALOGUE = Path("configs/mutants.toml")
KEYS = ("name", "file", "find", "replace", "class", "arch")
_NAME = re.compile(r"^[a-z0-9_]+$")


class CatalogueError(HarnessError):
    def __init__(self, path: Path, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(ExitCode.BAD_CONFIG, f"{where}: {message}")


@dataclass(frozen=True)
class Mutant:
    name: str
    file: Path      # relative to the kernel tree
    find: str
    replace: str
    mistake: str    # the catalogue's `class`
    arch: str

    def apply_to(self, text: str) -> str:
        return text.replace(self.find, self.replace, 1)


def _entry_lines(text: str) -> list[int]:
    """Line of each [[mutant]] header (tomllib keeps no positions)."""
    return [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == "[[mutant]]"]


def load_catalogue(path: Path) -> list[Mutant]:
    try:
        text = path.read_text()
    except OSError as e:
        raise CatalogueError(path, None, f"cannot read: {e.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CatalogueError(path, getattr(e, "lineno", None), f"not TOML: {e}") from None
    entries = data.get("mutant")
    if set(data) != {"mutant"} or not isinstance(entries, list) or not entries:
        raise CatalogueError(path, None, "must hold [[mutant]] tables and nothing else")
    lines = _entry_lines(text)
    mutants: list[Mutant] = []
    for i, entry in enumerate(entries):
        line = lines[i] if i < len(lines) else None
        mutants.append(_mutant(path, line, entry))
    names = [m.name for m in mutants]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise CatalogueError(path, lines[i] if i < len(lines) else None, f"name {name!r} given twice")
    return mutants


def _mutant(path: Path, line: int | None, entry: dict[str, object]) -> Mutant:
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise CatalogueError(path, line, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
    for key in KEYS:
        value = entry.get(key)
        if not isinstance(value, str) or (not value and key != "replace"):
            raise CatalogueError(path, line, f"{key}: must be a{'' if key == 'replace' else ' non-empty'} string")
    name, file, arch = str(entry["name"]), str(entry["file"]), str(entry["arch"])
    if not _NAME.match(name):
        raise CatalogueError(path, line, f"name {name!r}: lower case, digits and _ only")
    if arch not in ARCHES:
        raise CatalogueError(path, line, f"arch {arch!r}: one of {', '.join(ARCHES)}")
    if Path(file).is_absolute() or ".." in Path(file).parts:
        raise CatalogueError(path, line, f"file {file!r}: a path inside the kernel tree")
    if entry["find"] == entry["replace"]:
        raise CatalogueError(path, line, "replace is the same as find: not a mutant")
    return Mutant(name, Path(file), str(entry["find"]), str(entry["replace"]), str(entry["class"]), arch)


def check_against_tree(mutants: list[Mutant], tree: Path, catalogue: Path) -> None:
    """Every `find` occurs exactly once in its file of @tree: an edit that
    matches nothing, or more than it says, would measure something else."""
    text = catalogue.read_text()
    lines = _entry_lines(text)
    for i, m in enumerate(mutants):
        target = tree / m.file
        try:
            count = target.read_text().count(m.find)
        except OSError as e:
            raise CatalogueError(catalogue, lines[i], f"{m.name}: {target}: {e.strerror}") from None
        if count != 1:
            raise CatalogueError(catalogue, lines[i],
                                 f"{m.name}: find occurs {count} times in {m.file}, must be exactly once")
