"""Sanity checks on the AADSTS catalogue in d365local.identity.errors."""

from __future__ import annotations

import ast
import string
from dataclasses import dataclass
from pathlib import Path

import pytest

import d365local.identity
from d365local.identity import errors
from d365local.identity.errors import CATALOGUE, AadstsCode, IdentityError

IDENTITY_SRC = Path(d365local.identity.__file__).parent
NAMED = {name: value for name, value in vars(errors).items() if isinstance(value, AadstsCode)}


def _fields(code: AadstsCode) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(code.template) if field}


def _code_id(code: AadstsCode) -> str:
    return next(name for name, value in NAMED.items() if value is code)


def test_catalogue_holds_every_named_code() -> None:
    assert len(CATALOGUE) == len(NAMED)
    assert all(any(code is named for named in NAMED.values()) for code in CATALOGUE)


@pytest.mark.parametrize("code", CATALOGUE, ids=_code_id)
def test_status_is_401_exactly_for_invalid_client(code: AadstsCode) -> None:
    if code is errors.REQUEST_TOO_LARGE:
        assert code.status == 413
    elif code is errors.SERVER_ERROR:
        assert code.status == 503  # an unexpected failure, answered as Entra's transient error
    else:
        assert (code.status == 401) == (code.error == "invalid_client")
        assert code.status in (400, 401)


@pytest.mark.parametrize("code", CATALOGUE, ids=_code_id)
def test_message_formats_with_its_placeholders(code: AadstsCode) -> None:
    message = code.message(**{field: f"<{field}>" for field in _fields(code)})

    assert message.startswith(f"AADSTS{code.number}: ")
    assert not code.template.startswith("AADSTS")
    assert "{" not in message
    assert "}" not in message
    assert message == str(IdentityError(code, **{field: f"<{field}>" for field in _fields(code)}))


def test_codes_sharing_a_number_share_the_oauth_error() -> None:
    by_number: dict[int, set[str]] = {}
    for code in CATALOGUE:
        by_number.setdefault(code.number, set()).add(code.error)

    assert {number: found for number, found in by_number.items() if len(found) > 1} == {}


def test_identity_error_keeps_code_and_params() -> None:
    error = IdentityError(errors.UNSUPPORTED_GRANT, grant_type="password")

    assert error.code is errors.UNSUPPORTED_GRANT
    assert error.params == {"grant_type": "password"}
    assert error.message == str(error) == "AADSTS70003: The app requested an unsupported grant type 'password'."


@dataclass(frozen=True)
class Raise:
    where: str
    code: str
    keywords: frozenset[str]
    expands: bool


def _raises() -> list[Raise]:
    found: list[Raise] = []
    for path in sorted(IDENTITY_SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "IdentityError"):
                continue
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name)):
                continue
            if first.value.id != "errors":
                continue
            found.append(
                Raise(
                    where=f"{path.relative_to(IDENTITY_SRC)}:{node.lineno}",
                    code=first.attr,
                    keywords=frozenset(k.arg for k in node.keywords if k.arg is not None),
                    expands=any(k.arg is None for k in node.keywords),
                )
            )
    return found


RAISES = _raises()


def test_callers_were_found() -> None:
    assert len(RAISES) > 20


@pytest.mark.parametrize("call", RAISES, ids=lambda call: call.where)
def test_callers_pass_every_placeholder(call: Raise) -> None:
    code = NAMED.get(call.code)

    assert code is not None, f"{call.where}: errors.{call.code} is not in the catalogue"
    missing = _fields(code) - call.keywords
    if call.expands:
        assert call.keywords <= _fields(code)
    else:
        assert missing == set(), f"{call.where}: errors.{call.code} needs {sorted(missing)}"
