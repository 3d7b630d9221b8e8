"""Headless chromium, as the report's tests use it: the DOM after the
browser parsed and laid out a page, and a screenshot."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..core.errors import ExitCode, HarnessError
from ..setup.requirements import find_tool, tool_named

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def browse(page: Path | str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """chromium with args on page (a local file, or a URL), its own
    profile dir."""
    chromium = find_tool(tool_named("chromium"))
    if chromium is None:
        raise HarnessError(ExitCode.MISSING_PREREQ, "chromium is missing: harness/uafault setup --for test "
                                                    "installs it")
    return subprocess.run([str(chromium), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1000,1200",
                           *args, page.as_uri() if isinstance(page, Path) else page], capture_output=True, text=True, timeout=120, check=False)


def dump_dom(page: Path | str, profile: Path) -> str:
    return browse(page, profile, "--dump-dom").stdout
