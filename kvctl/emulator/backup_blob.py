"""Backup blobs: opaque and encrypted, like the service's, so a backup file never shows a value.

They can be restored into any vault of the same emulator (the service's rule: same
subscription and geography), since the key belongs to the emulator's state.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .store import SecretVersion, Store

_MAGIC = b"KVEMU1"
_NONCE = 12


def _key(store: Store) -> bytes:
    return base64.b64decode(store.meta_or_set("backup_key", lambda: base64.b64encode(os.urandom(32)).decode()))


def seal(store: Store, name: str, versions: list[SecretVersion]) -> str:
    payload = json.dumps(
        {"name": name, "versions": [dataclasses.asdict(v) for v in versions]}, separators=(",", ":")
    ).encode()
    nonce = os.urandom(_NONCE)
    blob = _MAGIC + nonce + AESGCM(_key(store)).encrypt(nonce, payload, _MAGIC)
    return base64.urlsafe_b64encode(blob).rstrip(b"=").decode()


def unseal(store: Store, text: str) -> tuple[str, list[SecretVersion]]:
    """The name and versions inside a blob; ValueError for anything else."""
    try:
        blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        if not blob.startswith(_MAGIC):
            raise ValueError("not a backup blob")
        nonce = blob[len(_MAGIC) : len(_MAGIC) + _NONCE]
        data = json.loads(AESGCM(_key(store)).decrypt(nonce, blob[len(_MAGIC) + _NONCE :], _MAGIC))
        return str(data["name"]), [SecretVersion(**v) for v in data["versions"]]
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError("corrupt backup blob") from exc
