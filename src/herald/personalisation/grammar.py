"""What a placeholder template may say, and what it can cost: decided on its syntax tree.

Staff need substitution (`{{ recipient.full_name }}`), filters that format
(`| upper`, `| default("colleague")`, `| join(", ")`), conditionals
(`{% if %}`, `a if b else c`, comparisons, `is` tests) and loops over the
recipient's own lists (`{% for name in recipient.customers %}`). That, and
nothing else, is allowed: no `range`, no method calls, no `set`, macros,
blocks, includes or recursion, no arithmetic and no nested loops. Every
other construct is refused when the template is written, naming its line.

Because the grammar is this small its cost can be bounded from the tree
alone, before anything runs. Every expression gets an upper bound on the
characters (and list items) its value can have, given the limits on what a
recipient's data can hold (`DataLimits`); every node costs work units, a
loop body counts once per item the longest list can have, and a branch
costs as much as its dearest arm. A template is refused when its bound on
work, on any one value or on the rendered text is over the limit. The
bound holds whatever branch a recipient takes; `bench/template_bench.py`
measures the worst accepted templates against it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from jinja2 import nodes

# What a recipient's data can hold when it reaches a template. The context
# is clipped to these (see `context_for`), so the bounds below are facts,
# not hopes about the directory.
MAX_ITEMS = 50  # names in recipient.customers / recipient.offerings
MAX_NAME = 150  # characters of a customer or offering name (Waldur's own limit)
MAX_FULL_NAME = 300  # characters of a full name (the directory's column)
MAX_EMAIL = 320  # characters of an address
MAX_SUBJECT = 1000  # characters of a subject (SPEC 2)
MAX_SEND_AT = 10  # "2026-01-01"

# Characters one rendering may produce. Mail readers clip far sooner (Gmail
# at about 100 kB); 300,000 characters keep one rendering under 1 MB in
# memory even when every character takes Python's four bytes.
MAX_OUTPUT = 300_000
MAX_VALUE = 100_000  # characters any one value inside it may have
MAX_WORK = 5_000  # work units one rendering may take (calibrated: about 1 µs each)
MAX_NODES = 5_000  # placeholder nodes in one template (compiling costs too)
MAX_BLOCK_DEPTH = 10  # `if`s and `for`s inside each other
MAX_EXPRESSION_DEPTH = 30  # filters, operators and brackets inside each other

CHARS_PER_UNIT = 1_000  # string work in C: about a microsecond per kilobyte
ITEMS_PER_UNIT = 2  # list work in Python (sorting with a key, escaping each item)
ESCAPE_GROWTH = 5  # HTML escaping turns one character into at most five ("&amp;")

FIELDS: dict[str, tuple[str, ...]] = {
    "recipient": ("full_name", "email", "customers", "offerings"),
    "message": ("subject", "send_at"),
}
LOOP_FIELDS = ("index", "index0", "revindex", "revindex0", "first", "last", "length")


class TemplateRefused(ValueError):
    """The template says something outside the grammar, or could cost too much."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"Line {line}: {problem}")


@dataclass(frozen=True)
class Bound:
    """The most a value can be: characters when printed, items when looped over."""

    chars: int
    items: int = 1
    is_list: bool = False

    @staticmethod
    def text(chars: int) -> Bound:
        return Bound(chars, max(1, chars))

    @staticmethod
    def names(items: int, chars_each: int) -> Bound:
        # printed as "A, B, C"
        return Bound(items * (chars_each + 2), items, is_list=True)

    def either(self, other: Bound) -> Bound:
        """The bound of a value that is one of two (`a or b`, `a if c else b`, a default)."""
        return Bound(
            max(self.chars, other.chars), max(self.items, other.items),
            self.is_list or other.is_list,
        )  # fmt: skip


NUMBER = Bound(32)
BOOLEAN = Bound(5)

_FIELD_BOUNDS = {
    ("recipient", "full_name"): Bound.text(MAX_FULL_NAME),
    ("recipient", "email"): Bound.text(MAX_EMAIL),
    ("recipient", "customers"): Bound.names(MAX_ITEMS, MAX_NAME),
    ("recipient", "offerings"): Bound.names(MAX_ITEMS, MAX_NAME),
    ("message", "subject"): Bound.text(MAX_SUBJECT),
    ("message", "send_at"): Bound.text(MAX_SEND_AT),
}
_LISTS = {("recipient", "customers"), ("recipient", "offerings")}


def _item_of(value: Bound) -> Bound:
    """One element of a list (a name) or of a text (a character)."""
    return Bound.text(MAX_NAME) if value.is_list else Bound.text(1)


# Filters: the keyword arguments each accepts, and the bound of its result
# from the bound of its input and of its arguments.
FilterRule = Callable[[Bound, Sequence[Bound]], Bound]


def _same(value: Bound, args: Sequence[Bound]) -> Bound:
    return value


def _as_text(value: Bound, args: Sequence[Bound]) -> Bound:
    return Bound.text(value.chars)


def _number(value: Bound, args: Sequence[Bound]) -> Bound:
    return Bound.text(max(NUMBER.chars, value.chars))


def _default(value: Bound, args: Sequence[Bound]) -> Bound:
    return value.either(args[0] if args else Bound.text(0))


def _join(value: Bound, args: Sequence[Bound]) -> Bound:
    separator = args[0].chars if args else 0
    items = value.items if value.is_list else value.chars
    each = MAX_NAME if value.is_list else 1
    return Bound.text(items * (each + separator))


def _truncate(value: Bound, args: Sequence[Bound]) -> Bound:
    end = args[2].chars if len(args) > 2 else 3
    return Bound.text(value.chars + end)


def _escape(value: Bound, args: Sequence[Bound]) -> Bound:
    return Bound.text(value.chars * ESCAPE_GROWTH)


def _as_list(value: Bound, args: Sequence[Bound]) -> Bound:
    if value.is_list:
        return value
    return Bound(value.chars * 3, value.chars, is_list=True)  # ['a', 'b']


def _pick(value: Bound, args: Sequence[Bound]) -> Bound:
    return _item_of(value)


@dataclass(frozen=True)
class FilterSpec:
    rule: FilterRule
    keywords: tuple[str, ...] = ()
    max_args: int = 0
    # Work units per character of input, for filters that walk text in Python
    # rather than in C (`title` handles every word on its own).
    per_char: float = 0.0


# Left out on purpose: `center`, `indent`, `wordwrap`, `format`, `replace`,
# `batch`, `slice`, `map`, `select`, `attr`, `items` (they make text of any
# size or reach into objects), `striptags` (a regular expression that is
# quadratic on text full of "<") and `safe` (it would switch off escaping).
FILTERS: dict[str, FilterSpec] = {
    "default": FilterSpec(_default, ("default_value", "boolean"), 2),
    "d": FilterSpec(_default, ("default_value", "boolean"), 2),
    "upper": FilterSpec(_as_text),
    "lower": FilterSpec(_as_text),
    "title": FilterSpec(_as_text, per_char=0.1),
    "capitalize": FilterSpec(_as_text),
    "trim": FilterSpec(_as_text, ("chars",), 1),
    "string": FilterSpec(_as_text),
    "escape": FilterSpec(_escape),
    "e": FilterSpec(_escape),
    "truncate": FilterSpec(_truncate, ("length", "killwords", "end", "leeway"), 4),
    "join": FilterSpec(_join, ("d",), 1),
    "length": FilterSpec(lambda value, args: NUMBER),
    "count": FilterSpec(lambda value, args: NUMBER),
    "wordcount": FilterSpec(lambda value, args: NUMBER, per_char=0.05),
    "int": FilterSpec(_number, ("default", "base"), 2),
    "float": FilterSpec(_number, ("default",), 1),
    "round": FilterSpec(_number, ("precision", "method"), 2),
    "abs": FilterSpec(_number),
    "first": FilterSpec(_pick),
    "last": FilterSpec(_pick),
    "sort": FilterSpec(_as_list, ("reverse", "case_sensitive"), 2),
    "unique": FilterSpec(_as_list, ("case_sensitive",), 1),
    "reverse": FilterSpec(_same),
    "list": FilterSpec(_as_list),
}

TESTS = frozenset([
    "defined", "undefined", "none", "true", "false", "boolean", "number", "integer", "float",
    "string", "sequence", "lower", "upper", "even", "odd", "divisibleby", "eq", "equalto", "ne",
    "lt", "le", "gt", "ge", "lessthan", "greaterthan", "in", "sameas",
])  # fmt: skip
_COMPARISONS = frozenset(["eq", "ne", "lt", "lteq", "gt", "gteq", "in", "notin"])


def _work_on(value: Bound) -> float:
    """Units to read, copy or sort a value of this bound."""
    return value.chars / CHARS_PER_UNIT + (value.items / ITEMS_PER_UNIT if value.is_list else 0)


@dataclass
class Cost:
    """A template's bound: the work and the rendered characters of its worst branch."""

    work: float = 0.0
    output: int = 0


@dataclass
class _Scope:
    loop_names: dict[str, Bound] = field(default_factory=dict)
    in_loop: bool = False


class Checker:
    """Walks a parsed template: refuses what the grammar does not allow, bounds the rest."""

    def __init__(self, html: bool) -> None:
        self.html = html
        self.parts = 0  # placeholder parts seen, for MAX_NODES

    # --- statements ----------------------------------------------------

    def template(self, tree: nodes.Template) -> Cost:
        cost, dearest, line = Cost(), 0.0, 1
        for node in tree.body:
            part = self._statement(node, _Scope(), depth=0)
            cost.work += part.work
            cost.output += part.output
            if part.work + part.output / CHARS_PER_UNIT > dearest:
                dearest, line = part.work + part.output / CHARS_PER_UNIT, node.lineno
        # A bound over the limit names the line of the statement that costs most.
        if cost.work > MAX_WORK:
            raise TemplateRefused(
                line,
                f"this template could take {cost.work:,.0f} units of work for one recipient "
                f"(a loop counts once per name, up to {MAX_ITEMS}); the limit is {MAX_WORK:,}. "
                "Use fewer placeholders, especially inside loops.",
            )
        if cost.output > MAX_OUTPUT:
            raise TemplateRefused(
                line,
                f"this template could print {cost.output:,} characters for one recipient "
                f"(a loop prints once per name, up to {MAX_ITEMS}); the limit is "
                f"{MAX_OUTPUT:,}. Move long text out of loops.",
            )
        return cost

    def _body(self, body: Sequence[nodes.Node], scope: _Scope, depth: int) -> Cost:
        total = Cost()
        for node in body:
            part = self._statement(node, scope, depth)
            total.work += part.work
            total.output += part.output
        return total

    def _statement(self, node: nodes.Node, scope: _Scope, depth: int) -> Cost:
        if isinstance(node, nodes.Output):
            return self._output(node, scope)
        if depth >= MAX_BLOCK_DEPTH:
            raise TemplateRefused(
                node.lineno, f"blocks nest more than {MAX_BLOCK_DEPTH} deep; flatten them"
            )
        if isinstance(node, nodes.If):
            return self._if(node, scope, depth)
        if isinstance(node, nodes.For):
            return self._for(node, scope, depth)
        raise TemplateRefused(node.lineno, _statement_name(node))

    def _output(self, node: nodes.Output, scope: _Scope) -> Cost:
        cost = Cost()
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                cost.output += len(child.data)
                continue
            value, work = self._expression(child, scope, 0)
            printed = value.chars * (ESCAPE_GROWTH if self.html else 1)
            cost.output += printed
            cost.work += 1 + work + printed / CHARS_PER_UNIT
        return cost

    def _if(self, node: nodes.If, scope: _Scope, depth: int) -> Cost:
        # Every test may run; only one arm does: the dearest arm bounds it.
        work = 0.0
        arms = []
        for branch in [node, *node.elif_]:
            test, test_work = self._expression(branch.test, scope, 0)
            work += 1 + test_work
            arms.append(self._body(branch.body, scope, depth + 1))
        arms.append(self._body(node.else_, scope, depth + 1))
        return Cost(
            work + max(arm.work for arm in arms),
            max(arm.output for arm in arms),
        )

    def _for(self, node: nodes.For, scope: _Scope, depth: int) -> Cost:
        if scope.in_loop:
            raise TemplateRefused(
                node.lineno, "a loop inside a loop is not allowed; loop over one list at a time"
            )
        if node.recursive:
            raise TemplateRefused(node.lineno, "recursive loops are not allowed")
        if not isinstance(node.target, nodes.Name):
            raise TemplateRefused(node.lineno, "loop over one name at a time: {% for name in … %}")
        if node.target.name in FIELDS or node.target.name == "loop":
            raise TemplateRefused(
                node.lineno, f"'{node.target.name}' is taken; call the loop variable otherwise"
            )
        self._require_recipient_list(node.iter)
        items, iter_work = self._expression(node.iter, scope, 0)
        inner = _Scope({**scope.loop_names, node.target.name: _item_of(items)}, in_loop=True)
        each = 1.0
        if node.test is not None:
            _, test_work = self._expression(node.test, inner, 0)
            each += test_work
        body = self._body(node.body, inner, depth + 1)
        otherwise = self._body(node.else_, scope, depth + 1)
        rounds = items.items
        return Cost(
            iter_work + rounds * (each + body.work) + otherwise.work,
            max(rounds * body.output, otherwise.output),
        )

    def _require_recipient_list(self, node: nodes.Node) -> None:
        """Loops go over the recipient's own lists, sorted or not, and nothing else."""
        while (
            isinstance(node, nodes.Filter)
            and node.name in ("sort", "unique", "reverse")
            and node.node is not None
        ):
            node = node.node
        if (
            isinstance(node, nodes.Getattr)
            and isinstance(node.node, nodes.Name)
            and (node.node.name, node.attr) in _LISTS
        ):
            return
        raise TemplateRefused(
            node.lineno,
            "loops go over recipient.customers or recipient.offerings only "
            "(optionally | sort, | unique or | reverse)",
        )

    # --- expressions ---------------------------------------------------

    def _expression(self, node: nodes.Node, scope: _Scope, depth: int) -> tuple[Bound, float]:
        """The bound of an expression's value and the work to compute it."""
        self.parts += 1
        if self.parts > MAX_NODES:
            raise TemplateRefused(
                node.lineno, f"more than {MAX_NODES:,} placeholder parts; split the message"
            )
        if depth >= MAX_EXPRESSION_DEPTH:
            raise TemplateRefused(
                node.lineno,
                f"an expression nests more than {MAX_EXPRESSION_DEPTH} deep; simplify it",
            )
        value, work = self._value(node, scope, depth + 1)
        if value.chars > MAX_VALUE:
            raise TemplateRefused(
                node.lineno,
                f"this expression could make a text of {value.chars:,} characters; "
                f"the limit is {MAX_VALUE:,}",
            )
        return value, work

    def _value(self, node: nodes.Node, scope: _Scope, depth: int) -> tuple[Bound, float]:
        if isinstance(node, nodes.Const):
            return self._const(node)
        if isinstance(node, nodes.Name):
            return self._name(node, scope), 1
        if isinstance(node, nodes.Getattr):
            return self._field(node, node.attr, scope), 1
        if isinstance(node, nodes.Getitem):
            return self._getitem(node, scope, depth)
        if isinstance(node, nodes.Filter):
            return self._filter(node, scope, depth)
        if isinstance(node, nodes.Test):
            return self._test(node, scope, depth)
        if isinstance(node, nodes.Compare):
            return self._compare(node, scope, depth)
        if isinstance(node, nodes.And | nodes.Or):
            left, left_work = self._expression(node.left, scope, depth)
            right, right_work = self._expression(node.right, scope, depth)
            return left.either(right), 1 + left_work + right_work
        if isinstance(node, nodes.Not):
            _, work = self._expression(node.node, scope, depth)
            return BOOLEAN, 1 + work
        if isinstance(node, nodes.CondExpr):
            return self._conditional(node, scope, depth)
        if isinstance(node, nodes.Concat):
            chars, work = 0, 1.0
            for part in node.nodes:
                value, part_work = self._expression(part, scope, depth)
                chars += value.chars
                work += part_work
            return Bound.text(chars), work + chars / CHARS_PER_UNIT
        if isinstance(node, nodes.List | nodes.Tuple):
            return self._literal_list(node, scope, depth)
        if isinstance(node, nodes.Neg | nodes.Pos) and isinstance(node.node, nodes.Const):
            value, _ = self._const(node.node)
            return Bound.text(value.chars + 1), 1
        raise TemplateRefused(node.lineno, _expression_name(node))

    def _const(self, node: nodes.Const) -> tuple[Bound, float]:
        if isinstance(node.value, str):
            return Bound.text(len(node.value)), 1
        if isinstance(node.value, bool) or node.value is None:
            return BOOLEAN, 1
        if isinstance(node.value, int | float):
            return Bound.text(len(repr(node.value))), 1
        raise TemplateRefused(node.lineno, f"the value {node.value!r} is not allowed")

    def _name(self, node: nodes.Name, scope: _Scope) -> Bound:
        if node.name in scope.loop_names:
            return scope.loop_names[node.name]
        if node.name in FIELDS:
            fields = ", ".join(f"{node.name}.{f}" for f in FIELDS[node.name])
            raise TemplateRefused(node.lineno, f"use one of {node.name}'s fields: {fields}")
        if node.name == "loop" and scope.in_loop:
            raise TemplateRefused(
                node.lineno, f"use one of loop's fields: {', '.join(LOOP_FIELDS)}"
            )
        raise TemplateRefused(
            node.lineno,
            f"unknown variable '{node.name}'; use recipient.full_name, recipient.email, "
            "recipient.customers, recipient.offerings, message.subject or message.send_at.",
        )

    def _field(self, node: nodes.Expr, name: object, scope: _Scope) -> Bound:
        """`recipient.x`, `message.x` or `loop.x`: the only things with fields."""
        target = getattr(node, "node", None)  # Getattr and Getitem both have one
        if not isinstance(target, nodes.Name):
            raise TemplateRefused(
                node.lineno,
                "only recipient, message and loop have fields; "
                "methods and attributes of values are not allowed",
            )
        if target.name == "loop" and scope.in_loop:
            if name in LOOP_FIELDS:
                return NUMBER
            raise TemplateRefused(
                node.lineno, f"loop has no field '{name}'; use {', '.join(LOOP_FIELDS)}"
            )
        if target.name not in FIELDS:
            if target.name in scope.loop_names:
                raise TemplateRefused(
                    node.lineno,
                    f"'{target.name}' is a name (text); it has no fields or methods",
                )
            self._name(target, scope)  # raises: unknown variable
        if not isinstance(name, str) or name not in FIELDS[target.name]:
            known = ", ".join(f"{target.name}.{f}" for f in FIELDS[target.name])
            raise TemplateRefused(node.lineno, f"{target.name} has no field '{name}'; use {known}.")
        return _FIELD_BOUNDS[(target.name, name)]

    def _getitem(self, node: nodes.Getitem, scope: _Scope, depth: int) -> tuple[Bound, float]:
        key = node.arg
        if isinstance(node.node, nodes.Name) and node.node.name in FIELDS:
            if isinstance(key, nodes.Const) and isinstance(key.value, str):
                return self._field(node, key.value, scope), 1
            raise TemplateRefused(node.lineno, f"look up {node.node.name}'s fields by name")
        if not (isinstance(key, nodes.Const) and type(key.value) is int):
            raise TemplateRefused(
                node.lineno, "an index must be a whole number, as in recipient.customers[0]"
            )
        value, work = self._expression(node.node, scope, depth)
        return _item_of(value), 1 + work

    def _arguments(
        self, node: nodes.Filter | nodes.Test, keywords: tuple[str, ...], max_args: int,
        scope: _Scope, depth: int,
    ) -> tuple[list[Bound], float]:  # fmt: skip
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise TemplateRefused(node.lineno, f"'{node.name}' takes its arguments written out")
        if len(node.args) + len(node.kwargs) > max_args:
            raise TemplateRefused(
                node.lineno, f"'{node.name}' takes at most {max_args} argument(s)"
            )
        bounds, work = [], 0.0
        for arg in node.args:
            value, arg_work = self._expression(arg, scope, depth)
            bounds.append(value)
            work += arg_work
        for keyword in node.kwargs:
            if keyword.key not in keywords:
                allowed = ", ".join(keywords) or "none"
                raise TemplateRefused(
                    node.lineno,
                    f"'{node.name}' has no argument '{keyword.key}' (it takes: {allowed})",
                )
            value, arg_work = self._expression(keyword.value, scope, depth)
            position = keywords.index(keyword.key)
            while len(bounds) <= position:
                bounds.append(Bound.text(0))
            bounds[position] = value
            work += arg_work
        return bounds, work

    def _filter(self, node: nodes.Filter, scope: _Scope, depth: int) -> tuple[Bound, float]:
        spec = FILTERS.get(node.name)
        if spec is None:
            raise TemplateRefused(
                node.lineno,
                f"No filter named '{node.name}'. Filters: {', '.join(sorted(FILTERS))}.",
            )
        if node.node is None:
            raise TemplateRefused(node.lineno, "filter blocks are not allowed")
        value, work = self._expression(node.node, scope, depth)
        args, arg_work = self._arguments(node, spec.keywords, spec.max_args, scope, depth)
        result = spec.rule(value, args)
        scanned = _work_on(value) + _work_on(result) + value.chars * spec.per_char
        return result, 1 + work + arg_work + scanned

    def _test(self, node: nodes.Test, scope: _Scope, depth: int) -> tuple[Bound, float]:
        if node.name not in TESTS:
            raise TemplateRefused(
                node.lineno, f"No test named '{node.name}'. Tests: {', '.join(sorted(TESTS))}."
            )
        value, work = self._expression(node.node, scope, depth)
        args, arg_work = self._arguments(node, (), 1, scope, depth)
        scanned = sum((_work_on(arg) for arg in args), _work_on(value))
        return BOOLEAN, 1 + work + arg_work + scanned

    def _compare(self, node: nodes.Compare, scope: _Scope, depth: int) -> tuple[Bound, float]:
        value, work = self._expression(node.expr, scope, depth)
        work += _work_on(value)
        for operand in node.ops:
            if operand.op not in _COMPARISONS:
                raise TemplateRefused(node.lineno, f"the comparison '{operand.op}' is not allowed")
            other, other_work = self._expression(operand.expr, scope, depth)
            work += 1 + other_work + _work_on(other)
        return BOOLEAN, work

    def _conditional(self, node: nodes.CondExpr, scope: _Scope, depth: int) -> tuple[Bound, float]:
        if node.expr2 is None:
            raise TemplateRefused(
                node.lineno, "an inline if needs an else: {{ a if condition else b }}"
            )
        _, test_work = self._expression(node.test, scope, depth)
        first, first_work = self._expression(node.expr1, scope, depth)
        second, second_work = self._expression(node.expr2, scope, depth)
        return first.either(second), 1 + test_work + max(first_work, second_work)

    def _literal_list(
        self, node: nodes.List | nodes.Tuple, scope: _Scope, depth: int
    ) -> tuple[Bound, float]:
        chars, work = 2, 1.0
        for item in node.items:
            value, item_work = self._expression(item, scope, depth)
            chars += value.chars + 2
            work += item_work
        items = max(1, len(node.items))
        return Bound(chars, items, is_list=True), work


def _statement_name(node: nodes.Node) -> str:
    refused = {
        nodes.Assign: "{% set %} is not allowed; write the value where it is used",
        nodes.AssignBlock: "{% set %} is not allowed; write the value where it is used",
        nodes.Macro: "macros are not allowed",
        nodes.CallBlock: "{% call %} is not allowed",
        nodes.FilterBlock: "{% filter %} blocks are not allowed; filter each placeholder",
        nodes.With: "{% with %} is not allowed",
        nodes.Block: "{% block %} is not allowed",
        nodes.Extends: "{% extends %} is not allowed",
        nodes.Include: "{% include %} is not allowed",
        nodes.Import: "{% import %} is not allowed",
        nodes.FromImport: "{% import %} is not allowed",
    }
    for kind, text in refused.items():
        if isinstance(node, kind):
            return text
    return f"{type(node).__name__.lower()} statements are not allowed"


def _expression_name(node: nodes.Node) -> str:
    if isinstance(node, nodes.Call):
        return "calling functions or methods is not allowed; use a filter, as in | upper"
    if isinstance(node, nodes.Mul | nodes.Pow | nodes.Div | nodes.FloorDiv | nodes.Mod):
        return "arithmetic is not allowed in placeholders"
    if isinstance(node, nodes.Add | nodes.Sub | nodes.Neg | nodes.Pos):
        return "arithmetic is not allowed in placeholders; join texts with ~"
    if isinstance(node, nodes.Dict):
        return "dictionaries are not allowed"
    if isinstance(node, nodes.Slice):
        return "slices are not allowed; use | first, | last or | truncate"
    return f"{type(node).__name__} is not allowed in placeholders"
