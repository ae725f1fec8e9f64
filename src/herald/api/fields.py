"""`?field=a&field=b`: return only the named keys of each object."""

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Query

# The `field` query parameter, as every endpoint that returns objects declares it.
Fields = Annotated[list[str] | None, Query(description="Return only these keys.")]


def wanted_fields(requested: list[str] | None, known: Iterable[str]) -> list[str] | None:
    """The known names asked for, in the object's order; None means every key.

    Unknown names are ignored; when none of the names is known the object is
    returned whole, as if none had been given.
    """
    if not requested:
        return None
    asked = {name.strip() for value in requested for name in value.split(",")}
    chosen = [name for name in known if name in asked]
    return chosen or None


def select(obj: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if fields is None:
        return obj
    return {name: obj[name] for name in fields if name in obj}
