"""What operations may answer before their view runs, written into the schema once rather than
on each operation:
- 411 from the body-size guard (caisi_portal.web) when a body comes without a Content-Length,
  on every operation a client may send a body to (the guard runs before any view, so an
  operation that reads no body answers it too);
- 415 when a body's Content-Type is not one the operation reads (on operations with a body);
- 414 from the server (gunicorn's limit_request_line, 4094 bytes) when the request line, the
  path and its query, is longer than it reads: any operation, in gunicorn's HTML, not our JSON."""

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
    return result
