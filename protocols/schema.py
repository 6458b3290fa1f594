"""The JSON Schema of a protocol file (format ``mexlab-protocol/1``); see docs/protocols.md.

The file is checked in two passes so that every message names one field: the whole document against
:data:`PROTOCOL` (steps only need a known ``type`` there), then every step against the schema of its
type in :data:`STEP_TYPES`. ``x-message`` replaces jsonschema's wording for values that may be a
``{variable}`` filled from a conditions table.
"""

from __future__ import annotations

FORMAT = "mexlab-protocol/1"

_TEMPLATE = r"^\{[A-Za-z_][A-Za-z0-9_]*\}$"
ID = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9_{][A-Za-z0-9_.{}-]*$",
    "x-message": "must be an identifier: letters, digits, '_', '-', '.', or a {variable}",
}
SECONDS = {
    "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": _TEMPLATE}],
    "x-message": "must be a number of seconds greater than 0, or a {variable} from a conditions table",
}
TEXT = {"type": "string"}
FILE = {"type": "string", "minLength": 1}
SCALAR = {"type": ["string", "number", "boolean", "null"]}
VARIABLES = {
    "type": "object",
    "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
    "additionalProperties": SCALAR,
    "x-message": "must map variable names (letters, digits, '_') to plain values",
}
ORDER = {"enum": ["fixed", "random", "full_random", "latin"]}
COLOR = {"type": "string", "pattern": r"^#[0-9A-Fa-f]{6}$", "x-message": "must be a colour like '#202020'"}
ITEMS = ["category", "intensity", "valence", "arousal", "text"]

STEP_TYPES: dict[str, dict] = {
    "instructions": {
        "text": TEXT,
        "image": FILE,
        "duration": SECONDS,
        "advance": {"enum": ["participant", "experimenter"]},
    },
    "fixation": {"duration": SECONDS, "symbol": TEXT},
    "rest": {"duration": SECONDS, "text": TEXT, "label": TEXT},
    "stimulus": {
        "video": FILE,
        "image": FILE,
        "text": TEXT,
        "duration": SECONDS,
        "until": {"enum": ["end"]},
        "audio": {"type": "boolean"},
    },
    "self_report": {
        "items": {"type": "array", "items": {"enum": ITEMS}, "minItems": 1, "uniqueItems": True},
        "categories": {"type": "array", "items": TEXT, "minItems": 2},
        "prompt": TEXT,
    },
    "question": {"text": TEXT, "kind": TEXT, "answer_s": SECONDS, "participant_text": TEXT},
    "act": {"text": TEXT, "duration": SECONDS, "advance": {"enum": ["experimenter", "participant", "time"]}},
    "pause": {"text": TEXT, "message": TEXT},
}
REQUIRED = {"rest": ["duration"], "question": ["id", "text"], "act": ["text"]}


def step_schema(kind: str) -> dict:
    props = {"type": {"const": kind}, "id": ID, "comment": TEXT, **STEP_TYPES[kind]}
    return {
        "type": "object",
        "properties": props,
        "required": ["type", *REQUIRED.get(kind, [])],
        "additionalProperties": False,
    }


STEP = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": list(STEP_TYPES)}},
    "x-message-type": "must be a mapping with a 'type' (one of " + ", ".join(STEP_TYPES) + ")",
}
STEPS = {"type": "array", "items": STEP, "minItems": 1}

BLOCK = {
    "type": "object",
    "required": ["id"],
    "additionalProperties": False,
    "properties": {
        "id": ID,
        "title": TEXT,
        "comment": TEXT,
        "repeat": {"type": "integer", "minimum": 1, "maximum": 1000},
        "variables": VARIABLES,
        "before": STEPS,
        "trials": {
            "type": "object",
            "required": ["steps"],
            "additionalProperties": False,
            "properties": {
                "conditions": {
                    "anyOf": [FILE, {"type": "array", "items": VARIABLES, "minItems": 1}],
                    "x-message": "must be a CSV file name or a list of variable mappings",
                },
                "order": ORDER,
                "repeat": {"type": "integer", "minimum": 1, "maximum": 1000},
                "steps": STEPS,
            },
        },
        "after": STEPS,
    },
    "anyOf": [{"required": ["before"]}, {"required": ["trials"]}, {"required": ["after"]}],
    "x-message": "a block needs steps: 'before', 'trials' or 'after'",
}

PROTOCOL = {
    "type": "object",
    "required": ["format", "blocks"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": FORMAT, "x-message": f"must be '{FORMAT}'"},
        "name": {
            "type": "string",
            "pattern": r"^[a-z0-9][a-z0-9_-]*$",
            "x-message": "must be lower-case letters, digits, '-' or '_'",
        },
        "title": TEXT,
        "description": TEXT,
        "version": {"type": ["string", "number"]},
        "stimuli": FILE,
        "demo_stimuli": {"type": "boolean"},
        "screen": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "background": COLOR,
                "foreground": COLOR,
                "font_size": {"type": "integer", "minimum": 8, "maximum": 200},
                "photodiode": {"type": "boolean"},
            },
        },
        "emotions": {"type": "array", "items": TEXT, "minItems": 2},
        "variables": VARIABLES,
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id"],
                "additionalProperties": False,
                "properties": {"id": ID, "comment": TEXT, "variables": VARIABLES},
            },
        },
        "block_order": ORDER,
        "blocks": {"type": "array", "items": BLOCK, "minItems": 1},
    },
}
