"""Secrets for CI pipelines, masked before they are set.

GitHub Actions (`github`): `::add-mask::LINE` on stdout for every line of every value, before
anything else, then for each variable, appended to the file named by $GITHUB_ENV:

    NAME<<ghadelimiter_<random hex>
    value lines
    ghadelimiter_<random hex>

The runner takes the text between the two lines, without the line end before the closing
delimiter; the delimiter is fresh for every variable and checked not to occur in the value. A
value ending in a carriage return cannot be written (the runner reads `\\r\\n` before the
delimiter as the line end) and is refused.

Azure Pipelines (`azure-devops`): `##vso[task.setvariable variable=NAME;issecret=true]VALUE` on
stdout. The agent decodes `%0D`, `%0A`, `%3B` and `%5D` in a command's data (and, depending on
the agent's version and DECODE_PERCENTS, `%AZP25`, `%VSTS` or `%25` as `%`), so CR and LF are
written as `%0D` and `%0A` and a value that itself contains one of those sequences is refused,
since no escape reads back the same on every agent. Each line of a multi-line value is also
registered with `##vso[task.setsecret]`, so that logs printing it line by line stay masked.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

_LINES = re.compile(r"\r\n|\r|\n")
_AZURE_DECODED = re.compile(r"%(?:0D|0A|3B|5D|25|AZP25|VSTS)", re.IGNORECASE)


def _github_data(text: str) -> str:
    """A workflow command's data, escaped as the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_masks(variables: Mapping[str, str]) -> str:
    lines: list[str] = []
    for value in variables.values():
        for line in _LINES.split(value):
            if line.strip() and line not in lines:
                lines.append(line)
    return "".join(f"::add-mask::{_github_data(line)}\n" for line in lines)


def github_refusal(value: str) -> str | None:
    if value.endswith("\r"):
        return "it ends in a carriage return, which the runner reads as part of the line end"
    return None


def github_env(variables: Mapping[str, str]) -> str:
    parts = []
    for name, value in variables.items():
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in value:  # a 128-bit collision; checked all the same
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        parts.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(parts)


def azure_refusal(value: str) -> str | None:
    found = _AZURE_DECODED.search(value)
    if found:
        return f"it contains {found.group(0)}, which Azure Pipelines agents decode"
    return None


def _azure_data(text: str) -> str:
    return text.replace("\r", "%0D").replace("\n", "%0A")


def azure_devops(variables: Mapping[str, str]) -> str:
    out: list[str] = []
    for name, value in variables.items():
        lines = [line for line in _LINES.split(value) if line.strip()]
        if len(lines) > 1:
            out += [f"##vso[task.setsecret]{line}\n" for line in lines]
        out.append(f"##vso[task.setvariable variable={name};issecret=true]{_azure_data(value)}\n")
    return "".join(out)
