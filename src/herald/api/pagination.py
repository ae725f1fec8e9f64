"""Waldur's list conventions: page/page_size, X-Result-Count, Link, bare arrays."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Send

from herald.api.responses import JSONResponse
from herald.core.errors import NotFound

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 300


# No list can have a row past this offset (the databases' OFFSET is a signed 64-bit
# integer): a page beyond it is past the end, whatever the list.
MAX_OFFSET = 2**62


def _positive_int(value: str | None) -> int | None:
    """ASCII digits only (Python's int() also reads "١" and "1_000")."""
    if value is None:
        return None
    digits = value.strip()
    if not digits.isascii() or not digits.isdigit() or len(digits) > 30:
        return None
    number = int(digits)
    return number if number > 0 else None


@dataclass(frozen=True)
class PageRequest:
    page: int
    page_size: int

    @classmethod
    def from_params(cls, page: str | None, page_size: str | None) -> PageRequest:
        number = 1 if page is None else _positive_int(page)
        if number is None:
            raise NotFound("Invalid page.")
        size = min(_positive_int(page_size) or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        if (number - 1) * size > MAX_OFFSET:
            raise NotFound("Invalid page.")
        return cls(page=number, page_size=size)

    def last_page(self, total: int) -> int:
        return max(1, -(-total // self.page_size))

    def check(self, total: int) -> None:
        """A page past the end is a 404 (page 1 of an empty list is not)."""
        if self.page > self.last_page(total):
            raise NotFound("Invalid page.")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def _link_header(request: Request, pages: PageRequest, total: int) -> str:
    last = pages.last_page(total)
    relations = [("first", 1)]
    if pages.page > 1:
        relations.append(("prev", min(pages.page - 1, last)))
    if pages.page < last:
        relations.append(("next", pages.page + 1))
    relations.append(("last", last))
    url = request.url
    return ", ".join(
        f'<{url.include_query_params(page=number)}>; rel="{rel}"' for rel, number in relations
    )


def count_response(total: int) -> Response:
    """HEAD on a list: the count and no body."""
    return Response(status_code=200, headers={"X-Result-Count": str(total)})


def paginate(request: Request, pages: PageRequest, total: int) -> Response | None:
    """What every list does once it has counted: a page past the end is a 404, for
    HEAD as for GET (HEAD is GET without the body); HEAD is answered with the
    count. None: go on and read the page."""
    pages.check(total)
    if request.method == "HEAD":
        return count_response(total)
    return None


def list_response(
    request: Request, items: Sequence[Any], total: int, pages: PageRequest
) -> JSONResponse:
    headers = {"X-Result-Count": str(total), "Link": _link_header(request, pages, total)}
    return JSONResponse(list(items), headers=headers)


class StreamAborted(Exception):
    """Raised by a streamed list's items when what they read failed after the first
    byte was sent: too late for a 503, so the response is cut (the item's reader
    logged why and counted it)."""


class _CutOnAbort(StreamingResponse):
    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})  # fmt: skip
        try:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except StreamAborted:
            # No final chunk: the client sees an incomplete response (and the
            # connection closes), never a short list that looks whole. No traceback.
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def streamed_list_response(
    request: Request, items: Iterable[bytes], total: int, pages: PageRequest
) -> StreamingResponse:
    """A list written item by item (each item already JSON), for items too large to
    hold a page of in memory at once. The first item is made before anything is
    sent, so a failure there is an ordinary error answer (a 503 for the database);
    a later one raises StreamAborted and the response is cut."""
    headers = {"X-Result-Count": str(total), "Link": _link_header(request, pages, total)}
    items = iter(items)
    first = next(items, None)
    if first is not None:
        items = itertools.chain([first], items)

    def chunks() -> Iterator[bytes]:
        yield b"["
        for number, item in enumerate(items):
            yield item if number == 0 else b"," + item
        yield b"]"

    return _CutOnAbort(chunks(), media_type="application/json", headers=headers)
