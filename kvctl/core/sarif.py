"""Findings as SARIF 2.1.0, for code-scanning upload (GitHub, Azure DevOps)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from .checks import RULES, Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"FAIL": "error", "WARN": "warning", "INFO": "note"}
INFORMATION_URI = "https://github.com/kvctl/kvctl"


def _fingerprint(finding: Finding) -> str:
    return hashlib.sha256(f"{finding.rule}|{finding.resource.lower()}".encode()).hexdigest()[:32]


def to_sarif(findings: Sequence[Finding], version: str) -> dict[str, Any]:
    rule_ids = sorted(RULES)
    rules = [
        {
            "id": rule_id,
            "name": RULES[rule_id].title.replace(" ", ""),
            "shortDescription": {"text": RULES[rule_id].title},
            "fullDescription": {"text": RULES[rule_id].description},
            "defaultConfiguration": {"level": LEVELS[RULES[rule_id].severity]},
            "help": {"text": RULES[rule_id].description},
        }
        for rule_id in rule_ids
    ]
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": rule_ids.index(f.rule),
            "level": LEVELS[f.severity],
            "message": {"text": f"{f.message}. Fix: {f.remedy}"},
            "locations": [
                {
                    "physicalLocation": {"artifactLocation": {"uri": f.resource}},
                    "logicalLocations": [{"fullyQualifiedName": f.resource, "kind": "resource"}],
                }
            ],
            "partialFingerprints": {"kvctlFinding/v1": _fingerprint(f)},
            "properties": {"vault": f.vault, "severity": f.severity, "remedy": f.remedy},
        }
        for f in findings
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kvctl",
                        "version": version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
