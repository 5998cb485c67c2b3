"""The Azure SDK for Python's own secrets test suite (shipped in the azure-keyvault-secrets
sdist), in live mode, against the emulator, with our stand-in for its `devtools_testutils`.

The sdist is downloaded (once) into a cache outside the checkout. Its live tests' minute-long
waits for the service to finish a purge are skipped (harness/kvctl_sdk_waits.py): this emulator
finishes a purge before it answers. Tests that cannot pass against any emulator are listed in
SKIPPED with the reason; everything else must pass.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

HARNESS = Path(__file__).parent / "harness"
CACHE = Path(os.environ.get("KVCTL_SDK_SUITE_CACHE") or Path(tempfile.gettempdir()) / "kvctl-sdk-suite-cache")

# Test id substring -> why it cannot run against the emulator.
SKIPPED = {
    "perfstress_tests": "performance scenarios for azure-devtools' perfstress runner, not tests",
}


def _sdist_tests() -> Path:
    version = importlib.metadata.version("azure-keyvault-secrets")
    root = CACHE / f"azure_keyvault_secrets-{version}"
    tests = root / "tests"
    if tests.is_dir():
        return tests
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"azure_keyvault_secrets-{version}.tar.gz"
    if not archive.exists():
        # The project's venv has no pip; uvx runs one in a throwaway environment.
        for pip in ([sys.executable, "-m", "pip"], ["uvx", "pip"]):
            if shutil.which(pip[0]) is None:
                continue
            done = subprocess.run(
                [
                    *pip,
                    "download",
                    "--no-binary",
                    ":all:",
                    "--no-deps",
                    f"azure-keyvault-secrets=={version}",
                    "-d",
                    str(CACHE),
                    "-q",
                ],
                capture_output=True,
                check=False,
            )
            if done.returncode == 0 and archive.exists():
                break
        else:
            pytest.skip(f"SDK SUITE NOT RUN: cannot download the azure-keyvault-secrets {version} sdist")
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data")
    return tests


@pytest.mark.slow
@pytest.mark.timeout(600)  # the hang guard; a thousand tests on a shared machine can take over 120 s
def test_the_sdks_own_secrets_suite_passes_against_the_emulator(fresh_emulator, tmp_path):
    tests = _sdist_tests()
    emulator = fresh_emulator()
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\n")
    report = tmp_path / "report.xml"
    deselect = " or ".join(SKIPPED)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "KEYVAULT_", "MSI_", "IDENTITY_"))},
        "AZURE_KEYVAULT_URL": emulator.vault_url,
        "AZURE_TEST_RUN_LIVE": "true",
        "IDENTITY_ENDPOINT": emulator.info["identityEndpoint"],
        "IDENTITY_HEADER": emulator.info["identityHeader"],
        "KVCTL_SDK_SUITE_CA": emulator.info["caFile"],
        "PYTHONPATH": os.pathsep.join([str(HARNESS), str(tests)]),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-c",
            str(ini),
            "--rootdir",
            str(tests),
            "-p",
            "no:cacheprovider",
            "-p",
            "kvctl_sdk_asyncio",
            "-p",
            "kvctl_sdk_waits",
            # One process: the outer suite's workers already use the cores, and most of a second
            # worker's time would go to importing what the first has imported.
            "-p",
            "no:xdist",
            "-k",
            f"not ({deselect})",
            f"--junitxml={report}",
            str(tests),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    suite = ET.parse(report).getroot()
    suite = suite.find("testsuite") if suite.tag == "testsuites" else suite
    assert suite is not None
    total, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    passed = total - failures - errors - skipped
    print(f"SDK secrets suite: {passed} passed, {failures} failed, {errors} errors, {skipped} skipped")
    assert failures == 0 and errors == 0, done.stdout[-6000:]
    assert passed > 100, done.stdout[-3000:]
