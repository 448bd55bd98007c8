"""What every operation with a body may answer before its view runs, written into the schema
once rather than on each operation: 411 from the body-size guard (caisi_portal.web) when a body
comes without a Content-Length, and 415 when its Content-Type is not one the operation reads."""

BODY_ANSWERS = {
    "411": "The body came without a Content-Length header.",
    "415": "The body's Content-Type is not one this operation reads.",
}


def document_body_answers(result, generator, request, public):
    error = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in BODY_ANSWERS.items():
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": error}}}
                )
    return result
