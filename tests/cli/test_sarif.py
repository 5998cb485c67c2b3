"""`check -o sarif` as its consumers read it: the SARIF 2.1.0 schema, Microsoft's SARIF multitool,
and what GitHub code scanning needs (a physical location in a repository file: --sarif-anchor)."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import jsonschema
import pytest

from tests import sarif_multitool
from tests.conftest import ROOT, EmulatorProcess, run_kvctl

SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
BICEP = """param location string = resourceGroup().location

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'nosoft'
  location: location
}
"""


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sarif")
    seed = directory / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "_vaults": {
                    "nosoft": {"properties": {"enableSoftDelete": False}},
                    "hygiene": {
                        "properties": {"enablePurgeProtection": True},
                        "secrets": {"expired": {"value": "v", "expires": "-2d"}, "forever": "v"},
                    },
                }
            }
        )
    )
    process = EmulatorProcess(directory / "state", ["--seed", str(seed)]).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def multitool():
    binary, why = sarif_multitool.find_or_install()
    if binary is None:
        pytest.skip(f"SARIF MULTITOOL UNAVAILABLE, SARIF NOT VALIDATED BY IT: {why}")
    return binary


def sarif(emu, *args: str) -> dict:
    result = run_kvctl(["check", "--all", "-o", "sarif", *args], emulator=emu)
    assert result.exit_code == 10, result.stderr
    return result.json


def _write(document: dict, path: Path) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path


def _physical(document: dict) -> list[dict | None]:
    return [loc.get("physicalLocation") for r in document["runs"][0]["results"] for loc in r["locations"]]


def test_the_multitool_finds_nothing_to_complain_about(emu, multitool, tmp_path):
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "main.bicep").write_text(BICEP)
    plain = sarif(emu)
    anchored = sarif(emu, "--sarif-anchor", "infra/main.bicep")
    for name, document in (("plain", plain), ("anchored", anchored)):
        assert document["runs"][0]["results"], "there are findings to validate"
        problems = sarif_multitool.validate(multitool, _write(document, tmp_path / f"{name}.sarif"))
        assert problems == [], (name, problems)


def test_the_multitool_check_can_fail(multitool, tmp_path, emu):
    """The negative control: kvctl's old output (an ARM id as a relative URI) is an error."""
    document = sarif(emu)
    result = document["runs"][0]["results"][0]
    result["locations"][0]["physicalLocation"] = {"artifactLocation": {"uri": result["properties"]["resource"]}}
    problems = sarif_multitool.validate(multitool, _write(document, tmp_path / "old.sarif"))
    assert any(p["rule"] == "SARIF1004" and p["level"] == "error" for p in problems), problems


def test_schema_identity_and_logical_locations(emu, tmp_path):
    (tmp_path / "main.bicep").write_text(BICEP)
    for document in (sarif(emu), sarif(emu, "--sarif-anchor", "main.bicep:3")):
        jsonschema.Draft4Validator(SCHEMA).validate(document)
        run = document["runs"][0]
        driver = run["tool"]["driver"]
        assert driver["name"] == "kvctl" and driver["fullName"].startswith("kvctl ") and driver["version"]
        assert run["automationDetails"]["id"] == "kvctl/check/all/"
        for result in run["results"]:
            [location] = result["locations"]
            [logical] = location["logicalLocations"]
            assert logical["fullyQualifiedName"] == result["properties"]["resource"]
            assert logical["kind"] == "resource"
            uri = location.get("physicalLocation", {}).get("artifactLocation", {}).get("uri", "")
            assert not uri.startswith("/") and "subscriptions" not in uri
    assert _physical(sarif(emu)) == [None] * len(_physical(sarif(emu))), "no anchor, no physical location"


def test_a_vault_anchor_points_at_the_line_that_defines_the_vault(emu, tmp_path):
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "kv.bicep").write_text(BICEP)
    (tmp_path / "main.tf").write_text("# every other vault\n")
    document = sarif(emu, "--sarif-anchor", "nosoft=infra/kv.bicep", "--sarif-anchor", "main.tf:1")
    run = document["runs"][0]
    base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base == tmp_path.resolve().as_uri() + "/"
    seen = set()
    for result in run["results"]:
        physical = result["locations"][0]["physicalLocation"]
        vault = result["properties"]["vault"]
        artifact = physical["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        # the consumer's view: base + uri is the file, and the region is the line meant
        target = Path(urllib.parse.urlsplit(base + artifact["uri"]).path)
        line = target.read_text().splitlines()[physical["region"]["startLine"] - 1]
        if vault == "nosoft":
            assert artifact["uri"] == "infra/kv.bicep" and line == "  name: 'nosoft'"
            assert physical["region"]["endColumn"] == len(line) + 1
        else:
            assert artifact["uri"] == "main.tf" and physical["region"]["startLine"] == 1
        seen.add(vault)
    assert {"nosoft", "hygiene"} <= seen


def test_only_the_anchored_vault_gets_a_physical_location(emu, tmp_path):
    (tmp_path / "kv.bicep").write_text(BICEP)
    document = sarif(emu, "--sarif-anchor", "nosoft=kv.bicep:4")
    for result in document["runs"][0]["results"]:
        physical = result["locations"][0].get("physicalLocation")
        if result["properties"]["vault"] == "nosoft":
            assert physical["region"]["startLine"] == 4
        else:
            assert physical is None


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--sarif-anchor", "missing.bicep"], "cannot read missing.bicep"),
        (["--sarif-anchor", "kv.bicep:99"], "has 6 line(s), not 99"),
        (["--sarif-anchor", "kv.bicep:0"], "lines count from 1"),
        (["--sarif-anchor", "../outside.bicep"], "is outside"),
        (["--sarif-anchor", "kv.bicep", "--sarif-anchor", "kv.bicep:2"], "given twice"),
        (["--sarif-anchor", "kv.bicep", "-o", "json"], "only applies with -o sarif"),
    ],
)
def test_bad_anchors_are_refused_before_any_request(tmp_path, args, says):
    (tmp_path / "kv.bicep").write_text(BICEP)
    (tmp_path.parent / "outside.bicep").write_text(BICEP)
    output = [] if "-o" in args else ["-o", "sarif"]
    # an unreachable vault: a request would end in exit 7, not 2
    result = run_kvctl(["--vault", "https://127.0.0.1:1", "check", *output, *args])
    assert result.exit_code == 2, result.stderr
    assert says in result.stderr and result.stderr.startswith("kvctl: error: ")
    assert len(result.stderr.strip().splitlines()) <= 2 and result.stdout == ""
