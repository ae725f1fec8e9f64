"""Placeholders in a message's subject and body, rendered per recipient in a sandbox.

    Dear {{ recipient.full_name | default("colleague") }}, your projects at
    {{ recipient.customers }} ... {{ message.subject }} on {{ message.send_at }}

Templates are checked when a message or template is written: a syntax
error, an unknown variable or attribute, or anything the sandbox refuses is
a 400 that names the line, never a failure at delivery time. Rendering is
bounded: ranges (by Jinja's sandbox), repetition, powers and the size of
the output. Text without `{{`, `{%` or `{#` is not a template at all and is
sent exactly as written, as Waldur's messages are.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from datetime import date
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

FIELDS = {
    "recipient": ("full_name", "email", "customers", "offerings"),
    "message": ("subject", "send_at"),
}
MAX_OUTPUT = 1_000_000  # characters one rendering may produce
MAX_REPEAT = 100_000  # characters (or items) one `*` may produce
MAX_EXPONENT = 64
_MARKERS = ("{{", "{%", "{#")
_JINJA_GLOBALS = {"range", "loop"}


class TemplateProblem(ValueError):
    """What is wrong with a template, pointing at the line when there is one."""


class Names(list[str]):
    """Names that print as "A, B" but can still be looped over."""

    def __str__(self) -> str:
        return ", ".join(self)


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponents above {MAX_EXPONENT} are not allowed")
            return operator.pow(left, right)
        if op == "*":
            for seq, count in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
                if sized and len(seq) * count > MAX_REPEAT:
                    raise SecurityError(f"repetition longer than {MAX_REPEAT} is not allowed")
            return operator.mul(left, right)
        return super().call_binop(context, op, left, right)


# Filters that can only shrink or reshape what they are given. Left out on
# purpose: `center`, `indent`, `wordwrap`, `format`, `replace` (each can blow a
# short text up to gigabytes) and `safe` (it would switch off HTML escaping).
SAFE_FILTERS = (
    "default", "d", "upper", "lower", "title", "capitalize", "trim", "join", "length",
    "count", "first", "last", "sort", "list", "escape", "e", "striptags", "truncate",
    "wordcount", "int", "float", "round", "abs", "string", "unique", "reverse",
)  # fmt: skip


def _environment(autoescape: bool) -> _Sandbox:
    environment = _Sandbox(
        undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True
    )
    environment.filters = {name: environment.filters[name] for name in SAFE_FILTERS}
    # Only the sandbox's bounded range(); lipsum() and friends can make text of any size.
    environment.globals = {"range": environment.globals["range"]}
    return environment


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


def is_template(text: str) -> bool:
    return any(marker in text for marker in _MARKERS)


def _first_line(ast: nodes.Template, name: str) -> int:
    for node in ast.find_all(nodes.Name):
        if node.name == name:
            return int(node.lineno)
    return 1


def _check_fields(ast: nodes.Template) -> None:
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node  # type: ignore[attr-defined]
        if not isinstance(target, nodes.Name) or target.name not in FIELDS:
            continue
        key = node.arg if isinstance(node, nodes.Getitem) else None
        if isinstance(node, nodes.Getattr):
            field = node.attr
        elif isinstance(key, nodes.Const) and isinstance(key.value, str):
            field = key.value
        else:
            raise TemplateProblem(f"Line {node.lineno}: look up {target.name}'s fields by name.")
        if field not in FIELDS[target.name]:
            known = ", ".join(f"{target.name}.{f}" for f in FIELDS[target.name])
            raise TemplateProblem(
                f"Line {node.lineno}: {target.name} has no field '{field}'; use {known}."
            )


SAMPLE = {
    "recipient": {
        "full_name": "Sample Person",
        "email": "sample@example.org",
        "customers": Names(["Sample Organisation"]),
        "offerings": Names(["Sample Offering"]),
    },
    "message": {"subject": "Sample subject", "send_at": date(2026, 1, 1)},
}


def check_template(text: str, html: bool = False) -> None:
    """Raise TemplateProblem unless `text` renders safely for any recipient."""
    if not is_template(text):
        return
    environment = _HTML if html else _TEXT
    try:
        ast = environment.parse(text)
        # Compiling finds unknown filters and tests (TemplateAssertionError).
        undeclared = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"Line {exc.lineno}: {exc.message}") from exc
    unknown = sorted(undeclared - set(FIELDS) - _JINJA_GLOBALS)
    if unknown:
        name = unknown[0]
        raise TemplateProblem(
            f"Line {_first_line(ast, name)}: unknown variable '{name}'; "
            "use recipient.full_name, recipient.email, recipient.customers, "
            "recipient.offerings, message.subject or message.send_at."
        )
    _check_fields(ast)
    # A trial run with sample values catches what only shows when rendering
    # (the sandbox refusing an attribute, a range too large, a bad filter).
    render(text, SAMPLE, html=html)


def compile_template(text: str, html: bool = False) -> Template | None:
    """Compile once per message (compiling is what costs); None for plain text."""
    if not is_template(text):
        return None
    try:
        return (_HTML if html else _TEXT).from_string(text)
    except TemplateError as exc:
        raise TemplateProblem(f"cannot be compiled: {exc}") from exc


def render_compiled(template: Template | None, text: str, context: dict[str, Any]) -> str:
    """Render for one recipient; raises TemplateProblem on anything the sandbox refuses."""
    if template is None:
        return text
    try:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateProblem(f"the rendered text is longer than {MAX_OUTPUT} characters")
            parts.append(chunk)
        return "".join(parts)
    except TemplateProblem:
        raise
    except (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError) as exc:
        line = _template_line(exc)
        where = f"Line {line}: " if line else ""
        raise TemplateProblem(f"{where}cannot be rendered: {exc}") from exc
    except RecursionError as exc:
        raise TemplateProblem("cannot be rendered: it nests too deeply") from exc


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


def context_for(
    email: str,
    full_name: str,
    customers: Iterable[str],
    offerings: Iterable[str],
    subject: str,
    send_at: date | None,
) -> dict[str, Any]:
    return {
        "recipient": {
            "full_name": full_name,
            "email": email,
            "customers": Names(customers),
            "offerings": Names(offerings),
        },
        "message": {"subject": subject, "send_at": send_at},
    }
