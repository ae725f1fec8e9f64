"""What the recipients preview returns (SPEC 3.6)."""

from __future__ import annotations

from pydantic import BaseModel, Field

RECIPIENT_FIELDS = ("full_name", "email", "offerings", "customers", "suppressed")


class NamedRef(BaseModel):
    uuid: str = Field(description="32 hex digits")
    name: str


class RecipientOut(BaseModel):
    full_name: str
    email: str
    offerings: list[NamedRef]
    customers: list[NamedRef]
