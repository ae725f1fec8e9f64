"""What the recipients preview returns (SPEC 3.6)."""

from __future__ import annotations

from pydantic import BaseModel, Field

RECIPIENT_FIELDS = ("full_name", "email", "offerings", "customers", "suppressed", "language")


class NamedRef(BaseModel):
    uuid: str = Field(description="32 hex digits")
    name: str


class RecipientOut(BaseModel):
    full_name: str
    email: str
    offerings: list[NamedRef]
    customers: list[NamedRef]
    language: str | None = Field(
        description="the reader's language tag, lower-case (SPEC 2.3); null: none (no tag, "
        "a notification e-mail, an address that is no user)"
    )
    suppressed: bool | None = Field(None, description="present (true) on a suppressed address")
