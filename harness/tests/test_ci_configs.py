"""configs/ci/: the CI-matrix workflow must run the harness's real
commands, with shard numbers that cover the plan once.  (LAVA jobs are
what `lava submit` writes: test_lava.py.)"""

from __future__ import annotations

import re
import shlex
from string import Template

import yaml

from uafault_harness.campaign.spec import load_campaign
from uafault_harness.cli import build_parser
from uafault_harness.core.paths import PROJECT_ROOT

CI = PROJECT_ROOT / "configs" / "ci"
_EXPR = re.compile(r"\$\{\{\s*([\w.]+)\s*\}\}")


def harness_argv(command: str, env: dict[str, str]) -> list[list[str]]:
    """The argv of each harness/uafault call in a shell step."""
    calls = []
    for part in re.split(r"&&|;|\|\|", command):
        words = shlex.split(Template(part).safe_substitute(env))
        while words and words[0] != "harness/uafault":
            words.pop(0)
        if words:
            calls.append(words[1:])
    return calls


def check_calls(calls: list[list[str]]) -> list[str]:
    """Parse each call as the CLI would; the campaign files they name load."""
    parser = build_parser()
    commands = []
    for argv in calls:
        args = parser.parse_args(argv)
        if args.command == "campaign":
            load_campaign(PROJECT_ROOT / args.spec, None)
        commands.append(args.command)
    return commands


def test_workflow_shards_cover_the_plan_and_run_real_commands() -> None:
    flow = yaml.safe_load((CI / "github-actions.yml").read_text())
    shards = flow["jobs"]["shard"]["strategy"]["matrix"]["shard"]
    total = int(flow["env"]["SHARDS"])
    assert shards == list(range(1, total + 1))
    commands = []
    for shard in shards:
        env = {"CAMPAIGN": flow["env"]["CAMPAIGN"], "RUN_ID": "nightly-1"}
        for job in flow["jobs"].values():
            for step in job["steps"]:
                if "run" in step:
                    run = _EXPR.sub(lambda m: str(shard) if m.group(1) == "matrix.shard" else "1", step["run"])
                    calls = harness_argv(run, env)
                    for argv in calls:
                        if argv[0] == "campaign":
                            assert build_parser().parse_args(argv).shard == (shard, total)
                    commands += check_calls(calls)
    assert {"setup", "campaign", "merge", "report", "export"} <= set(commands)
    uploaded = flow["jobs"]["shard"]["steps"][-1]["with"]
    assert uploaded["path"] == "results/uafault.db"
    pattern = next(s["with"]["pattern"] for s in flow["jobs"]["merge"]["steps"] if "with" in s and "pattern" in s["with"])
    assert re.fullmatch(pattern.replace("*", r"\d+"), uploaded["name"].replace("${{ matrix.shard }}", "3"))
