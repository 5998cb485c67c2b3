"""copy and import against an emulator that fails 10% of requests before doing them and loses 5%
of write answers after doing them: the real CLI, reruns until done, and then the state is checked
against the source: no duplicate version, no value lost, and a last run that writes nothing."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import run_kvctl

pytestmark = [pytest.mark.faults, pytest.mark.slow]

COUNT = 120
DOCUMENTED = {0, 3, 5, 6, 7}


def _until_done(emulator, args, tmp_path, runs=8):
    codes = []
    for _ in range(runs):
        result = run_kvctl(args, emulator=emulator, env={"XDG_STATE_HOME": str(tmp_path / "state")})
        codes.append(result.exit_code)
        assert result.exit_code in DOCUMENTED, result.stderr[-1000:]
        assert "Traceback" not in result.stderr
        if result.exit_code == 0:
            return result, codes
    raise AssertionError(f"never finished: {codes}")


def test_copy_and_import_under_faults(fresh_emulator, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    values = {f"f-{i:03d}": f"value-{i}-{uuid.uuid4().hex}" for i in range(COUNT)}
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps({name: {"value": v, "contentType": "text/plain", "tags": {"i": name}} for name, v in values.items()})
    )
    emulator = fresh_emulator(
        "--vault", "dev-kv", "--vault", "prod-kv", "--seed", str(seed),
        "--fault-rate", "0.1", "--drop-response-rate", "0.05", "--random-seed", "7",
    )  # fmt: skip
    dev, prod = (v["url"] for v in emulator.info["vaults"])

    _until_done(emulator, ["copy", "--from", dev, "--to", prod, "--prefix", "f-", "-o", "json"], tmp_path)
    counters = emulator.control("GET", "state")["counters"]
    assert counters["drops"] > 0 and counters["faults"] > 0, "the faults did happen"
    copied = {s["name"]: [v["value"] for v in s["versions"]] for s in emulator.state("prod-kv")}
    assert copied == {name: [value] for name, value in values.items()}, "one version each: no duplicate, none lost"
    for s in emulator.state("prod-kv"):
        assert s["versions"][0]["contentType"] == "text/plain"

    last, _ = _until_done(emulator, ["copy", "--from", dev, "--to", prod, "--prefix", "f-", "-o", "json"], tmp_path)
    assert last.json["counts"] == {"skipped": COUNT}
    assert {s["name"]: len(s["versions"]) for s in emulator.state("prod-kv")} == dict.fromkeys(values, 1)

    env_file = tmp_path / "in.env"
    env_file.write_text("".join(f"IMP_{i:03d}='{v}'\n" for i, v in enumerate(values.values())))
    _until_done(emulator, ["import", str(env_file), "--vault", prod, "-o", "json"], tmp_path)
    again, _ = _until_done(emulator, ["import", str(env_file), "--vault", prod, "-o", "json"], tmp_path)
    assert again.json["counts"] == {"skipped": COUNT}
    imported = {s["name"]: [v["value"] for v in s["versions"]] for s in emulator.state("prod-kv")}
    assert {n: v for n, v in imported.items() if n.startswith("imp-")} == {
        f"imp-{i:03d}": [v] for i, v in enumerate(values.values())
    }
