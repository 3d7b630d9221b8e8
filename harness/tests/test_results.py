from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from uafault_harness.core.errors import ExitCode, HarnessError
from uafault_harness.core.results import (
    Counts, LayerResult, create_run_dir, find_run, mark_latest, read_layer, write_layer,
)

NOW = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)


def test_run_id_is_utc_timestamp(tmp_path: Path) -> None:
    run = create_run_dir(tmp_path)
    assert re.fullmatch(r"\d{8}T\d{6}Z", run.name)


def test_run_ids_get_suffix_and_latest_follows(tmp_path: Path) -> None:
    first = create_run_dir(tmp_path, NOW)
    second = create_run_dir(tmp_path, NOW)
    third = create_run_dir(tmp_path, NOW)
    assert [first.name, second.name, third.name] == [
        "20250304T050607Z", "20250304T050607Z-1", "20250304T050607Z-2"]
    latest = tmp_path / "latest"
    assert latest.is_symlink()
    # Relative, so the results directory can be moved or copied.
    assert os.readlink(latest) == "20250304T050607Z-2"
    assert find_run(tmp_path, None) == third.resolve()
    assert find_run(tmp_path, "20250304T050607Z") == first.resolve()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # `test` takes latest back from the runs its layers started.
    mark_latest(first)
    assert find_run(tmp_path, None) == first.resolve()


def test_unknown_run_is_reported(tmp_path: Path) -> None:
    create_run_dir(tmp_path, NOW)
    with pytest.raises(HarnessError) as err:
        find_run(tmp_path, "19990101T000000Z")
    assert err.value.code is ExitCode.NO_SUCH_RUN
    assert "20250304T050607Z" in str(err.value)
    with pytest.raises(HarnessError) as err:
        find_run(tmp_path, "../etc")
    assert err.value.code is ExitCode.USAGE


def test_layer_summary_round_trip(tmp_path: Path) -> None:
    result = LayerResult("kunit um", ExitCode.TEST_FAILED, "1 case(s) failed",
                         Counts(passed=3, failed=1, skipped=2),
                         {"uafault_copy": Counts(passed=3, failed=1, skipped=2)}, {"parse_errors": 0})
    path = tmp_path / "um" / "summary.json"
    write_layer(path, result)
    back = read_layer(path)
    assert back == result
    assert back.outcome == "test_failed"
