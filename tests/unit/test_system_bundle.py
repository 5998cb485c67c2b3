"""A CA bundle is read through the system's hashed directory instead of parsed whole only when it
is the system bundle itself (core/trust.system_directory_for): any other bundle is loaded as is."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest

from kvctl.core.trust import system_capath, system_directory_for


def test_a_bundle_that_is_not_the_systems_is_never_swapped_for_the_directory(tmp_path):
    paths = ssl.get_default_verify_paths()
    copy = tmp_path / "copy-of-the-system-bundle.pem"
    if paths.openssl_cafile and os.path.exists(paths.openssl_cafile):
        copy.write_bytes(Path(paths.openssl_cafile).read_bytes())  # same CAs, another file: loaded as is
    else:
        copy.write_text("")
    assert system_directory_for(str(copy)) is None


def test_the_system_bundle_is_read_through_the_directory_where_both_exist():
    paths = ssl.get_default_verify_paths()
    if not (system_capath() and paths.openssl_cafile and os.path.exists(paths.openssl_cafile)):
        pytest.skip("this machine has no system bundle and hashed directory pair")
    if not os.path.samefile(system_capath(), paths.openssl_capath):
        pytest.skip("SSL_CERT_DIR names another directory than OpenSSL's own")
    assert system_directory_for(paths.openssl_cafile) == system_capath()
