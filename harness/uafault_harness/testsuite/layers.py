"""The layers of `uafault test`, in the order they run: one list, which
`test` runs and `results` reads back (each layer stores its summary under
the run directory; pytest its JUnit XML)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..campaign.known_issues import case_globs, shipped_known_issues
from ..campaign.batch import described_lines
from ..core.errors import ExitCode
from ..core.paths import Layout
from ..core.results import SUMMARY_NAME, LayerResult, read_layer
from ..guest.accel import ACCEL_ENV, DEFAULT_ACCEL
from ..guest.runner import TEST_FUZZ_CALLS, GuestRequest, guest_layer_dir, run_guest_layer
from ..kunit.runner import KunitRequest, run_kunit_layer
from . import campaign_layers
from .bisect_layer import LAYER_DIR as BISECT_DIR, run_bisect_layer
from .bug_layer import LAYER_DIR as BUG_DIR, run_bug_layer
from .coverage_layer import LAYER_DIR as COVERAGE_DIR, run_coverage_layer
from .dma_layer import LAYER_DIR as DMA_DIR, run_dma_layer
from .image_layer import LAYER_DIR as IMAGE_DIR, run_image_layer
from .lava_layer import LAYER_DIR as LAVA_DIR, run_lava_layer
from .memory_layer import LAYER_DIR as MEMORY_DIR, run_memory_layer
from .mutants_layer import LAYER_DIR as MUTANTS_DIR, run_mutants_layer
from .path_oracles_layer import LAYER_DIR as PATH_ORACLES_DIR, run_path_oracles_layer
from .pytest_layer import JUNIT_NAME, layer_from_junit, run_pytest_layer
from .user_module_layer import LAYER_DIR as USER_MODULE_DIR, run_user_module_layer


@dataclass
class TestRun:
    """One `test`: its options and the layers done so far, by name."""
    layout: Layout
    run_dir: Path
    jobs: int
    timeout: int
    accel: str = DEFAULT_ACCEL
    kunit_py_x86_64: bool = False
    done: dict[str, LayerResult] = field(default_factory=dict)

    def smoke_run_id(self) -> str | None:
        return self.run_of(campaign_layers.LAYER_DIR)

    def run_of(self, layer: str) -> str | None:
        """The campaign run a layer done so far made."""
        done = self.done.get(layer)
        run_id = done.details.get("run_id") if done else None
        return run_id if isinstance(run_id, str) else None


def test_guest_requests(jobs: int, layout: Layout, accel: str = DEFAULT_ACCEL) -> list[GuestRequest]:
    """What `test` boots: every fault kind on every target, the ioctl
    fuzzer, the KUnit suites re-run through debugfs and SMAP (it oopses
    last, on purpose), then the fuzzer and the fault kinds again under
    KASAN, where nothing may oops."""
    described = described_lines(layout, ())
    known = shipped_known_issues(layout.project)
    return [GuestRequest(jobs=jobs, allow_crash=True, fuzz_calls=TEST_FUZZ_CALLS, kunit=True, path_lines=described,
                         known_issues=case_globs(known, "plain"), accel=accel),
            GuestRequest(jobs=jobs, kernel="kasan", fuzz_calls=TEST_FUZZ_CALLS, path_lines=described,
                         known_issues=case_globs(known, "kasan"), accel=accel)]


def _guest(kernel: str) -> Callable[[TestRun], LayerResult | None]:
    def run(t: TestRun) -> LayerResult:
        # The layers that run the CLI hand --accel on through its default.
        os.environ[ACCEL_ENV] = t.accel
        request = next(r for r in test_guest_requests(t.jobs, t.layout, t.accel) if r.kernel == kernel)
        return run_guest_layer(t.layout, request, t.run_dir)
    return run


def _kunit(arch: str) -> Callable[[TestRun], LayerResult | None]:
    def run(t: TestRun) -> LayerResult | None:
        if arch != "um" and not t.kunit_py_x86_64:
            return None     # the guest runs the x86_64 suites
        return run_kunit_layer(t.layout, KunitRequest(arch, t.jobs, t.timeout), t.run_dir)
    return run


def _mutants(t: TestRun) -> LayerResult | None:
    # A mutant is killed only by suites that pass on the unedited tree.
    um = t.done.get("um")
    return run_mutants_layer(t.layout, t.run_dir, t.jobs) if um and um.exit_code is ExitCode.OK else None


def _plain(run: Callable[[Layout, Path, int], LayerResult]) -> Callable[[TestRun], LayerResult]:
    return lambda t: run(t.layout, t.run_dir, t.jobs)


@dataclass(frozen=True)
class Layer:
    # Where it stores its summary (run_dir/DIR/summary.json; pytest: the XML).
    dir: str
    # What it runs, for `test --help`.
    about: str
    run: Callable[[TestRun], LayerResult | None]
    # Boots guests: left out by `test --skip-guest`.
    guest: bool = True


LAYERS: tuple[Layer, ...] = (
    Layer(JUNIT_NAME, "pytest", lambda t: run_pytest_layer(t.layout, t.run_dir), guest=False),
    Layer("um", "KUnit on UML", _kunit("um"), guest=False),
    Layer("x86_64", "kunit.py's x86_64 run (--kunit-py-x86_64)", _kunit("x86_64"), guest=False),
    Layer(MUTANTS_DIR, "four mutants the suites must kill", _mutants, guest=False),
    Layer(guest_layer_dir("plain"), "the guest (the KUnit suites on x86_64 as uafault_kunit.ko, SMAP, fuzz)",
          _guest("plain")),
    Layer(guest_layer_dir("kasan"), "the KASAN guest", _guest("kasan")),
    Layer(campaign_layers.LAYER_DIR, "the smoke campaign killed and resumed",
          _plain(campaign_layers.run_campaign_layer)),
    Layer(COVERAGE_DIR, "its error-path coverage",
          lambda t: run_coverage_layer(t.layout, t.run_dir, t.jobs, t.smoke_run_id())),
    Layer(campaign_layers.MINIMIZE_LAYER_DIR, "minimize on its first failure",
          lambda t: campaign_layers.run_minimize_layer(t.layout, t.run_dir, t.jobs, t.smoke_run_id())),
    Layer(campaign_layers.VARIANTS_LAYER_DIR, "the variants campaign", _plain(campaign_layers.run_variants_layer)),
    Layer(BUG_DIR, "bug reports of its first oracle failure and CRASH, and of a KASAN report",
          lambda t: run_bug_layer(t.layout, t.run_dir, t.jobs, t.run_of(campaign_layers.VARIANTS_LAYER_DIR))),
    Layer(campaign_layers.REPRO_LAYER_DIR, "every repro config", _plain(campaign_layers.run_repro_layer)),
    Layer(USER_MODULE_DIR, "a user module from outside the checkout", _plain(run_user_module_layer)),
    Layer(BISECT_DIR, "a cause bisection", _plain(run_bisect_layer)),
    Layer(PATH_ORACLES_DIR, "the path oracles", _plain(run_path_oracles_layer)),
    Layer(MEMORY_DIR, "every memory kind", _plain(run_memory_layer)),
    Layer(DMA_DIR, "the DMA mappings", _plain(run_dma_layer)),
    Layer(IMAGE_DIR, "Debian's prebuilt kernel (guest and smoke campaign)", _plain(run_image_layer)),
    Layer(LAVA_DIR, "the smoke campaign on a LAVA lab here (2 shards, against the local run)",
          lambda t: run_lava_layer(t.layout, t.run_dir, t.jobs, t.smoke_run_id())),
)
TEST_HELP = "the whole suite in one run: " + ", ".join(layer.about for layer in LAYERS)


def run_layers(t: TestRun, skip_pytest: bool = False, skip_guest: bool = False) -> list[LayerResult]:
    """Every layer in order, but those the options leave out."""
    out: list[LayerResult] = []
    for layer in LAYERS:
        if (skip_pytest and layer.dir == JUNIT_NAME) or (skip_guest and layer.guest):
            continue
        result = layer.run(t)
        if result is not None:
            t.done[layer.dir] = result
            out.append(result)
    return out


def load_run_layers(run_dir: Path) -> list[LayerResult]:
    """The layers a run stored, in the order `test` runs them."""
    layers: list[LayerResult] = []
    for layer in LAYERS:
        if layer.dir == JUNIT_NAME:
            if (run_dir / JUNIT_NAME).is_file():
                layers.append(layer_from_junit(run_dir / JUNIT_NAME))
        elif (run_dir / layer.dir / SUMMARY_NAME).is_file():
            layers.append(read_layer(run_dir / layer.dir / SUMMARY_NAME))
    return layers
