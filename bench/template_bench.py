"""The cost bound of personalisation, measured: the worst templates Herald accepts.

    python bench/template_bench.py [--repeat 200]

For each shape of template below, the largest one the write-time check still
accepts is found (a binary search on how often a snippet repeats), then
rendered `--repeat` times for the most expensive recipient the bound allows:
a 300-character name, 50 organisations and 50 offerings of 150 characters
each (the most a template sees), full of characters HTML must escape.
Printed per shape: its size, the bound the checker computed, the median
and worst time of one rendering, and the peak memory one rendering
allocates (tracemalloc), beside its output. Targets (issue 9): under 10 ms
and 1 MB for one recipient, whatever the branch. The floor is rendering the
same number of characters of plain text: what any mail of that size costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from jinja2 import Template  # noqa: E402

from herald.personalisation import (  # noqa: E402
    TemplateProblem,
    bound,
    check_template,
    compile_template,
    context_for,
    render_compiled,
)
from herald.personalisation.grammar import MAX_ITEMS, MAX_NAME  # noqa: E402

BODY_MAX = 1_000_000

# Each shape: a head, a snippet repeated as often as the check allows, a tail.
SHAPES: dict[str, tuple[str, str, str, bool]] = {
    "placeholders": ("Dear ", "{{ recipient.full_name }} ", "", False),
    "filters on lists": ("", "{{ recipient.customers | sort | join('; ') | upper }}\n", "", False),
    "escaped lists (HTML)": ("<p>", "{{ recipient.offerings }}<br>", "</p>", True),
    "loop body": (
        "<ul>{% for name in recipient.customers | sort %}",
        "<li>{{ loop.index }} {{ name | title }}</li>",
        "{% endfor %}</ul>",
        True,
    ),
    "tests and branches": (
        "",
        "{% if 'x' in recipient.offerings %}a{% elif recipient.full_name is lower %}"
        "{{ recipient.customers | length }}{% else %}{{ recipient.email }}{% endif %}",
        "",
        False,
    ),
    "loop: tests and lookups": (
        "{% for name in recipient.offerings if name %}",
        "{% if name in recipient.customers %}{{ loop.revindex }}{% endif %}"
        "{{ recipient.customers[0] | lower }}",
        "{% endfor %}",
        False,
    ),
    "loop: escaping": (
        "{% for name in recipient.customers %}",
        "<b>{{ name }}</b>",
        "{% endfor %}",
        True,
    ),
    "text filters": ("", "{{ message.subject | title | wordcount }}", "", False),
    "list filters": (
        "",
        "{{ recipient.customers | unique(false) | sort(false, false) | join(', ') }}",
        "",
        True,
    ),
    "text with one placeholder": ("Dear {{ recipient.full_name }},\n", "x" * 1000, "", False),
}


def _accepted(text: str, html: bool) -> bool:
    if len(text) > BODY_MAX:
        return False
    try:
        check_template(text, html)
    except TemplateProblem:
        return False
    return True


def largest(head: str, snippet: str, tail: str, html: bool) -> str:
    low, high = 1, 2
    while _accepted(head + snippet * high + tail, html):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if _accepted(head + snippet * middle + tail, html):
            low = middle
        else:
            high = middle
    return head + snippet * low + tail


def worst_recipient() -> dict[str, object]:
    nasty = '<&">' * (MAX_NAME // 4)
    return context_for(
        "x" * 60 + "@example.org",
        ("<&\"'" * 100)[:300],
        [f"{n:03d}{nasty}"[:MAX_NAME] for n in range(MAX_ITEMS)],
        [f"{n:03d}{nasty}"[:MAX_NAME] for n in range(MAX_ITEMS)],
        "Subject " * 120,
        None,
    )


def _measure(render: Callable[[], str], repeat: int) -> tuple[float, float, int, int]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        output = render()
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    output = render()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), max(times), peak, len(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    context = worst_recipient()
    print(f"{'shape':28} {'chars':>9} {'work':>6} {'median':>8} {'worst':>8} "
          f"{'peak':>9} {'output':>9} {'floor':>8}")  # fmt: skip
    worst_ms, worst_peak = 0.0, 0
    for name, (head, snippet, tail, html) in SHAPES.items():
        text = largest(head, snippet, tail, html)
        limit = bound(text, html)
        template: Template | None = compile_template(text, html)
        median, worst, peak, size = _measure(
            lambda t=template, s=text: render_compiled(t, s, context), args.repeat
        )
        plain = "y" * size
        floor, _, _, _ = _measure(lambda p=plain: "".join([p[: len(p) // 2], p[len(p) // 2 :]]), 20)
        worst_ms, worst_peak = max(worst_ms, worst * 1000), max(worst_peak, peak)
        print(
            f"{name:28} {len(text):>9,} {limit.work:>6,.0f} {median * 1000:>6.2f}ms "
            f"{worst * 1000:>6.2f}ms {peak / 1e6:>7.2f}MB {size:>9,} {floor * 1000:>6.2f}ms"
        )
    print(
        f"\nworst single rendering: {worst_ms:.2f} ms (target < 10 ms), "
        f"peak {worst_peak / 1e6:.2f} MB (target < 1 MB)"
    )


if __name__ == "__main__":
    main()
