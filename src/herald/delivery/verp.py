"""VERP envelope senders (SPEC 4.2): each mail's Return-Path names its delivery.

`bounces+<tag>@domain` for HERALD_BOUNCE_ADDRESS `bounces@domain`. The tag is
the delivery's id and a truncated HMAC-SHA256 of it under HERALD_SECRET_KEY,
both in lower-case base32, so a bounce maps to exactly one delivery and a
forged or mistyped tag maps to none. Lower case because some mail servers
lower-case local parts on the way back; compared case-insensitively.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAC_CHARS = 16  # 80 bits of the HMAC: forging one is out of reach
_ID_BYTES = 8


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _mac(key: bytes, delivery_id: int) -> str:
    digest = hmac.new(key, b"herald-verp:" + str(delivery_id).encode(), hashlib.sha256).digest()
    return _b32(digest)[:MAC_CHARS]


def tag_for(key: bytes, delivery_id: int) -> str:
    """The signed tag naming one delivery."""
    number = _b32(delivery_id.to_bytes(_ID_BYTES, "big")).lstrip("a") or "a"
    return f"{number}-{_mac(key, delivery_id)}"


def envelope_sender(bounce_address: str, key: bytes, delivery_id: int) -> str:
    """`local+tag@domain`: the Return-Path of one delivery's mail."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{tag_for(key, delivery_id)}@{domain}"


def delivery_of(key: bytes, address: str, bounce_address: str) -> int | None:
    """The delivery an address to our bounce mailbox names, or None when it is not
    ours, carries no tag, or the tag's signature does not hold."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    our_local, _, our_domain = bounce_address.lower().rpartition("@")
    base, plus, tag = local.partition("+")
    if not plus or base != our_local or domain != our_domain:
        return None
    number, dash, mac = tag.partition("-")
    if not dash or not number or len(mac) != MAC_CHARS:
        return None
    padded = number.rjust(13, "a").upper() + "==="
    try:
        raw = base64.b32decode(padded)
    except ValueError:
        return None
    delivery_id = int.from_bytes(raw[-_ID_BYTES:], "big")
    # Base32 of 8 bytes leaves spare bits in its last character, and 13 characters
    # can carry more than 8 bytes: several spellings would decode to one id. Only
    # the one spelling tag_for writes names it, so a changed character never does.
    if not hmac.compare_digest(tag_for(key, delivery_id), tag):
        return None
    return delivery_id
