"""Placeholders in a message's subject and body, rendered per recipient.

    Dear {{ recipient.full_name | default("colleague") }}, your projects at
    {{ recipient.customers }} ... {{ message.subject }} on {{ message.send_at }}

A template is checked when a message or template is written, on its syntax
tree (`grammar.py`): only substitution, formatting filters, conditionals and
loops over the recipient's own lists are allowed, and the worst case of its
work and of its output for any recipient is bounded before it ever runs.
It is then rendered once for a sample recipient with every field filled
and once for one with empty fields, so that a placeholder which cannot
render (`recipient.customers[0]` for somebody with no organisation) is a
400 naming the line rather than failed deliveries. Text without `{{`, `{%`
or `{#` is not a template at all and is sent exactly as written, as
Waldur's messages are.

The same check runs again when the worker compiles a stored message, so a
message written under older, looser rules fails its own deliveries with the
reason instead of running. Rendering is in Jinja's sandbox too, as a second
wall behind the grammar.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from herald.personalisation.grammar import (
    FILTERS,
    MAX_EMAIL,
    MAX_FULL_NAME,
    MAX_ITEMS,
    MAX_NAME,
    MAX_OUTPUT,
    MAX_SUBJECT,
    TESTS,
    Checker,
    Cost,
    TemplateRefused,
)

__all__ = [
    "Names",
    "TemplateProblem",
    "bound",
    "check_template",
    "compile_template",
    "context_for",
    "is_template",
    "render",
    "render_compiled",
]

_MARKERS = ("{{", "{%", "{#")


class TemplateProblem(ValueError):
    """What is wrong with a template, pointing at the line when there is one."""


class Names(list[str]):
    """Names that print as "A, B" but can still be looped over."""

    def __str__(self) -> str:
        return ", ".join(self)


def _environment(autoescape: bool) -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True
    )
    environment.filters = {name: environment.filters[name] for name in FILTERS}
    environment.tests = {name: environment.tests[name] for name in TESTS}
    environment.globals = {}
    return environment


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


def is_template(text: str) -> bool:
    return any(marker in text for marker in _MARKERS)


def _parse(text: str, html: bool) -> tuple[SandboxedEnvironment, nodes.Template]:
    """Parse and check a template against the grammar and its cost bound."""
    environment = _HTML if html else _TEXT
    try:
        tree = environment.parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"Line {exc.lineno}: {_in_staff_words(exc.message or '')}") from exc
    except RecursionError as exc:
        # Thousands of nested brackets: the parser gives up before our limits can.
        raise TemplateProblem(
            "Line 1: the template nests too deeply (brackets or blocks inside each other)"
        ) from exc
    try:
        Checker(html).template(tree)
    except TemplateRefused as exc:
        raise TemplateProblem(str(exc)) from exc
    return environment, tree


def bound(text: str, html: bool = False) -> Cost:
    """The most one rendering of `text` can cost (raises TemplateProblem when refused)."""
    _, tree = _parse(text, html)
    return Checker(html).template(tree)


def compile_template(text: str, html: bool = False) -> Template | None:
    """Check and compile once per message (compiling is what costs); None for plain text."""
    if not is_template(text):
        return None
    environment, tree = _parse(text, html)
    try:
        code = environment.compile(tree)
        return environment.template_class.from_code(
            environment, code, environment.make_globals(None), None
        )
    except Exception as exc:  # the grammar should make this unreachable; never a 500
        raise TemplateProblem(f"Line 1: cannot be compiled: {exc}") from exc


def render_compiled(template: Template | None, text: str, context: dict[str, Any]) -> str:
    """Render for one recipient; raises TemplateProblem on anything that goes wrong."""
    if template is None:
        return text
    try:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:  # the grammar bounds this; checked again as it streams
                raise TemplateProblem(f"the rendered text is longer than {MAX_OUTPUT} characters")
            parts.append(chunk)
        return "".join(parts)
    except TemplateProblem:
        raise
    except RecursionError as exc:
        raise TemplateProblem("cannot be rendered: it nests too deeply") from exc
    except Exception as exc:  # any error of a value, a filter or the sandbox
        line = _template_line(exc)
        where = f"Line {line}: " if line else ""
        raise TemplateProblem(f"{where}cannot be rendered: {_in_staff_words(str(exc))}") from exc


# What the template engine says, in the words of the text staff wrote: they write
# placeholders and blocks, and never heard of the engine or of Herald's classes.
_UNCLOSED_BLOCK = re.compile(
    r"Unexpected end of template\. Jinja was looking for the following tags: (.*?)\. "
    r"The innermost block that needs to be closed is '(\w+)'\.",
    re.S,
)
_LOOKING_FOR = re.compile(r"\s*Jinja was looking for the following tags: (.*?)\.(?: The innermost"
                          r" block that needs to be closed is '(\w+)'\.)?", re.S)  # fmt: skip
_REWORDED = (
    ("unexpected end of template, expected 'end of print statement'.",
     "a placeholder is not closed: end it with }}."),
    ("expected token 'end of print statement'", "expected }} to close the placeholder"),
    ("expected token 'end of statement block'", "expected %} to close the block"),
    ("'end of statement block'", "%}"),
    ("'end of print statement'", "}}"),
    ("herald.personalisation.Names object", "the list"),
)  # fmt: skip


def _in_staff_words(message: str) -> str:
    found = _UNCLOSED_BLOCK.search(message)
    if found is not None:
        return f"{{% {found.group(2)} %}} is never closed: add {{% end{found.group(2)} %}}."
    message = _LOOKING_FOR.sub("", message)
    for engine, staff in _REWORDED:
        message = message.replace(engine, staff)
    return message.replace("Jinja", "the template")


def _template_line(exc: BaseException) -> int | None:
    """The template line a rendering error came from: Jinja rewrites tracebacks
    so that the template's own frames carry its line numbers."""
    line = None
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def render(text: str, context: dict[str, Any], html: bool = False) -> str:
    """Compile and render in one go (previews, checks); delivery compiles once instead."""
    return render_compiled(compile_template(text, html), text, context)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _names(names: Iterable[str]) -> Names:
    """At most MAX_ITEMS names of at most MAX_NAME characters: the bounds the
    grammar counts on. A longer list ends in "and N more", so a reader can
    see that it was cut."""
    listed = list(names)
    if len(listed) > MAX_ITEMS:
        rest = len(listed) - (MAX_ITEMS - 1)
        listed = [*listed[: MAX_ITEMS - 1], f"and {rest} more"]
    return Names(_clip(name, MAX_NAME) for name in listed)


def context_for(
    email: str,
    full_name: str,
    customers: Iterable[str],
    offerings: Iterable[str],
    subject: str,
    send_at: date | None,
) -> dict[str, Any]:
    """What a template sees of one recipient: fresh for each rendering, so that
    nothing one rendering does can reach the next."""
    return {
        "recipient": {
            "full_name": _clip(full_name, MAX_FULL_NAME),
            "email": _clip(email, MAX_EMAIL),
            "customers": _names(customers),
            "offerings": _names(offerings),
        },
        # A message with no day (sent now, never scheduled) has none to show: empty,
        # never Python's "None". A day reads as YYYY-MM-DD, as on the wire.
        "message": {
            "subject": _clip(subject, MAX_SUBJECT),
            "send_at": send_at.isoformat() if send_at else "",
        },
    }


def _samples() -> list[tuple[str, dict[str, Any]]]:
    full = context_for(
        "sample@example.org",
        "Sample Person",
        ["Sample Organisation"],
        ["Sample Offering"],
        "Sample subject",
        date(2026, 1, 1),
    )
    empty = context_for("sample@example.org", "", [], [], "Sample subject", None)
    return [("", full), ("for a recipient with no name, organisation or offering: ", empty)]


def check_template(text: str, html: bool = False) -> None:
    """Raise TemplateProblem unless `text` renders, within its bound, for any recipient."""
    template = compile_template(text, html)
    if template is None:
        return
    # Trial runs catch what only shows when rendering: a filter given a value
    # of the wrong kind, a list index past the end for somebody with no list.
    for who, context in _samples():
        try:
            render_compiled(template, text, context)
        except TemplateProblem as problem:
            message = str(problem)
            if message.startswith("Line ") and who:
                line, _, rest = message.partition(": ")
                message = f"{line}: {who}{rest}"
            elif who:
                message = who + message
            raise TemplateProblem(message) from problem
