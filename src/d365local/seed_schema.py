"""The seed file's schema: which keys a seed file may hold, and what is wrong with one that does not fit.

A misspelt key (``secret:`` for ``secrets:``) must not be ignored in silence — the app would come up without its
secret and the failure would surface far away, as AADSTS7000215. So the whole document is checked against a JSON
Schema before anything is applied, and every problem is reported with the path of the bad key
(``tenants[0].apps[0].secret``) and, for an unknown key, the known key it most resembles.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

_STRINGS = {"type": "array", "items": {"type": "string"}}


def _object(properties: dict[str, Any], *, required: Iterable[str] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


APPLICATION_USER = _object({"org": {"type": "string"}, "roles": _STRINGS}, required=["org"])
APP = _object(
    {
        "name": {"type": "string"},
        "appId": {"type": "string"},
        "secrets": _STRINGS,
        "permissions": _STRINGS,
        "consent": {"type": "boolean"},
        "owners": _STRINGS,
        "disabled": {"type": "boolean"},
        "applicationUsers": {"type": "array", "items": APPLICATION_USER},
    },
    required=["name"],
)
ORG = _object({"name": {"type": "string"}, "id": {"type": "string"}, "schema": {"type": "string"}}, required=["name"])
TENANT = _object(
    {
        "name": {"type": "string"},
        "id": {"type": "string"},
        "domains": _STRINGS,
        "users": _STRINGS,
        "orgs": {"type": "array", "items": ORG},
        "apps": {"type": "array", "items": APP},
    },
    required=["name"],
)
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "d365local seed file",
    **_object({"tenants": {"type": "array", "items": TENANT}}),
}
_VALIDATOR = Draft202012Validator(SCHEMA)
_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "text", "boolean": "true or false"}
MAX_PROBLEMS = 10


def seed_file_problems(document: Any) -> list[str]:
    """Every way ``document`` (a parsed seed file) breaks the schema; empty when it fits."""
    problems = [line for error in _VALIDATOR.iter_errors(document) for line in _describe(error)]
    if len(problems) > MAX_PROBLEMS:
        problems = [*problems[:MAX_PROBLEMS], f"… and {len(problems) - MAX_PROBLEMS} more"]
    return problems


def key_path(path: Iterable[str | int]) -> str:
    """``['tenants', 0, 'apps', 0, 'secret']`` → ``tenants[0].apps[0].secret``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "the file"


def _describe(error: ValidationError) -> list[str]:
    where = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {})) if isinstance(error.schema, Mapping) else []
        return [
            f"{key_path([*where, key])}: unknown key{_did_you_mean(str(key), known)} (known here: {', '.join(known)})"
            for key in error.instance
            if key not in known
        ]
    if error.validator == "required":
        return [f"{key_path(where)}: {error.message.split(' is a ')[0]} is required"]
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, str) else "the right type"
        value = "nothing" if error.instance is None else repr(error.instance)
        quote = " (quote it)" if wanted == "string" and isinstance(error.instance, int | float | bool) else ""
        return [f"{key_path(where)}: must be {_TYPE_NAMES.get(wanted, wanted)}, not {value}{quote}"]
    return [f"{key_path(where)}: {error.message}"]


def _did_you_mean(key: str, known: list[str]) -> str:
    folded = {k.casefold(): k for k in known}
    match = difflib.get_close_matches(key.casefold(), list(folded), n=1, cutoff=0.6)
    return f"; did you mean '{folded[match[0]]}'?" if match else ""
