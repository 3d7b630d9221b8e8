"""The dma layer judges each DMA mapping from the campaign's verdicts: a
variant must be caught where its mapping shows the bug and pass where the
mapping hides it."""

from __future__ import annotations

from uafault_harness.campaign.spec import Case
from uafault_harness.campaign.store import Row
from uafault_harness.testsuite.dma_layer import SHOWS, campaign_checks

SYNC, UNMAP = "variant_dma_missing_sync", "variant_dma_after_unmap"
CSUM = "[csum] kernel csum 0x1 of 100 bytes, user has 0x2"


def row(kernel: str, target: str, verdict: str, title: str = "") -> Row:
    return Row(Case(0, kernel, target, "none", 0, 5, 1, 0), verdict, title, 0.1)


def good_rows() -> list[Row]:
    rows = [row(k, t, "PASS") for k in ("plain", "swiotlb", "iommu")
            for t in ("pin_dma_read", "path_dio_read_virtio_blk", "twin_dma_missing_sync")]
    for variant, (catch, miss) in SHOWS.items():
        rows += [row(k, variant, "XFAIL", CSUM) for k in catch] + [row(k, variant, "PASS") for k in miss]
    return rows


def test_each_variant_caught_where_its_mapping_shows_it() -> None:
    checks = campaign_checks(good_rows())
    assert all(checks.values()), checks
    assert "swiotlb catches variant_dma_missing_sync" in checks
    assert "variant_dma_after_unmap passes on plain, whose mapping hides it" in checks


def test_a_miss_a_catch_on_the_wrong_kernel_or_a_failing_twin_fails() -> None:
    rows = [r for r in good_rows() if not (r.case.kernel == "iommu" and r.case.target == UNMAP)]
    rows += [row("iommu", UNMAP, "PASS")]
    rows = [r for r in rows if not (r.case.kernel == "plain" and r.case.target == SYNC)]
    rows += [row("plain", SYNC, "XFAIL", CSUM)]
    rows += [row("swiotlb", "pin_dma_write", "FAIL", "[result] ret -5")]
    bad = [name for name, ok in campaign_checks(rows).items() if not ok]
    assert "iommu catches variant_dma_after_unmap" in bad
    assert "variant_dma_missing_sync passes on plain, whose mapping hides it" in bad
    assert any(name.startswith("swiotlb: no correct target failed") and "[result] ret -5" in name for name in bad)
    # A set-up failure or a crash with no oracle tag is not a catch.
    rows = [r for r in good_rows() if r.case.target != SYNC] + [row("swiotlb", SYNC, "UNRESOLVED", "[setup] x")]
    assert not campaign_checks(rows)["swiotlb catches variant_dma_missing_sync"]
