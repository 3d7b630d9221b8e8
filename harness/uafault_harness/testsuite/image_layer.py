"""The `image` layer of `test`: uafault on a kernel it did not build,
Debian 12's own prebuilt linux-image with its linux-headers (`--kernel-source
image`, the archive's newest).  uafault.ko, its example and variants build
against the headers, the agent runs in the guest as on the built kernels,
and the smoke campaign runs there too.  What the distribution's config
leaves out must be a skip that names the option (fault injection, the
iommufd and gup_test paths, KUnit), never a pass; what the kernel does
against the contract must be a known deviation with its fix, or a
failure."""

from __future__ import annotations

import json
from pathlib import Path

from ..campaign.store import DB_NAME, History
from ..core.paths import KERNEL_SOURCE_ENV, Layout
from ..core.results import SUMMARY_NAME, LayerResult
from ..core.verdicts import ktap_result
from ..setup.image import config_options
from ..guest.runner import KTAP_NAME
from .campaign_layers import SMOKE, checks_layer, cli_command, newest_run, run_logged, since_now
from .path_oracles_layer import artefacts_of

LAYER_DIR = "image"
SOURCE = "image"
# What Debian's config leaves out and the run must say so of, by option:
# the agent's fail_nth kind, its iommufd and gup_test path families, the
# KUnit suites.
FAIL_NTH = "fail_nth"


def _guest_checks(summary: dict[str, object], ktap: str) -> dict[str, bool]:
    details = summary.get("details", {})
    assert isinstance(details, dict)
    counts = summary.get("counts", {})
    assert isinstance(counts, dict)
    release = str(details.get("kernel_release", ""))
    config = Path(str(details.get("kernel_config", "")))
    options = config_options(config) if config.is_file() else {}
    unavailable = [str(u) for u in details.get("unavailable", [])]  # type: ignore[union-attr]
    cases = [r for r in map(ktap_result, ktap.splitlines()) if r and r.name == FAIL_NTH]
    fail_nth = len(cases)
    skipped = len([r for r in cases if r.ok and r.skipped and r.reason == "CONFIG_FAULT_INJECTION"])
    checks = {
        f"the guest ran Debian's prebuilt kernel ({release or 'none'})": release.startswith("Debian linux-image-"),
        f"no case failed on it ({counts.get('failed', '?')} failed, {counts.get('xfail', 0)} known deviations)":
            summary.get("exit_code") == 0 and counts.get("failed") == 0 and counts.get("crashed") == 0,
        "every unavailable path names the option it needs": bool(unavailable) and all(
            "needs CONFIG_" in u for u in unavailable if not u.startswith("kind ")),
        "the iommufd and gup_test paths are unavailable with CONFIG_IOMMUFD_TEST and CONFIG_GUP_TEST": any(
            "CONFIG_IOMMUFD_TEST" in u for u in unavailable) and any("CONFIG_GUP_TEST" in u for u in unavailable),
    }
    if options.get("CONFIG_FAULT_INJECTION") == "y":
        checks["fail_nth ran (the image has CONFIG_FAULT_INJECTION)"] = fail_nth > 0 and not skipped
    else:
        checks[f"every fail_nth case ({fail_nth}) is a SKIP naming CONFIG_FAULT_INJECTION"] = (
            fail_nth > 0 and skipped == fail_nth)
    kunit = str(details.get("kunit", ""))
    if options.get("CONFIG_KUNIT") in ("y", "m"):
        checks["the KUnit suites ran (the image has CONFIG_KUNIT)"] = "uafault_limits" in ktap
    else:
        checks["--kunit says the suites are not available and names CONFIG_KUNIT"] = "CONFIG_KUNIT" in kunit
    return checks


def run_image_layer(layout: Layout, run_dir: Path, jobs: int) -> LayerResult:
    layer = "image"
    out = run_dir / LAYER_DIR
    out.mkdir(parents=True, exist_ok=True)
    env = {KERNEL_SOURCE_ENV: SOURCE}
    log = out / "guest.log"
    rc = run_logged(layout, cli_command(layout, jobs, "guest", "--kernel-source", SOURCE, "--kunit"), log)
    where = artefacts_of(log.read_text(errors="replace"))
    summary: dict[str, object] = {}
    if where is not None and (where / SUMMARY_NAME).is_file():
        summary = json.loads((where / SUMMARY_NAME).read_text())
    checks = {f"guest --kernel-source {SOURCE} --kunit ran (exit {rc})": bool(summary)}
    details: dict[str, object] = {"guest_log": str(log), "env": env}
    if summary:
        ktap = (where / KTAP_NAME).read_text(errors="replace") if where and (where / KTAP_NAME).is_file() else ""
        checks.update(_guest_checks(summary, ktap))
        guest_details = summary.get("details", {})
        assert isinstance(guest_details, dict)
        details.update({k: guest_details.get(k) for k in ("kernel_source", "kernel_release", "known",
                                                          "unavailable", "boot_to_first_case_seconds")})
    since = since_now()
    clog = out / "campaign.log"
    crc = run_logged(layout, cli_command(layout, jobs, "campaign", str(layout.project / SMOKE), "--kernel-source",
                                         SOURCE), clog)
    run = newest_run(layout.results_root / DB_NAME, since)
    checks[f"the smoke campaign passed on it (exit {crc})"] = crc == 0 and run is not None
    if run is not None:
        with History(layout.results_root / DB_NAME) as stored:
            kernel = stored.header(run[0]).source_version
        checks[f"its run records the kernel it ran on ({kernel})"] = kernel.startswith("Debian linux-image-")
        details["campaign_run"] = run[0]
    return checks_layer(layer, checks, out, out, f"Debian's prebuilt {details.get('kernel_release', 'image')}",
                        details)
