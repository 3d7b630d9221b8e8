"""The `mutants` layer of `test`: a few mutants of the real kernel code the
KUnit suites cover (configs/mutants.toml), each applied to the cached tree,
built and run by kunit.py through the real CLI, then undone.  Every one
must be killed, and the tree must come back byte for byte with no journal
left.  The whole catalogue is `harness/uafault mutants` (minutes, a
figure, not a pass/fail)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..core.paths import Layout
from ..core.results import LayerResult
from ..mutate.catalogue import CATALOGUE, load_catalogue
from ..mutate.runner import KILLED, OUTCOMES_NAME
from ..setup.tree_edit import JOURNAL
from .campaign_layers import checks_layer, cli_command, run_logged
from .path_oracles_layer import artefacts_of

LAYER_DIR = "mutants"
# One per file the catalogue edits, each killed by a different suite: UML's
# uaccess (string), lib/usercopy.c (struct), mm/gup.c (gup), lib/iov_iter.c
# (iter).  Seconds each on UML.
SAMPLE = ("um_strnlen_no_nul", "zeroed_tail_unmasked", "gup_release_not_counted", "import_ubuf_unchecked")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_mutants_layer(layout: Layout, run_dir: Path, jobs: int) -> LayerResult:
    out = run_dir / LAYER_DIR
    out.mkdir(parents=True, exist_ok=True)
    mutants = {m.name: m for m in load_catalogue(layout.project / CATALOGUE)}
    files = sorted({mutants[n].file for n in SAMPLE if n in mutants})
    before = {f: _digest(layout.tree / f) for f in files}
    log = out / "mutants.log"
    # The kunit um layer has just passed on the unedited tree.
    rc = run_logged(layout, cli_command(layout, jobs, "mutants", "--no-baseline", *SAMPLE), log)
    where = artefacts_of(log.read_text(errors="replace"))
    outcomes = {}
    if where and (where / OUTCOMES_NAME).is_file():
        outcomes = {o["mutant"]: o for o in json.loads((where / OUTCOMES_NAME).read_text())}
    checks: dict[str, bool] = {f"`mutants` ran (exit {rc})": rc == 0,
                               "every sampled mutant is in the catalogue": all(n in mutants for n in SAMPLE)}
    for name in SAMPLE:
        o = outcomes.get(name, {})
        checks[f"{name} killed ({o.get('verdict', 'not run')})"] = o.get("verdict") == KILLED
    checks["the tree came back byte for byte"] = all(_digest(layout.tree / f) == d for f, d in before.items())
    checks["no edit journal left"] = not (layout.cache / JOURNAL).exists()
    return checks_layer("mutants", checks, out, log, "the suites kill the sampled mutants of the code they cover",
                        details={"outcomes": list(outcomes.values())})
