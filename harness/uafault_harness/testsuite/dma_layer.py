"""The `dma` layer of `test`: uafault's DMA device and the virtio-blk
direct I/O paths on the three DMA mappings (configs/campaigns/dma.toml:
dma-direct, swiotlb=force, virtio-iommu).  No correct target may fail on
any of them; each DMA variant must be caught on the kernels whose mapping
shows its bug, and pass where the mapping hides it (which is why those
kernels exist).  Then the plain kernel is asked to prove the other two
mappings, and the agent must refuse to start."""

from __future__ import annotations

from pathlib import Path

from ..campaign.store import DB_NAME, History, Row
from ..core.errors import ExitCode
from ..core.paths import Layout
from ..core.results import LayerResult
from ..core.verdicts import BAD, VERDICTS, Verdict
from ..guest.protocol import agent_args
from ..reports.matrix import detection
from .campaign_layers import checks_layer, cli_command, run_campaign_file, run_logged

DMA = Path("configs/campaigns/dma.toml")
LAYER_DIR = "dma"
# variant: (the kernels that must catch it, the kernels where it passes).
SHOWS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "variant_dma_missing_sync": (("swiotlb",), ("plain", "iommu")),
    "variant_dma_after_unmap": (("swiotlb", "iommu"), ("plain",)),
}
# What the agent says when the kernel's mapping is not the one asked for.
REFUSALS: dict[str, str] = {
    "iommu": "is not behind a translating IOMMU",
    "swiotlb": "nothing bounced",
}


def _caught(rows: list[Row], target: str, kernel: str) -> bool | None:
    """Whether an oracle flagged target on kernel; None: no case ran."""
    mine = [r for r in rows if r.case.target == target and r.case.kernel == kernel]
    if not mine:
        return None
    return any(VERDICTS[r.verdict].catches and r.title.startswith("[") for r in mine)


def campaign_checks(rows: list[Row]) -> dict[str, bool]:
    kernels = sorted({r.case.kernel for r in rows})
    checks: dict[str, bool] = {f"the campaign ran on {', '.join(kernels)}": set(kernels) >= {"plain", "swiotlb",
                                                                                             "iommu"}}
    for kernel in kernels:
        mine = [r for r in rows if r.case.kernel == kernel]
        wrong = [f"{r.case.case_id} {r.verdict} {r.title}" for r in mine
                 if r.verdict in BAD and not r.case.target.startswith("variant_")]
        checks[f"{kernel}: no correct target failed" + (f" ({'; '.join(wrong[:2])})" if wrong else "")] = not wrong
        checks[f"{kernel}: the virtio-blk paths passed"] = any(
            r.verdict == Verdict.PASS for r in mine if r.case.target.startswith("path_dio_"))
    for variant, (catch, miss) in SHOWS.items():
        for kernel in catch:
            checks[f"{kernel} catches {variant}"] = _caught(rows, variant, kernel) is True
        for kernel in miss:
            checks[f"{variant} passes on {kernel}, whose mapping hides it"] = _caught(rows, variant, kernel) is False
    return checks


def proof_checks(layout: Layout, out: Path, jobs: int) -> dict[str, bool]:
    """The plain kernel, told it bounces or translates: the agent refuses."""
    checks: dict[str, bool] = {}
    for mode, words in REFUSALS.items():
        log = out / f"plain-as-{mode}.log"
        rc = run_logged(layout, cli_command(layout, jobs, "guest", "--agent-args",
                                            agent_args(dma=mode, targets="pin_dma_read", faults="none")), log)
        checks[f"the plain kernel fails --dma {mode} ('{words}', exit {rc})"] = (
            rc != 0 and words in log.read_text(errors="replace"))
    return checks


def run_dma_layer(layout: Layout, run_dir: Path, jobs: int) -> LayerResult:
    layer = "dma"
    out = run_dir / LAYER_DIR
    rc, run_id, log = run_campaign_file(layout, out, jobs, DMA, "dma")
    checks: dict[str, bool] = {f"the dma campaign ran (exit {rc})": run_id is not None}
    if run_id is not None:
        db = layout.results_root / DB_NAME
        with History(db) as stored:
            checks.update(campaign_checks(stored.rows(run_id)))
        code, matrix = detection(db, run_id)
        (out / "detection.txt").write_text(matrix)
        checks[f"detection: {matrix.splitlines()[-1]}"] = code is ExitCode.OK
    checks.update(proof_checks(layout, out, jobs))
    return checks_layer(layer, checks, out, out, "every DMA mapping holds, each variant caught where it shows",
                        {"log": str(log)})
