"""Findings as SARIF 2.1.0, for code-scanning upload (GitHub, Azure DevOps).

A finding is about a vault or a secret in Azure, not a line of code, so its location is logical
(the ARM id or the secret's URL as `logicalLocations`). An ARM id must not pose as a relative URI
(the SARIF multitool's SARIF1004). GitHub code scanning, however, shows only results located in a
file of the repository: like IaC scanners, which point at the template that defines a resource,
an *anchor* (a repository file, e.g. the Bicep or Terraform defining the vault, and a line) gives
each result a physical location too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .checks import RULES, Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"FAIL": "error", "WARN": "warning", "INFO": "note"}
INFORMATION_URI = "https://github.com/kvctl/kvctl"
SRCROOT = "%SRCROOT%"
_SPEC = re.compile(r"\A(?:(?P<vault>[A-Za-z0-9-]{1,127})=)?(?P<path>.+?)(?::(?P<line>[0-9]+))?\Z", re.DOTALL)


@dataclass(frozen=True)
class Anchor:
    """A place in a repository file that findings point at: `uri` relative to the source root."""

    uri: str
    start_line: int
    end_column: int


@dataclass(frozen=True)
class AnchorSpec:
    """`[VAULT=]FILE[:LINE]` as given: for every vault (vault None) or for one."""

    vault: str | None
    path: str
    line: int | None


def parse_anchor(text: str) -> AnchorSpec:
    match = _SPEC.match(text)
    if not match or not match.group("path").strip():
        raise ValueError(f"{text!r} is not [VAULT=]FILE[:LINE]")
    line = match.group("line")
    if line is not None and int(line) < 1:
        raise ValueError(f"line {line} in {text!r}: lines count from 1")
    return AnchorSpec(match.group("vault"), match.group("path"), int(line) if line else None)


def resolve_anchor(spec: AnchorSpec, root: Path, vault_name: str | None = None) -> Anchor:
    """Check the file and line exist under `root` (the checkout); without a line, the first line
    that names the vault (where its template defines it), else line 1."""
    path = (root / spec.path).resolve()
    try:
        relative = path.relative_to(root.resolve())
    except ValueError:
        raise ValueError(f"{spec.path} is outside {root} (give a file of the repository)") from None
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines() or [""]
    except OSError as exc:
        raise ValueError(f"cannot read {spec.path}: {exc.strerror or exc}") from None
    line = spec.line
    if line is None:
        name = vault_name or spec.vault
        line = next((i for i, text in enumerate(lines, 1) if name and name.lower() in text.lower()), 1)
    if line > len(lines):
        raise ValueError(f"{spec.path} has {len(lines)} line(s), not {line}")
    return Anchor(PurePosixPath(*relative.parts).as_posix(), line, len(lines[line - 1]) + 1)


def _fingerprint(finding: Finding) -> str:
    return hashlib.sha256(f"{finding.rule}|{finding.resource.lower()}".encode()).hexdigest()[:32]


def _help(description: str, references: tuple[str, ...]) -> str:
    """The rule's description and, where they exist, the matching Azure Policy / PSRule / Prowler checks."""
    text = _sentence(description)
    return f"{text} Matches: {'; '.join(references)}." if references else text


def _rule_name(title: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", title) if word)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _logical_location(resource: str) -> dict[str, Any]:
    return {
        "name": resource.rstrip("/").rsplit("/", 1)[-1],
        "fullyQualifiedName": resource,
        "kind": "resource",
    }


def _location(finding: Finding, anchor: Anchor | None) -> dict[str, Any]:
    location: dict[str, Any] = {"logicalLocations": [_logical_location(finding.resource)]}
    if anchor is not None:
        location["physicalLocation"] = {
            "artifactLocation": {"uri": anchor.uri, "uriBaseId": SRCROOT},
            "region": {
                "startLine": anchor.start_line,
                "startColumn": 1,
                "endLine": anchor.start_line,
                "endColumn": anchor.end_column,
            },
        }
    return location


def to_sarif(
    findings: Sequence[Finding],
    version: str,
    *,
    category: str = "all",
    anchors: Mapping[str | None, Anchor] | None = None,
    source_root: Path | None = None,
) -> dict[str, Any]:
    """The SARIF log. `anchors` maps a vault name (or None, for every other vault) to an anchor;
    `source_root` is the checkout the anchors' URIs are relative to."""
    anchors = anchors or {}
    rule_ids = sorted(RULES)
    rules = [
        {
            "id": rule_id,
            "name": _rule_name(RULES[rule_id].title),
            "shortDescription": {"text": _sentence(RULES[rule_id].title)},
            "fullDescription": {"text": _sentence(RULES[rule_id].description)},
            "defaultConfiguration": {"level": LEVELS[RULES[rule_id].severity]},
            "help": {"text": _help(RULES[rule_id].description, RULES[rule_id].references)},
            "helpUri": f"{INFORMATION_URI}#check-vault-settings-and-secret-hygiene",
        }
        for rule_id in rule_ids
    ]
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": rule_ids.index(f.rule),
            "level": LEVELS[f.severity],
            "message": {"text": f"{_sentence(f.message)} Resource: {f.resource}. Fix: {_sentence(f.remedy)}"},
            "locations": [_location(f, anchors.get(f.vault, anchors.get(None)))],
            "partialFingerprints": {"kvctlFinding/v1": _fingerprint(f)},
            "properties": {"vault": f.vault, "severity": f.severity, "remedy": f.remedy, "resource": f.resource},
        }
        for f in findings
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "kvctl",
                "fullName": f"kvctl {version} (Azure Key Vault settings and secret hygiene checks)",
                "version": version,
                "semanticVersion": version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        # Code scanning keeps one set of alerts per category: one per vault (or --all) checked.
        "automationDetails": {"id": f"kvctl/check/{category}/"},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if anchors and source_root is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": source_root.resolve().as_uri().rstrip("/") + "/"}}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
