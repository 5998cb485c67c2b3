"""Secrets as a process environment: which variables `run` sets and `export` writes, and from where.

Sources, later ones winning: every secret under `--prefix` (named by `env_name` of the name
with the prefix stripped), then each `--env-file` in order, then each `--env VAR=REF`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import ciformat, validate
from .backend import BackendFactory
from .bulk import Listing, fetch_bulk
from .clouds import CLOUDS, Cloud, is_azure_vault_host, is_loopback, parse_netloc
from .envformat import PORTABLE, Unwritable, dotenv_quote, env_name, nul_refusal, parse_dotenv, shell_line
from .errors import PartialFailure, UsageError
from .loader_names import loads_code
from .models import Secret
from .refs import SCHEME, SecretRef, parse_ref

RUN_DEPTH_VAR = "_KVCTL_RUN_DEPTH"
# What a --pristine child keeps from kvctl's own environment, so that ordinary programs still
# start: where to find them, who and where the user is, and how text is encoded.
PRISTINE_KEEP = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_ALL", "TZ", "TMPDIR")
EXPORT_FORMATS = ("dotenv", "json", "shell", "github", "azure-devops")


@dataclass(frozen=True)
class EnvEntry:
    """One variable from an env file or `--env`: a reference to resolve, or a plain value."""

    var: str
    source: str
    ref: SecretRef | None = None
    value: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Resolved:
    variables: dict[str, str] = field(repr=False)
    sources: dict[str, str]  # variable -> where its value came from (for messages; never the value)
    secrets: int  # how many distinct secrets were fetched
    matched: int  # how many of them the prefix found
    skipped: tuple[tuple[str, str], ...] = ()  # (variable, secret name) left out: it loads code


def is_reference(text: str) -> bool:
    """In an env file, only `akv://…` and Key Vault secret identifiers are references; any other
    value (including other https URLs) is passed through unchanged."""
    given = text.strip()
    if given.lower().startswith(SCHEME):
        return True
    if not given.lower().startswith("https://"):
        return False
    parts = urlsplit(given)
    parsed = parse_netloc(parts.netloc)
    if parsed is None:
        return False
    host = parsed.host
    vault_host = is_loopback(host) or any(is_azure_vault_host(host, c) for c in CLOUDS.values())
    return vault_host and parts.path.lower().startswith("/secrets/")


def entries_from_env_file(text: str, source: str, default_vault: str | None, cloud: Cloud) -> list[EnvEntry]:
    entries = []
    for var, value, line in parse_dotenv(text, source):
        where = f"{source}:{line}"
        if is_reference(value):
            entries.append(EnvEntry(var, where, ref=_parse(value, where, default_vault, cloud)))
        else:
            entries.append(EnvEntry(var, where, value=value))
    return entries


def entry_from_option(text: str, default_vault: str | None, cloud: Cloud) -> EnvEntry:
    """`--env VAR=REF`: here REF may also be a bare secret name (in --vault)."""
    var, sep, ref = text.partition("=")
    if not sep or not ref.strip():
        raise UsageError(f"invalid --env {text!r}", hint="use --env VAR=REF, e.g. --env DB_PASSWORD=db-password")
    validate.env_var_name(var)
    return EnvEntry(var, f"--env {var}", ref=_parse(ref, f"--env {var}", default_vault, cloud))


def _parse(text: str, where: str, default_vault: str | None, cloud: Cloud) -> SecretRef:
    try:
        return parse_ref(text, default_vault, cloud)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}", exc.hint) from None


def variable_names(secrets: Sequence[Secret], prefix: str | None) -> dict[str, Secret]:
    """Variable name -> secret: upper-case, `-` -> `_`, the prefix (and a `-` after it) stripped
    where it ends a word: `--prefix app` gives `app-db` -> `DB` but `application-key` ->
    `APPLICATION_KEY` (not `LICATION_KEY`). Two secrets mapping to one variable is an error that
    lists every such collision."""
    by_var: dict[str, list[Secret]] = {}
    empty: list[str] = []
    for secret in secrets:
        rest = _without_prefix(secret.name, prefix) if prefix else secret.name
        if not rest:
            empty.append(secret.name)
            continue
        by_var.setdefault(env_name(rest), []).append(secret)
    clashes = [f"${var} <- {', '.join(s.name for s in group)}" for var, group in by_var.items() if len(group) > 1]
    problems = clashes + [f"'{name}' leaves no variable name once the prefix is stripped" for name in empty]
    if problems:
        raise UsageError(
            "secret names do not map to distinct environment variables: " + "; ".join(problems),
            hint="rename a secret, narrow --prefix, or map the others one by one with --env VAR=REF",
        )
    return {var: group[0] for var, group in by_var.items()}


def _without_prefix(name: str, prefix: str) -> str:
    rest = name[len(prefix) :]
    if rest and not prefix.endswith("-") and not rest.startswith("-"):
        return name  # the prefix ends inside a word: the whole name says more than its tail
    return rest.lstrip("-")


def without_loader_names(by_var: dict[str, Secret]) -> tuple[dict[str, Secret], tuple[tuple[str, str], ...]]:
    """Names derived from secret names never set what changes how programs load code
    (`loader_names`); returns the rest and the (variable, secret name) pairs left out."""
    kept = {var: secret for var, secret in by_var.items() if not loads_code(var)}
    skipped = tuple((var, secret.name) for var, secret in by_var.items() if loads_code(var))
    return kept, skipped


def resolve(
    factory: BackendFactory,
    entries: Sequence[EnvEntry],
    listing: Listing | None,
    prefix: str | None,
    *,
    concurrency: int,
    on_fetched: Callable[[int], None] | None = None,
) -> Resolved:
    """Fetch everything at once (all or nothing), then lay the sources over each other."""
    refs = [e.ref for e in entries if e.ref is not None]
    try:
        fetched = fetch_bulk(factory, refs, listing=listing, concurrency=concurrency, on_fetched=on_fetched)
    except PartialFailure as exc:
        exc.hint = "the command was not started; fix or leave out the secrets above"
        raise
    variables: dict[str, str] = {}
    sources: dict[str, str] = {}
    from_prefix, skipped = without_loader_names(variable_names(fetched.matched, prefix))
    for var, secret in from_prefix.items():
        variables[var] = secret.value or ""
        sources[var] = f"secret '{secret.name}'"
    values = iter(fetched.referenced)
    for entry in entries:
        value = next(values).value if entry.ref is not None else entry.value
        variables[entry.var] = value or ""
        sources[entry.var] = entry.source
    for var, value in variables.items():
        if "\0" in value:
            raise UsageError(f"the value for ${var} ({sources[var]}) contains a NUL byte; no environment can hold it")
    return Resolved(variables, sources, fetched.count, len(fetched.matched), skipped)


def refuse_nested(environ: Mapping[str, str]) -> None:
    if RUN_DEPTH_VAR in environ:
        raise UsageError(
            "kvctl run inside kvctl run",
            hint=f"the secrets are already in this environment; run the command directly (or unset {RUN_DEPTH_VAR})",
        )


def child_environment(
    environ: Mapping[str, str], variables: Mapping[str, str], *, pristine: bool
) -> tuple[dict[str, str], list[str]]:
    """The child's environment, and the inherited variables that a secret replaces."""
    base = {k: environ[k] for k in PRISTINE_KEEP if k in environ} if pristine else dict(environ)
    overridden = [var for var in variables if var in base and base[var] != variables[var]]
    return {**base, **variables, RUN_DEPTH_VAR: "1"}, overridden


@dataclass(frozen=True)
class ExportText:
    text: str = field(repr=False)  # stdout, or the file's content (github: what GITHUB_ENV gets)
    masks: str = field(default="", repr=False)  # github: the ::add-mask:: lines, printed first
    refused: tuple[tuple[str, str], ...] = ()  # (variable, why no line reads back exactly)


def render_export(variables: Mapping[str, str], fmt: str, dialect: str = PORTABLE) -> ExportText:
    """Every variable in the format; a value that the format's reader would misread is refused
    (listed in `refused`, with no text written for any)."""
    if fmt == "json":
        return ExportText(json.dumps(dict(variables), indent=2) + "\n")
    refused: list[tuple[str, str]] = []
    lines: list[str] = []
    for var, value in variables.items():
        reason = nul_refusal(value)  # in every format but JSON, which writes \u0000
        if reason:
            refused.append((var, reason))
            continue
        if fmt == "shell":
            lines.append(shell_line(var, value))
        elif fmt == "dotenv":
            try:
                lines.append(f"{var}={dotenv_quote(value, dialect)}\n")
            except Unwritable as exc:
                reason = str(exc)
        elif fmt == "github":
            reason = ciformat.github_refusal(value)
        else:
            reason = ciformat.azure_refusal(value)
        if reason:
            refused.append((var, reason))
    if refused:
        return ExportText("", refused=tuple(refused))
    if fmt == "github":
        return ExportText(ciformat.github_env(variables), masks=ciformat.github_masks(variables))
    if fmt == "azure-devops":
        return ExportText(ciformat.azure_devops(variables))
    return ExportText("".join(lines))


def export_text(variables: Mapping[str, str], fmt: str, dialect: str = PORTABLE) -> str:
    rendered = render_export(variables, fmt, dialect)
    if rendered.refused:
        raise UsageError("; ".join(f"${var}: {why}" for var, why in rendered.refused))
    return rendered.text
