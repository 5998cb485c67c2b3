"""Reference readers, written from each consumer's documentation, for the files kvctl writes for
programs that cannot run here (Docker Compose, the GitHub Actions runner, the Azure Pipelines
agent). Each follows the documented rules only, and says which."""

from __future__ import annotations

import os
import re

# -- Docker Compose `.env` files ---------------------------------------------------------------
# From "Syntax for environment files in Docker Compose" (docs.docker.com/compose/env-file/):
# - lines beginning with # are comments; blank lines are ignored; `export ` may prefix a line;
# - unquoted and double-quoted values are interpolated ($VAR, ${VAR}; $$ is a literal $);
# - an inline comment of an unquoted value is preceded by a space, of a quoted one it follows
#   the closing quote; unquoted values are trimmed;
# - single-quoted values are used literally, except that a quote can be escaped with \ ;
# - in double quotes \n, \r, \t, \\ and \" are escapes (other backslashes are kept);
# - quoted values may span lines.
# CRLF line ends are read as LF (Compose is used with files edited on Windows too), so a raw CR
# in a value is not kept: kvctl never writes one.

_COMPOSE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}
_INTERPOLATION = re.compile(r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")


def _interpolate(value: str, env: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        if match.group(1) == "$":
            return "$"
        return env.get(match.group(2) or match.group(3), os.environ.get(match.group(2) or match.group(3), ""))

    return _INTERPOLATION.sub(sub, value)


def read_compose_env(text: str) -> dict[str, str]:
    text = text.replace("\r\n", "\n")
    env: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        line_end = text.find("\n", i)
        line_end = n if line_end == -1 else line_end
        line = text[i:line_end]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            i = line_end + 1
            continue
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*", line)
        if not match:
            raise ValueError(f"not a NAME=VALUE line: {line!r}")
        name, i = match.group(1), i + match.end()
        quote = text[i] if i < n else ""
        if quote in ("'", '"'):
            chars: list[str] = []
            i += 1
            while True:
                if i >= n:
                    raise ValueError(f"unterminated quoted value for {name}")
                ch = text[i]
                if ch == "\\" and i + 1 < n:
                    nxt = text[i + 1]
                    if nxt == quote:
                        chars.append(quote)
                        i += 2
                        continue
                    if quote == '"' and nxt in _COMPOSE_ESCAPES:
                        chars.append(_COMPOSE_ESCAPES[nxt])
                        i += 2
                        continue
                if ch == quote:
                    i += 1
                    break
                chars.append(ch)
                i += 1
            value = "".join(chars)
            if quote == '"':
                value = _interpolate(value, env)
            rest_end = text.find("\n", i)
            rest_end = n if rest_end == -1 else rest_end
            rest = text[i:rest_end].strip()
            if rest and not rest.startswith("#"):
                raise ValueError(f"text after the closing quote of {name}: {rest!r}")
            i = rest_end + 1
        else:
            raw = text[i:line_end]
            raw = re.split(r"\s#", raw, maxsplit=1)[0]
            value = _interpolate(raw.strip(), env)
            i = line_end + 1
        env[name] = value
    return env


# -- GitHub Actions: the file named by $GITHUB_ENV ---------------------------------------------
# From "Workflow commands for GitHub Actions" (Setting an environment variable; Multiline
# strings): each line is `NAME=VALUE`, or `NAME<<DELIMITER` followed by the value's lines and a
# line that is exactly DELIMITER. The value is the text between the two, without the line end
# before the delimiter line (LF or CRLF, as the runner reads lines). A missing delimiter line is
# an error.


def read_github_env(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    # Only LF ends a line for the runner (str.splitlines would also split at \x1e, \x85, ...).
    lines = [part + "\n" for part in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\n").removesuffix("\r") if lines[index].endswith("\n") else lines[index]
        index += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq >= 0 and (heredoc < 0 or eq < heredoc):
            name, _, value = line.partition("=")
            env[name] = value
            continue
        if heredoc < 0:
            raise ValueError(f"invalid line {line!r}")
        name, _, delimiter = line.partition("<<")
        if not name or not delimiter:
            raise ValueError(f"invalid heredoc line {line!r}")
        body: list[str] = []
        while True:
            if index >= len(lines):
                raise ValueError(f"matching delimiter not found {delimiter!r}")
            raw = lines[index]
            index += 1
            if not raw.endswith("\n") and raw == delimiter:
                raise ValueError("EOF marker missing new line")
            if raw.rstrip("\n").removesuffix("\r") == delimiter:
                break
            body.append(raw)
        value = "".join(body)
        value = value.removesuffix("\n").removesuffix("\r") if value.endswith("\n") else value
        env[name] = value
    return env


# -- GitHub Actions: `::add-mask::` on stdout --------------------------------------------------
# Workflow command data is escaped: % -> %25, CR -> %0D, LF -> %0A; the runner unescapes it.


def github_masks(stdout: str) -> list[str]:
    masks = []
    for line in stdout.split("\n"):
        line = line.removesuffix("\r")
        if line.startswith("::add-mask::"):
            data = line.removeprefix("::add-mask::")
            masks.append(data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%"))
    return masks


# -- Azure Pipelines: `##vso[task.setvariable ...]VALUE` on stdout -----------------------------
# From "Logging commands" and the agent's documented escaping: in a command's data the agent
# decodes %0D -> CR, %0A -> LF, %3B -> ;, %5D -> ] (and, on agents with percent decoding,
# %AZP25 -> %). One command per line.

_AZURE_DECODE = {"%0D": "\r", "%0A": "\n", "%3B": ";", "%5D": "]", "%AZP25": "%"}


def read_azure_devops(stdout: str) -> dict[str, tuple[str, dict[str, str]]]:
    variables: dict[str, tuple[str, dict[str, str]]] = {}
    for line in stdout.split("\n"):
        match = re.match(r"##vso\[task\.setvariable ([^\]]*)\](.*)\Z", line)
        if not match:
            continue
        props = dict(p.split("=", 1) for p in match.group(1).split(";") if p)
        value = re.sub(r"%0D|%0A|%3B|%5D|%AZP25", lambda m: _AZURE_DECODE[m.group(0)], match.group(2))
        variables[props["variable"]] = (value, props)
    return variables
