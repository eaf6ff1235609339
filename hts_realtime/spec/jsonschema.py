"""marshmallow schemas → JSON Schema (draft 2020-12, as OpenAPI 3.1 and AsyncAPI 3 use).

Covers the field types and validators ``protocol/schemas.py`` uses; a field
type it does not know becomes ``{}`` with ``x-unknown-field`` so the spec
test notices.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, missing, validate

from hts_realtime.protocol import schemas

JSON = dict[str, Any]

# what a @validates_schema rule adds, per schema class
EXTRA: dict[str, JSON] = {
    "TopicsSchema": {"oneOf": [{"required": ["topic"]}, {"required": ["topics"]}],
                     "description": "exactly one of `topic` or `topics`"},
    "AmendSchema": {"anyOf": [{"required": ["price"]}, {"required": ["quantity"]}],
                    "description": "at least one of `price` or `quantity`"},
    "PingSchema": {"description": "`timestamp`: any string (≤ 64 chars) or number, echoed"},
}


def field_schema(field: fields.Field[Any]) -> JSON:
    out: JSON
    if isinstance(field, fields.Integer):
        out = {"type": "integer"}
    elif isinstance(field, fields.Float | fields.Decimal):
        out = {"type": "number"}
    elif isinstance(field, fields.Boolean):
        out = {"type": "boolean"}
    elif isinstance(field, fields.String):
        out = {"type": "string"}
    elif isinstance(field, fields.List):
        out = {"type": "array", "items": field_schema(field.inner)}
    elif isinstance(field, fields.Dict):
        out = {"type": "object"}
    elif isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
        out = schema_of(field.schema)
    elif type(field) is fields.Raw:
        out = {}
    else:
        out = {"x-unknown-field": type(field).__name__}
    for v in field.validators:
        _apply(out, v)
    if field.allow_none and "type" in out:
        out["type"] = [out["type"], "null"]
    default = field.load_default
    if default is not None and not callable(default) and default is not missing:
        out["default"] = default
    return out


def _apply(out: JSON, v: Any) -> None:
    kind = out.get("type")
    if isinstance(v, validate.Length):
        low, high = ("minItems", "maxItems") if kind == "array" else ("minLength", "maxLength")
        if v.min is not None:
            out[low] = v.min
        if v.max is not None:
            out[high] = v.max
        if v.equal is not None:
            out[low] = out[high] = v.equal
    elif isinstance(v, validate.Range):
        if v.min is not None:
            out["minimum" if v.min_inclusive else "exclusiveMinimum"] = v.min
        if v.max is not None:
            out["maximum" if v.max_inclusive else "exclusiveMaximum"] = v.max
    elif isinstance(v, validate.OneOf):
        out["enum"] = list(v.choices)
    elif isinstance(v, validate.Regexp):
        out["pattern"] = v.regex.pattern


def schema_of(schema: Schema) -> JSON:
    out: JSON = {"type": "object", "properties": {}}
    required = []
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        out["properties"][key] = field_schema(field)
        if field.required:
            required.append(key)
    if required:
        out["required"] = required
    out["additionalProperties"] = schema.unknown != RAISE
    doc = type(schema).__doc__
    if doc:
        out["description"] = " ".join(doc.split())
    out.update(EXTRA.get(type(schema).__name__, {}))
    return out


def request_schemas() -> dict[str, Schema]:
    """Every schema instance ``protocol/schemas.py`` defines, by class name."""
    return {type(v).__name__: v for v in vars(schemas).values() if isinstance(v, Schema)}
