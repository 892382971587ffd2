"""The WADL the Launchpad double serves, and what the double reads from it.

The double serves the WADL that launchpadlib itself ships
(``launchpadlib/testing/launchpad-wadl.xml``), so the client sees the same
map of the service it would see in production. That file describes API
version 1.0 and lacks devel's parts the phaser uses, which are patched in here
(as Launchpad's ``lib/lp/soyuz/interfaces/publishing.py`` and ``archive.py`` declare
them):

- ``binary_package_publishing_history``: the ``changeOverride`` POST named
  operation and the ``is_debug`` field;
- ``source_package_publishing_history-getPublishedBinaries``: the
  ``active_binaries_only`` parameter;
- ``archive-getPublishedBinaries`` and ``archive-getPublishedSources``: the
  ``order_by_date_ascending`` parameter (Launchpad added it in January 2025);
- every page representation: ``total_size`` optional and a ``total_size_link``
  (lazr.restful's ``templates/wadl-root.pt`` for a version from
  ``first_version_with_total_size_link`` on, which Launchpad makes devel).

The patched text is built once per process (the file is 1.5 MB); each double
then substitutes its own base URL. The same patched document is parsed into
a `WadlSchema`, which is what the double renders entries from and validates
named-operation calls against, so the double cannot drift from what it serves.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

# The base URL written in launchpadlib's shipped WADL; replaced by each double's base.
SHIPPED_BASE = "https://api.launchpad.test/1.0/"
WADL_MEDIA_TYPE = "application/vnd.sun.wadl+xml"

_NS = "{http://research.sun.com/wadl/2006/10}"

_IS_DEBUG_FIELD = """\
      <wadl:param style="plain" required="true" name="is_debug" path="$['is_debug']">
        <wadl:doc xmlns="http://www.w3.org/1999/xhtml">
<p>Debug Package</p>
<p>Is this a debug package publication?</p>
</wadl:doc>
      </wadl:param>
"""

_CHANGE_OVERRIDE_METHOD = f"""\
      <wadl:method id="binary_package_publishing_history-changeOverride" name="POST">
        <wadl:doc xmlns="http://www.w3.org/1999/xhtml">
<p>Change the component, section, priority and/or phased update percentage
of this publication.</p>
<p>It is changed only if the argument is not None. Returns the new
publication record, or None if nothing changed.</p>
</wadl:doc>
        <wadl:request>
          <wadl:representation mediaType="application/x-www-form-urlencoded">
            <wadl:param style="query" name="ws.op" required="true" fixed="changeOverride"/>
            <wadl:param style="query" name="new_component" required="false"/>
            <wadl:param style="query" name="new_section" required="false"/>
            <wadl:param style="query" name="new_priority" required="false">
              <wadl:option value="Required"/>
              <wadl:option value="Important"/>
              <wadl:option value="Standard"/>
              <wadl:option value="Optional"/>
              <wadl:option value="Extra"/>
            </wadl:param>
            <wadl:param style="query" name="new_phased_update_percentage" required="false">
              <wadl:doc xmlns="http://www.w3.org/1999/xhtml">
An integer: the new phased update percentage.
</wadl:doc>
            </wadl:param>
          </wadl:representation>
        </wadl:request>
        <wadl:response>
          <wadl:representation href="{SHIPPED_BASE}#binary_package_publishing_history-full"/>
        </wadl:response>
      </wadl:method>
"""

_ACTIVE_BINARIES_ONLY_PARAM = """
            <wadl:param style="query" name="active_binaries_only" required="false">
              <wadl:doc xmlns="http://www.w3.org/1999/xhtml">
A boolean: only return binaries whose publishing status is active.
</wadl:doc>
            </wadl:param>"""

_TOTAL_SIZE_PARAM = """<wadl:param style="plain" name="total_size" path="$['total_size']" """
_TOTAL_SIZE_1_0 = _TOTAL_SIZE_PARAM + 'required="true"/>'
_TOTAL_SIZE_DEVEL = (
    _TOTAL_SIZE_PARAM
    + """required="false"/>

      <wadl:param style="plain" name="total_size_link" path="$['total_size_link']" required="false">
        <wadl:link resource_type="#ScalarValue"/>
      </wadl:param>"""
)

_ORDER_BY_DATE_ASCENDING_PARAM = """
            <wadl:param style="query" name="order_by_date_ascending" required="false">
              <wadl:doc xmlns="http://www.w3.org/1999/xhtml">
<p>Order by ascending creation date</p>
<p>Return oldest results first.</p>
</wadl:doc>
            </wadl:param>"""


def _shipped_wadl_path() -> Path:
    spec = importlib.util.find_spec("launchpadlib")
    if spec is None or spec.origin is None:
        raise RuntimeError("launchpadlib is not installed")
    path = Path(spec.origin).parent / "testing" / "launchpad-wadl.xml"
    if not path.is_file():
        raise RuntimeError(f"launchpadlib ships no WADL at {path}")
    return path


def _insert_before(text: str, anchor: str, start: int, insertion: str) -> str:
    at = text.find(anchor, start)
    if at < 0:
        raise RuntimeError(f"WADL patch anchor not found: {anchor!r}")
    return text[:at] + insertion + text[at:]


def _section_start(text: str, marker: str) -> int:
    at = text.find(marker)
    if at < 0:
        raise RuntimeError(f"WADL section not found: {marker!r}")
    return at


@functools.cache
def patched_wadl_template() -> str:
    """launchpadlib's WADL with the devel-only parts added, still on SHIPPED_BASE."""
    text = _shipped_wadl_path().read_text(encoding="utf-8")
    if 'id="binary_package_publishing_history-changeOverride"' not in text:
        start = _section_start(text, '<wadl:resource_type id="binary_package_publishing_history">')
        text = _insert_before(text, "    </wadl:resource_type>", start, _CHANGE_OVERRIDE_METHOD)
    full = _section_start(text, 'id="binary_package_publishing_history-full"')
    full_end = text.find("</wadl:representation>", full)
    if text.find('name="is_debug"', full, full_end) < 0:
        text = _insert_before(
            text,
            '      <wadl:param style="plain" required="true" name="phased_update_percentage"',
            full,
            _IS_DEBUG_FIELD,
        )
    text = _with_param(
        text,
        "source_package_publishing_history-getPublishedBinaries",
        "active_binaries_only",
        _ACTIVE_BINARIES_ONLY_PARAM,
    )
    for method_id in ("archive-getPublishedBinaries", "archive-getPublishedSources"):
        text = _with_param(
            text, method_id, "order_by_date_ascending", _ORDER_BY_DATE_ASCENDING_PARAM
        )
    if 'name="total_size_link"' not in text:
        text = text.replace(_TOTAL_SIZE_1_0, _TOTAL_SIZE_DEVEL)
    return text.replace("About version 1.0", "About version devel")


def _with_param(text: str, method_id: str, name: str, param: str) -> str:
    """`text` with `param` added to the named operation `method_id`, unless it has one."""
    method = _section_start(text, f'id="{method_id}"')
    method_end = text.find("</wadl:method>", method)
    if text.find(f'name="{name}"', method, method_end) >= 0:
        return text
    operation = method_id.split("-", 1)[1]
    ws_op = f'<wadl:param style="query" name="ws.op" required="true" fixed="{operation}"/>'
    at = text.find(ws_op, method, method_end)
    if at < 0:
        raise RuntimeError(f"WADL patch anchor not found: {operation} ws.op")
    at += len(ws_op)
    return text[:at] + param + text[at:]


@functools.lru_cache(maxsize=16)
def wadl_document(base: str) -> tuple[bytes, str]:
    """The WADL served under `base` (``http://HOST:PORT/devel/``) and its ETag."""
    body = patched_wadl_template().replace(SHIPPED_BASE, base).encode("utf-8")
    return body, '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a named operation."""

    name: str
    required: bool
    options: tuple[str, ...]
    xsd_type: str | None
    fixed: str | None


@dataclass(frozen=True)
class OperationSpec:
    """A named operation (``ws.op``) of one resource type."""

    name: str
    http_method: str
    params: dict[str, ParamSpec]


@dataclass(frozen=True)
class WadlSchema:
    """What the double needs to know from the WADL it serves."""

    # Entry type -> the field names of its JSON representation, in WADL order.
    fields: dict[str, tuple[str, ...]]
    # Resource type -> named operations by ws.op name.
    operations: dict[str, dict[str, OperationSpec]]
    # Field names of the service root's JSON representation.
    service_root_links: tuple[str, ...]

    def field_names(self, entry_type: str) -> tuple[str, ...]:
        try:
            return self.fields[entry_type]
        except KeyError:
            raise KeyError(f"the WADL has no entry type {entry_type!r}") from None


def _param_spec(element: ET.Element) -> ParamSpec:
    return ParamSpec(
        name=element.get("name", ""),
        required=element.get("required") == "true",
        options=tuple(o.get("value", "") for o in element.findall(f"{_NS}option")),
        xsd_type=element.get("type"),
        fixed=element.get("fixed"),
    )


def _operation(method: ET.Element) -> OperationSpec | None:
    request = method.find(f"{_NS}request")
    if request is None:
        return None
    params = {p.get("name", ""): _param_spec(p) for p in request.iter(f"{_NS}param")}
    ws_op = params.pop("ws.op", None)
    if ws_op is None or ws_op.fixed is None:
        return None
    return OperationSpec(name=ws_op.fixed, http_method=method.get("name", ""), params=params)


@functools.cache
def schema() -> WadlSchema:
    """Parse the patched WADL once per process."""
    text = patched_wadl_template()
    # ElementTree cannot use the DOCTYPE's entity; it declares only &nbsp;.
    text = re.sub(r"<!DOCTYPE.*?\]>", "", text, count=1, flags=re.DOTALL)
    # The document is launchpadlib's own file, not untrusted input.
    root = ET.fromstring(text.replace("&nbsp;", "&#160;"))  # noqa: S314
    fields: dict[str, tuple[str, ...]] = {}
    operations: dict[str, dict[str, OperationSpec]] = {}
    service_root_links: tuple[str, ...] = ()
    for representation in root.findall(f"{_NS}representation"):
        rep_id = representation.get("id", "")
        names = tuple(p.get("name", "") for p in representation.findall(f"{_NS}param"))
        if rep_id.endswith("-full"):
            fields[rep_id.removesuffix("-full")] = names
        elif rep_id == "service-root-json":
            service_root_links = names
    for resource_type in root.findall(f"{_NS}resource_type"):
        ops: dict[str, OperationSpec] = {}
        for method in resource_type.findall(f"{_NS}method"):
            op = _operation(method)
            if op is not None:
                ops[op.name] = op
        operations[resource_type.get("id", "")] = ops
    return WadlSchema(fields=fields, operations=operations, service_root_links=service_root_links)
