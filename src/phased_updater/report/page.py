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

import jinja2
from markupsafe import Markup

from phased_updater.report.view import ReportView
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
    )
    env.filters["number"] = _number
    env.filters["share"] = _share
    return env


@functools.cache
def _assets() -> tuple[str, str]:
    env = environment()
    # The loader reads them as plain text; they contain no template syntax.
    css = env.loader.get_source(env, "report.css")[0] if env.loader else ""
    script = env.loader.get_source(env, "report.js")[0] if env.loader else ""
    return css, script


def render(view: ReportView) -> str:
    css, script = _assets()
    template = environment().get_template("report.html")
    # `encodable`: the last defence, should text from outside have kept a lone surrogate.
    return encodable(
        template.render(
            view=view,
            css=Markup(css),  # noqa: S704 - our own stylesheet, shipped with the package
            script=Markup(script),  # noqa: S704 - our own script, shipped with the package
            style_hash=_csp_hash(css),
            script_hash=_csp_hash(script),
        )
    )
