"""The JSON Schema of menus.yaml format version 1, and readable error paths.

Structure only; cross-references (targets, actions, placeholders) are checked by
menus.checks because they need the whole file and the action registry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from menus.model import REQUIRED_MESSAGES

_ID: Final = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}
_LANG: Final = "^[a-z]{2,3}$"

# A text in several languages: {fr: "...", en: "...", sw: "..."}.
_TEXT: Final = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": {"pattern": _LANG},
    "additionalProperties": {"type": "string", "minLength": 1},
}

_OPTION: Final = {
    "type": "object",
    "required": ["key", "label"],
    "additionalProperties": False,
    "properties": {
        "key": {"type": "string", "pattern": "^[0-9]{1,3}$"},
        "label": {"$ref": "#/$defs/text"},
        "next": _ID,
        "value": {"type": "string", "minLength": 1},
    },
}


def _validator(kind: str, required: Sequence[str], **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", *required],
        "additionalProperties": False,
        "properties": {"type": {"const": kind}, "error": {"$ref": "#/$defs/text"}, **props},
    }


_INT: Final = {"type": "integer"}
_NUMBER: Final = {"type": "number"}
_VALIDATOR: Final = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": ["regex", "length", "range", "phone", "one_of"]}},
    "allOf": [
        {
            "if": {"properties": {"type": {"const": kind}}},
            "then": schema,
        }
        for kind, schema in (
            ("regex", _validator("regex", ["pattern"], pattern={"type": "string"})),
            (
                "length",
                _validator("length", [], min={**_INT, "minimum": 0}, max={**_INT, "minimum": 1}),
            ),
            ("range", _validator("range", [], min=_NUMBER, max=_NUMBER)),
            ("phone", _validator("phone", [])),
            (
                "one_of",
                _validator(
                    "one_of",
                    ["values"],
                    values={"type": "array", "minItems": 1, "items": {"type": "string"}},
                ),
            ),
        )
    ],
}

_COMMON: Final = {"type": {"enum": ["menu", "input", "action", "end", "form"]}}
_SCREEN_KINDS: Final[dict[str, dict[str, Any]]] = {
    "menu": {
        "required": ["text"],
        "properties": {
            **_COMMON,
            "text": {"$ref": "#/$defs/text"},
            "options": {"type": "array", "minItems": 1, "items": _OPTION},
            "options_from": {"type": "string"},
            "save_as": _ID,
            "empty": _ID,
            "next": _ID,
            # An answer that is no option but passes these validators is typed input: a dial
            # string such as *384*12*3*10000057# answers the menu with a reference.
            "typed": {
                "type": "object",
                "required": ["save_as", "validators", "next"],
                "additionalProperties": False,
                "properties": {
                    "save_as": _ID,
                    "validators": {"type": "array", "minItems": 1, "items": _VALIDATOR},
                    "next": _ID,
                },
            },
        },
        "oneOf": [{"required": ["options"]}, {"required": ["options_from", "next"]}],
    },
    "input": {
        "required": ["text", "save_as", "next"],
        "properties": {
            **_COMMON,
            "text": {"$ref": "#/$defs/text"},
            "save_as": _ID,
            "validators": {"type": "array", "items": _VALIDATOR},
            "error": {"$ref": "#/$defs/text"},
            "next": _ID,
        },
    },
    "action": {
        "required": ["action", "on"],
        "properties": {
            **_COMMON,
            "action": {"type": "string"},
            "args": {"type": "object"},
            "on": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
                "additionalProperties": _ID,
            },
        },
    },
    "end": {"required": ["text"], "properties": {**_COMMON, "text": {"$ref": "#/$defs/text"}}},
    "form": {
        "required": ["fields_from", "save_as", "next"],
        "properties": {
            **_COMMON,
            "text": {"$ref": "#/$defs/text"},  # shown above every field's label
            "fields_from": {"type": "string"},
            "save_as": _ID,
            "next": _ID,
        },
    },
}

SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Guichet menus.yaml, format version 1",
    "type": "object",
    "required": [
        "version",
        "city",
        "service_code",
        "languages",
        "start",
        "messages",
        "screens",
    ],
    "additionalProperties": False,
    "$defs": {"text": _TEXT},
    "properties": {
        "version": {"const": 1},
        # Languages nobody on the team can verify: `{sw: native speaker}`; `menus lint --review`
        # lists every text of them (the pack's SMS templates and catalogue say the same).
        "review": {
            "type": "object",
            "propertyNames": {"pattern": _LANG},
            "additionalProperties": {"type": "string", "minLength": 1},
        },
        "city": {
            "type": "object",
            "required": ["id", "name", "country", "currency", "timezone"],
            "additionalProperties": False,
            "properties": {
                "id": _ID,
                "name": {"type": "string", "minLength": 1},
                "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "timezone": {"type": "string", "minLength": 1},
                # A pack's defaults (runtime/packs.py, docs/contracts.md "City packs").
                "money": {
                    "type": "object",
                    "required": ["symbol"],
                    "additionalProperties": False,
                    "properties": {
                        "symbol": {"type": "string", "minLength": 1, "maxLength": 4},
                        "decimals": {"type": "integer", "minimum": 0, "maximum": 3},
                        "decimal_mark": {"type": "string", "minLength": 1, "maxLength": 1},
                        "group": {"type": "string", "maxLength": 1},
                    },
                },
                "sms_countries": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "pattern": "^[A-Z]{2}$"},
                },
                "payment_operators": {"type": "string"},
            },
        },
        "service_code": {"type": "string", "pattern": r"^\*[0-9*]+#$"},
        "languages": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": _LANG},
        },
        "start": _ID,
        "settings": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "session_ttl_seconds": {"type": "integer", "minimum": 30, "maximum": 3600},
                "resume_window_seconds": {"type": "integer", "minimum": 0, "maximum": 3600},
                "max_invalid_tries": {"type": "integer", "minimum": 1, "maximum": 10},
            },
        },
        "placeholders": {
            # Empty (null) until a journey declares one.
            "type": ["object", "null"],
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
            "additionalProperties": {
                "type": "object",
                "required": ["max_length"],
                "additionalProperties": False,
                "properties": {
                    "max_length": {"type": "integer", "minimum": 1, "maximum": 500},
                    "ucs2": {"type": "boolean"},
                    # Long text the renderer pages (agents' words): lint checks every page.
                    "paged": {"type": "boolean"},
                    # A name (operator, document, city...): no article may be glued to it.
                    "noun": {"type": "boolean"},
                },
            },
        },
        "messages": {
            "type": "object",
            "required": list(REQUIRED_MESSAGES),
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
            "additionalProperties": {"$ref": "#/$defs/text"},
        },
        "screens": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
            "additionalProperties": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": _COMMON["type"]},
                "allOf": [
                    {
                        "if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
                        "then": {**schema, "additionalProperties": False},
                    }
                    for kind, schema in _SCREEN_KINDS.items()
                ],
            },
        },
        # Other packages may keep their own top-level sections; none is defined yet.
    },
}

_VALIDATOR_INSTANCE: Final = Draft202012Validator(SCHEMA)


def dotted(path: Sequence[str | int]) -> str:
    """Render a JSON path as `screens.tax_ref.validators[0].pattern`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top)"


def schema_errors(document: Any) -> Iterator[tuple[str, str]]:
    """Yield (dotted path, message) for every schema violation, most specific first."""
    errors = sorted(_VALIDATOR_INSTANCE.iter_errors(document), key=lambda e: list(map(str, e.path)))
    for error in errors:
        for leaf in _leaves(error):
            path = list(leaf.absolute_path)
            if leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
                schema = leaf.schema if isinstance(leaf.schema, Mapping) else {}
                allowed = schema.get("properties", {})
                for name in sorted(set(leaf.instance) - set(allowed)):
                    yield dotted([*path, name]), "unknown field"
                continue
            yield dotted(path), _message(leaf)


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    # allOf/if-then wrap the useful error; descend to where the data is actually wrong.
    if error.context and error.validator != "oneOf":
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


def _message(error: ValidationError) -> str:
    if error.validator == "oneOf" and list(error.path)[:1] == ["screens"]:
        return "a menu needs either `options` or `options_from` with `next`"
    return error.message
