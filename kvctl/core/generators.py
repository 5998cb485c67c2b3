"""New secret values from the operating system's CSPRNG (`secrets`), for `kvctl rotate`.

- password: characters from the requested classes, at least one from each. Drawn uniformly from
  their union and redrawn until every class is present, so every valid password is equally likely
  (placing one of each class first would favour the smaller classes).
- base64: LENGTH random bytes in standard base64 with padding, as `openssl rand -base64 N` prints.
- hex: LENGTH hexadecimal characters (lower case).
- uuid: a random (version 4) UUID; it takes no length.
"""

from __future__ import annotations

import base64
import secrets
import string
import uuid
from dataclasses import dataclass

from .errors import UsageError

KINDS = ("password", "base64", "hex", "uuid")
# Punctuation that means nothing special inside shell double quotes or most string literals:
# no quotes, backslash, backtick, '$' or space, so a generated password can be pasted anywhere.
SYMBOLS = "!#%&()*+,-./:;<=>?@[]^_{|}~"
CLASSES: dict[str, str] = {
    "lower": string.ascii_lowercase,
    "upper": string.ascii_uppercase,
    "digits": string.digits,
    "symbols": SYMBOLS,
}
DEFAULT_LENGTH = {"password": 32, "base64": 32, "hex": 64}
MAX_LENGTH = 4096


@dataclass(frozen=True)
class GeneratorSpec:
    kind: str = "password"
    length: int | None = None
    classes: tuple[str, ...] = tuple(CLASSES)

    @property
    def effective_length(self) -> int | None:
        return self.length if self.length is not None else DEFAULT_LENGTH.get(self.kind)


def parse_classes(text: str) -> tuple[str, ...]:
    """`lower,upper,digits,symbols` (any subset, any order) to a de-duplicated tuple."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in CLASSES]
    if unknown or not names:
        raise UsageError(
            f"invalid character classes {text!r}",
            hint=f"use a comma-separated subset of: {', '.join(CLASSES)}",
        )
    return tuple(dict.fromkeys(names))


def check(spec: GeneratorSpec) -> GeneratorSpec:
    """Refuse what cannot be generated, before anything else happens."""
    if spec.kind not in KINDS:
        raise UsageError(f"unknown generator {spec.kind!r}", hint=f"use one of: {', '.join(KINDS)}")
    if spec.kind == "uuid":
        if spec.length is not None:
            raise UsageError("--length does not apply to --generator uuid", hint="a UUID is always 36 characters")
    elif spec.length is not None and not 1 <= spec.length <= MAX_LENGTH:
        raise UsageError(f"--length {spec.length} is out of range", hint=f"use 1-{MAX_LENGTH}")
    if spec.kind != "password" and spec.classes != tuple(CLASSES):
        raise UsageError("--classes applies only to --generator password")
    if spec.kind == "password":
        parse_classes(",".join(spec.classes))
        length = spec.effective_length or 0
        if length < len(spec.classes):
            raise UsageError(
                f"a password of {length} characters cannot hold one character from each of "
                f"{len(spec.classes)} classes ({', '.join(spec.classes)})",
                hint=f"use --length {len(spec.classes)} or more, or fewer --classes",
            )
    return spec


def generate(spec: GeneratorSpec) -> str:
    check(spec)
    length = spec.effective_length
    if spec.kind == "uuid":
        return str(uuid.uuid4())  # os.urandom underneath, as `secrets`
    assert length is not None
    if spec.kind == "hex":
        return secrets.token_hex((length + 1) // 2)[:length]
    if spec.kind == "base64":
        return base64.b64encode(secrets.token_bytes(length)).decode("ascii")
    return _password(length, [CLASSES[name] for name in spec.classes])


def _password(length: int, classes: list[str]) -> str:
    alphabet = "".join(classes)
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(ch in group for ch in candidate) for group in classes):
            return candidate
