"""What operations may answer before their view runs, written into the schema once rather than
on each operation:
- 411 from the body-size guard (caisi_portal.web) when a body comes without a Content-Length,
  on every operation a client may send a body to (the guard runs before any view, so an
  operation that reads no body answers it too);
- 415 when a body's Content-Type is not one the operation reads (on operations with a body);
- 414 from the server (gunicorn's limit_request_line, 4094 bytes) when the request line, the
  path and its query, is longer than it reads: any operation, in gunicorn's HTML, not our JSON.
And rules drf-spectacular does not write: a decimal is at least one digit; text in a body
takes no control characters; text in a query takes no NUL character.
"""

import re

BODY_METHODS = ("post", "put", "patch")
LENGTH_REQUIRED = ("411", "The body came without a Content-Length header.")
UNSUPPORTED_TYPE = ("415", "The body's Content-Type is not one this operation reads.")
URI_TOO_LONG = {
    "description": "The request line (path and query) is longer than the server reads (4094 bytes); "
    "the server answers before the portal, in HTML.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


def document_body_answers(result, generator, request, public):
    error = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            answers = []
            if method in BODY_METHODS:
                answers.append(LENGTH_REQUIRED)
            if "requestBody" in operation:
                answers.append(UNSUPPORTED_TYPE)
            for status, description in answers:
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": error}}}
                )
            responses.setdefault("414", URI_TOO_LONG)
            if "requestBody" in operation and "400" in responses:
                responses["400"]["description"] += " " + TEXT_RULE
    return result


# Said on every 400 of an operation with a body: the portal's text rule (caisi_portal.text),
# which a schema's pattern could state only in part (its invisible characters are all over Unicode).
TEXT_RULE = (
    "Text is refused with its control characters named: a one-line field (a name, a reference, a title) "
    "takes none, nor invisible ones; longer text takes line breaks and tabs."
)

# drf-spectacular's pattern for a DecimalField lets every digit be left out ("", "-", "."), which
# DRF refuses ("A valid number is required"), or reads as null when the field is nullable.
_DECIMAL = re.compile(r"^\^-\?\\d\{0,(\d+)\}\(\?:\\\.\\d\{0,(\d+)\}\)\?\$$")


def require_digits_in_decimals(result, generator, request, public):
    def visit(node):
        if isinstance(node, dict):
            found = _DECIMAL.match(node.get("pattern", "")) if node.get("format") == "decimal" else None
            if found:
                whole, places = found.groups()
                number = rf"-?(?:\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})"
                node["pattern"] = rf"^(?:{number})?$" if node.get("nullable") else rf"^{number}$"
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(result.get("components", {}))
    return result


# Django's and DRF's text fields (the filters', the query serializers') refuse a NUL character
# (ProhibitNullCharactersValidator): said as a pattern on every free-text query parameter.
NO_NUL = "^[^\\x00]*$"


def refuse_nul_in_query_text(result, generator, request, public):
    def free_text(schema):
        return schema.get("type") == "string" and not {"enum", "pattern", "format", "$ref"} & set(schema)

    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "query":
                    continue
                schema = parameter.get("schema", {})
                for text in (schema, schema.get("items", {})):
                    if free_text(text):
                        text["pattern"] = NO_NUL
    return result
