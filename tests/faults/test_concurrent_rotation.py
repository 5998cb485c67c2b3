"""The fault suite for rotation with hooks: two real `kvctl rotate` processes rotate one secret at
the same moment, round after round, against an emulator that fails 10% of requests and loses 5%
of write answers. The target system (a file both apply commands write) must end every round
holding what the vault holds, once every recovery file kvctl named has been resumed; never may
two rotations that replaced the same version both have applied their value.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import _ISOLATED_ENV

pytestmark = pytest.mark.faults

ROUNDS = 5
DOCUMENTED = {0, 5, 6, 7}


def _env(emulator, work: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    return {
        **base,
        **emulator.env,
        "KVCTL_NO_PROGRESS": "1",
        "KVCTL_RECOVERY_DIR": str(work / "recovery"),
        "KVCTL_ROTATION_SETTLE": "1",
    }


@pytest.mark.timeout(600)  # rounds of real processes on a shared machine; speed is not what is tested
def test_two_rotators_with_hooks_under_faults_leave_target_equal_to_vault(fresh_emulator, tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"shared-pw": "initial"}))
    emulator = fresh_emulator(
        "--seed", str(seed), "--fault-rate", "0.1", "--drop-response-rate", "0.05", "--latency", "5"
    )  # fmt: skip
    env = _env(emulator, tmp_path)
    target = tmp_path / "target"
    target.write_text("initial")
    hook = 'cat > target.new && mv target.new target && echo "$$" >> hooks.log'
    codes: Counter[int] = Counter()
    for round_ in range(ROUNDS):
        (tmp_path / "hooks.log").write_text("")
        rotators = [
            subprocess.Popen(
                [sys.executable, "-m", "kvctl", "rotate", "shared-pw", "--apply-command", hook],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outcomes = [(p.wait(), p.stderr.read() if p.stderr else "") for p in rotators]
        for p in rotators:
            if p.stderr:
                p.stderr.close()
        codes.update(code for code, _ in outcomes)
        assert {code for code, _ in outcomes} <= DOCUMENTED, outcomes
        assert "Traceback" not in "".join(err for _, err in outcomes)
        # Both may succeed one after the other (the second replacing the first's version), never
        # both replacing the same version.
        replaced = [m for code, err in outcomes if code == 0 for m in re.findall(r"\(was (\w+)\)", err)]
        assert len(replaced) == len(set(replaced)), f"round {round_}: two rotations replaced one version: {outcomes}"
        hooks_ran = len((tmp_path / "hooks.log").read_text().splitlines())
        assert hooks_ran <= len(set(replaced)) + sum(1 for code, _ in outcomes if code not in (0, 6))
        # Finish what kvctl said it left: each recovery file it named, with --resume.
        for saved in {m for _, err in outcomes for m in re.findall(r"kvctl rotate --resume (\S+)", err)}:
            for _ in range(5):
                resumed = subprocess.run(
                    [sys.executable, "-m", "kvctl", "rotate", "--resume", saved],
                    cwd=tmp_path,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if resumed.returncode == 0:
                    break
            assert resumed.returncode == 0, resumed.stderr
        emulator.knobs(faultRate=0, dropResponseRate=0)
        latest = next(s for s in emulator.state() if s["name"] == "shared-pw")["versions"][-1]
        emulator.knobs(faultRate=0.1, dropResponseRate=0.05)
        assert target.read_text() == latest["value"], f"round {round_}: target and vault disagree: {outcomes}"
    print(f"\nconcurrent rotation under faults: {ROUNDS} rounds, exit codes {dict(codes)}")
    assert codes[0] >= ROUNDS // 2, "most rounds rotated"
