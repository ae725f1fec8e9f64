"""Describing hand-parsed request bodies in the OpenAPI document."""

from typing import Any


def json_request_body(model: type) -> dict[str, Any]:
    """`openapi_extra` for an endpoint that reads its JSON body itself: points the
    document at `model`'s schema (app.py registers the model under components)."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}
