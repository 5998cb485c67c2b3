"""The documented round-trip matrix (README, "Secrets for your app"): which values each dotenv
dialect refuses, and why. Every other value must be read back exactly by that dialect's readers.
Pinned here so that a refusal can neither appear nor disappear unnoticed."""

from __future__ import annotations

DIALECT_KEYS = ("portable", "python-dotenv", "node", "compose", "shell")
CI_FORMATS = ("github", "azure-devops")
DIALECT_READERS = {
    "portable": ("python-dotenv", "npm dotenv", "compose", "bash", "dash"),
    "python-dotenv": ("python-dotenv",),
    "node": ("npm dotenv",),
    "compose": ("compose",),
    "shell": ("bash", "dash", "zsh"),
}

_INTERPOLATED = {"${HOME}", "${VAR}", "${VAR:-default}"}
REFUSED: dict[str, dict[str, str]] = {
    "portable": {
        **dict.fromkeys(_INTERPOLATED, "${...}: python-dotenv expands it in any quoting"),
        **dict.fromkeys(
            ["line\r\nbreak", "crlf\r\nline", "ends in cr\r"],
            "carriage return: python-dotenv and npm dotenv read it as a newline",
        ),
        **dict.fromkeys(
            ["trailing\\", "\\\\", "a\\\\b"],
            "\\\\ or a final \\: python-dotenv or Compose read it differently in single quotes",
        ),
        **dict.fromkeys(
            ['it\'s "both" $x `y`', "'\"", "\\'", "it's \\n"],
            "' together with \\, \", $ or `: no quoting keeps both for every consumer",
        ),
    },
    "python-dotenv": dict.fromkeys(_INTERPOLATED, "${...}: python-dotenv expands it in any quoting"),
    "node": {
        **dict.fromkeys(["trailing\\", "\\\\"], "a final \\: npm dotenv may take the closing quote as escaped"),
        'it\'s "both" $x `y`': "all three quote characters and no escape for them",
    },
    "compose": {},
    "shell": {},
    "github": {"ends in cr\r": "a final carriage return: the runner takes it as part of the line end"},
    "azure-devops": {"%0A%3B%AZP25": "%0A, %3B, %AZP25: the agent decodes them"},
}


def refused_in(dialect: str, value: str) -> bool:
    return value in REFUSED[dialect]
