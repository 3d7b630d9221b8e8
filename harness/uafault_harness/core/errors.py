"""Exit codes and the one exception type that carries them to the CLI."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    TEST_FAILED = 1
    # argparse already exits 2 on bad usage; we reuse it for our own checks.
    USAGE = 2
    MISSING_PREREQ = 3
    BUILD_FAILED = 4
    # The kernel crashed, printed no KTAP, or ran no tests.
    RUN_FAILED = 5
    BAD_TREE = 6
    NO_SUCH_RUN = 7
    # A campaign or repro file is malformed: the message says file:line: key.
    BAD_CONFIG = 8
    # A LAVA server could not be reached or refused a request (lava/).
    SERVER = 9


# When several layers fail, report the one that needs attention first:
# an environment problem hides everything after it.
_SEVERITY: tuple[ExitCode, ...] = (
    ExitCode.BAD_TREE,
    ExitCode.BAD_CONFIG,
    ExitCode.MISSING_PREREQ,
    ExitCode.SERVER,
    ExitCode.BUILD_FAILED,
    ExitCode.RUN_FAILED,
    ExitCode.TEST_FAILED,
    ExitCode.USAGE,
    ExitCode.NO_SUCH_RUN,
)


def worst(codes: list[ExitCode]) -> ExitCode:
    for code in _SEVERITY:
        if code in codes:
            return code
    return ExitCode.OK


class HarnessError(Exception):
    """A failure the user can act on; the message says how."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
