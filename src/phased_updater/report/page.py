"""index.html: the report for people, rendered from a `ReportView` with Jinja2.

Autoescaping is on for every template, so a crash signature, a package name or a
reason can only ever appear as text. The page carries its own stylesheet and script
inline and loads nothing from anywhere: its Content-Security-Policy allows exactly
those two blocks (by hash), so even markup that slipped past escaping could not run.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Mapping

import jinja2
from markupsafe import Markup

from phased_updater.report.view import ReportView, UpdateView
from phased_updater.text import encodable


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _number(value: float) -> str:
    """1.0 as "1", 2.345 as "2.3": evidence reads better without trailing zeros."""
    text = f"{value:.1f}"
    return text.removesuffix(".0")


def _share(value: float) -> str:
    """A share of machines as a percentage, never rounded to 0% or 100% when it is not."""
    percent = value * 100
    if 0 < percent < 1:
        return f"{percent:.1f}%"
    if 99 < percent < 100:
        return "99%"
    return f"{percent:.0f}%"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("phased_updater.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship with the package: no stat of each file on every render
        # (a large report renders one page per update).
        auto_reload=False,
    )
    env.filters["number"] = _number
    env.filters["share"] = _share
    return env


def _bar_widths() -> str:
    """A class per percentage, `.w0` to `.w100`, for a short row's level bar.

    The Content-Security-Policy allows no style attribute, and a class costs a large
    report's row a few bytes where the full row's SVG bar costs some 200.
    """
    return "".join(f".bar .w{n}{{width:{n}%}}" for n in range(101)) + "\n"


@functools.cache
def _assets() -> tuple[str, str]:
    env = environment()
    # The loader reads them as plain text; they contain no template syntax.
    css = env.loader.get_source(env, "report.css")[0] if env.loader else ""
    script = env.loader.get_source(env, "report.js")[0] if env.loader else ""
    return css + _bar_widths(), script


def stylesheet() -> str:
    """The report's stylesheet, as the page carries it inline and its update pages link it."""
    return _assets()[0]


def render(
    view: ReportView,
    details_links: Mapping[str, str] | None = None,
) -> str:
    """index.html. `details_links`: where a large report's update pages are, by
    anchor, relative to it; without them, every row is whole."""
    css, script = _assets()
    template = environment().get_template("report.html")
    # `encodable`: the last defence, should text from outside have kept a lone surrogate.
    return encodable(
        template.render(
            view=view,
            details_links=None if view.details_inline else details_links,
            css=Markup(css),  # noqa: S704 - our own stylesheet, shipped with the package
            script=Markup(script),  # noqa: S704 - our own script, shipped with the package
            style_hash=_csp_hash(css),
            script_hash=_csp_hash(script),
        )
    )


def render_details(view: ReportView, update: UpdateView, *, back: str, stylesheet: str) -> str:
    """The page of one update of a large report: its whole row, log open.

    `back` is the report's page and `stylesheet` the report's stylesheet, as links
    relative to where this page is written.
    """
    details_page = environment().get_template("details.html").module.details_page  # type: ignore[attr-defined]
    return encodable(str(details_page(view, update, back, stylesheet)))
