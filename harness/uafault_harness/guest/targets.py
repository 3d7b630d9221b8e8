"""The targets a build's guest offers (the agent's --list-targets): which
crash on purpose, the fault kinds each takes; listed by one boot per
build, its modules and its described paths, and kept beside the build."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..core import fsutil
from ..core.errors import ExitCode, HarnessError
from .modules import Modules
from .protocol import AGENT_LIST_TARGETS, ListedTarget, agent_error, parse_target
from .runner import CONSOLE_NAME, BootObserver, GuestRequest, PreparedGuest, boot_guest


def targets_cache(guest: PreparedGuest, modules: Modules, path_lines: tuple[str, ...] = ()) -> Path:
    """Where the target list of these very modules, described paths and
    agent is kept: the list is a function of them (kernel parameters do
    not register targets), so one boot per build lists it."""
    request = GuestRequest(allow_crash=True, modules=modules)
    digest = hashlib.sha256()
    for path in (*guest.artefacts.loaded(request), guest.artefacts.agent):
        digest.update(path.read_bytes())
    digest.update("\n".join(path_lines).encode())
    return (guest.artefacts.home or guest.artefacts.agent.parent) / f"targets-{digest.hexdigest()[:16]}.txt"


def list_targets(guest: PreparedGuest, out_dir: Path, modules: Modules = Modules(),
                 path_lines: tuple[str, ...] = (), observers: tuple[BootObserver, ...] = ()) -> list[ListedTarget]:
    """Every target (and which ones crash, the kinds each takes), with the
    modules and described paths the campaign asks for: from the cache of
    this build, else one boot with allow_crash."""
    cache = targets_cache(guest, modules, path_lines)
    if cache.is_file():
        listed = [t for t in map(parse_target, cache.read_text().splitlines()) if t is not None]
        if listed:
            return listed
    out_dir.mkdir(parents=True, exist_ok=True)
    request = GuestRequest(allow_crash=True, agent_args=AGENT_LIST_TARGETS, modules=modules, path_lines=path_lines)
    tracker, outcome, _ = boot_guest(guest, request, out_dir, observers=observers, echo=False)
    lines = [line for line in tracker.user_lines if parse_target(line) is not None]
    said = agent_error(tracker.agent_lines)
    if said is not None and tracker.agent_exit:
        raise HarnessError(ExitCode.RUN_FAILED, f"the agent could not set up: {said} (see {out_dir / CONSOLE_NAME})")
    if tracker.agent_exit != 0 or not lines:
        raise HarnessError(ExitCode.RUN_FAILED, f"listing the targets failed ({outcome.reason}, agent exit "
                           f"{tracker.agent_exit}); see {out_dir / CONSOLE_NAME}")
    fsutil.atomic_write_text(cache, "".join(line + "\n" for line in lines))
    return [t for t in map(parse_target, lines) if t is not None]
