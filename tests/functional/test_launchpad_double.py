"""The Launchpad double, driven through the real launchpadlib (and raw HTTP where needed)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from launchpadlib.credentials import AccessToken, Credentials
from launchpadlib.launchpad import Launchpad
from lazr.restfulclient.errors import BadRequest, ServerError, Unauthorized

from tests.doubles.launchpad import Fault, LaunchpadDouble, write_credentials_file
from tests.doubles.launchpad_render import REDACTED, WadlMismatch
from tests.doubles.scenario import Binary, Person, Scenario, Series, Upload
from tests.doubles.scenarios import (
    CLEAN_UPDATE,
    CRASHING_UPDATE,
    DEMO_NOW,
    SIZED_NOW,
    sized,
)
from tests.doubles.wadl import schema

# The `make_launchpad` fixture of conftest.py.
MakeLaunchpad = Callable[..., LaunchpadDouble]
APP = "phased-updater-tests"
DEVEL = "devel"
TOKEN = "token-1"
SECRET = "s3cret&more"  # an "&" checks the PLAINTEXT signature's escaping


def anonymous(double: LaunchpadDouble, directory: Path) -> Any:
    return Launchpad.login_anonymously(
        APP,
        service_root=double.service_root,
        version=DEVEL,
        launchpadlib_dir=str(directory),
        proxy_info=None,
    )


def authenticated(
    double: LaunchpadDouble,
    directory: Path,
    *,
    admin: bool = True,
    token: str = TOKEN,
    secret: str = SECRET,
    register: bool = True,
) -> Any:
    if register:
        double.add_token(APP, token, secret, admin=admin)
    credentials = Credentials(consumer_name=APP, access_token=AccessToken(token, secret))
    return Launchpad(
        credentials,
        None,
        None,
        service_root=double.service_root,
        version=DEVEL,
        cache=str(directory / "cache"),
        proxy_info=None,
    )


def raw_get(url: str, accept: str = "application/json") -> tuple[int, str, bytes]:
    """GET without launchpadlib and without any proxy from the environment."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with opener.open(request) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def updates_source(lp: Any, series: str, source: str, version: str) -> Any:
    archive = lp.distributions["ubuntu"].main_archive
    found = archive.getPublishedSources(
        distro_series=lp.distributions["ubuntu"].getSeries(name_or_version=series),
        pocket="Updates",
        status="Published",
        source_name=source,
        version=version,
        exact_match=True,
    )
    (spph,) = list(found)
    return spph


def binary_named(spph: Any, name: str, arch: str = "amd64") -> Any:
    for bpph in spph.getPublishedBinaries():
        if bpph.binary_package_name == name and bpph.distro_arch_series_link.endswith(arch):
            return bpph
    raise AssertionError(f"{name} not published for {arch}")


# -- service root and WADL -----------------------------------------------------


def test_login_fetches_wadl_then_root_and_revalidates_with_a_warm_cache(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    anonymous(launchpad, tmp_path)
    first = [(r.method, r.path, r.status) for r in launchpad.requests]
    assert first == [("GET", "/devel/", 200), ("GET", "/devel/", 200)]

    launchpad.reset_requests()
    anonymous(launchpad, tmp_path)
    assert [r.status for r in launchpad.requests if r.path == "/devel/"] == [304, 200]

    launchpad.reset_requests()
    anonymous(launchpad, tmp_path / "cold")
    assert [r.status for r in launchpad.requests] == [200, 200]


def test_wadl_uses_the_doubles_own_base_and_has_the_devel_parts(
    launchpad: LaunchpadDouble,
) -> None:
    status, content_type, body = raw_get(launchpad.api_base, "application/vnd.sun.wadl+xml")
    text = body.decode()
    assert status == 200 and content_type == "application/vnd.sun.wadl+xml"
    assert "api.launchpad.test" not in text
    assert f'<wadl:resources base="{launchpad.api_base}">' in text
    assert 'id="binary_package_publishing_history-changeOverride"' in text
    assert 'name="active_binaries_only"' in text
    assert "is_debug" in schema().fields["binary_package_publishing_history"]


def test_service_root_json_links_collections(launchpad: LaunchpadDouble) -> None:
    status, content_type, body = raw_get(launchpad.api_base)
    root = json.loads(body)
    assert (status, content_type) == (200, "application/json")
    assert root["distributions_collection_link"] == launchpad.api_base + "distros"
    assert root["resource_type_link"] == launchpad.api_base + "#service-root"


def test_entries_carry_exactly_the_wadl_fields(launchpad: LaunchpadDouble) -> None:
    spph_id = min(launchpad.archive.sources)
    bpph_id = min(launchpad.archive.binaries)
    for entry_type, path in [
        ("binary_package_publishing_history", f"ubuntu/+archive/primary/+binarypub/{bpph_id}"),
        ("source_package_publishing_history", f"ubuntu/+archive/primary/+sourcepub/{spph_id}"),
        ("distro_series", "ubuntu/noble"),
        ("distro_arch_series", "ubuntu/noble/arm64"),
        ("distribution", "ubuntu"),
        ("archive", "ubuntu/+archive/primary"),
        ("person", "~alice"),
        ("email_address", "~alice/+email/alice@example.com"),
    ]:
        status, content_type, body = raw_get(launchpad.api_base + path)
        entry = json.loads(body)
        assert (status, content_type) == (200, "application/json"), path
        assert set(entry) == set(schema().fields[entry_type]), entry_type
        assert entry["self_link"] == launchpad.api_base + path
        assert entry["resource_type_link"] == f"{launchpad.api_base}#{entry_type}"
        assert entry["http_etag"]


def test_unknown_objects_are_404(launchpad: LaunchpadDouble) -> None:
    assert raw_get(launchpad.api_base + "ubuntu/warty")[0] == 404
    assert raw_get(launchpad.api_base + "~nobody")[0] == 404
    assert raw_get(launchpad.api_base + "ubuntu/+archive/primary/+binarypub/1")[0] == 404


# -- distribution and series ---------------------------------------------------


def test_series_listing_and_statuses(launchpad: LaunchpadDouble, tmp_path: Path) -> None:
    ubuntu = anonymous(launchpad, tmp_path).distributions["ubuntu"]
    listed = [(s.name, s.version, s.status, s.active, s.supported) for s in ubuntu.series]
    assert listed == [
        ("plucky", "25.04", "Active Development", True, False),
        ("noble", "24.04", "Supported", True, True),
        ("mantic", "23.10", "Obsolete", False, False),
        ("jammy", "22.04", "Supported", True, True),
    ]
    assert ubuntu.current_series.name == "plucky"
    assert ubuntu.main_archive.self_link == launchpad.api_base + "ubuntu/+archive/primary"
    noble = ubuntu.getSeries(name_or_version="24.04")
    assert sorted(a.architecture_tag for a in noble.architectures) == ["amd64", "arm64"]
    assert noble.getDistroArchSeries(archtag="arm64").architecture_tag == "arm64"


def test_misspelled_attribute_raises_attribute_error(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    noble = (
        anonymous(launchpad, tmp_path).distributions["ubuntu"].getSeries(name_or_version="noble")
    )
    with pytest.raises(AttributeError):
        _ = noble.stauts


# -- archive.getPublishedSources -----------------------------------------------


def test_get_published_sources_filters(launchpad: LaunchpadDouble, tmp_path: Path) -> None:
    lp = anonymous(launchpad, tmp_path)
    ubuntu = lp.distributions["ubuntu"]
    archive = ubuntu.main_archive
    noble = ubuntu.getSeries(name_or_version="noble")

    phasing = archive.getPublishedSources(distro_series=noble, pocket="Updates", status="Published")
    assert sorted((s.source_package_name, s.source_package_version) for s in phasing) == [
        ("cryptkit", "3.0.13-0ubuntu3.2"),
        ("hello", "2.10-3ubuntu0.1"),
        ("libfoo", "1.2-1ubuntu0.2"),
    ]
    exact = archive.getPublishedSources(source_name="hello", exact_match=True)
    assert {s.source_package_name for s in exact} == {"hello"}
    assert {s.distro_series.name for s in exact} == {"noble", "plucky", "mantic"}
    substring = archive.getPublishedSources(source_name="o", exact_match=False)
    assert {s.source_package_name for s in substring} >= {"hello", "libfoo", "nettool"}
    versioned = archive.getPublishedSources(
        source_name="cryptkit", exact_match=True, version="3.0.13-0ubuntu3.1"
    )
    assert sorted(s.pocket for s in versioned) == ["Security", "Updates"]
    assert {s.status for s in versioned} == {"Superseded"}
    recent = archive.getPublishedSources(
        created_since_date=DEMO_NOW - timedelta(days=3), order_by_date=True
    )
    dates = [s.date_created for s in recent]
    assert dates == sorted(dates, reverse=True) and len(dates) == 4
    assert all(d >= DEMO_NOW - timedelta(days=3) for d in dates)


def test_default_order_is_by_name_then_newest_record(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    archive = anonymous(launchpad, tmp_path).distributions["ubuntu"].main_archive
    found = list(archive.getPublishedSources(source_name="hello", exact_match=True))
    ids = [int(s.self_link.rsplit("/", 1)[1]) for s in found]
    assert ids == sorted(ids, reverse=True)


def test_version_without_name_is_refused(launchpad: LaunchpadDouble, tmp_path: Path) -> None:
    archive = anonymous(launchpad, tmp_path).distributions["ubuntu"].main_archive
    with pytest.raises(BadRequest, match="version"):
        archive.getPublishedSources(version="2.10-3")


def test_source_people_links(launchpad: LaunchpadDouble, tmp_path: Path) -> None:
    lp = anonymous(launchpad, tmp_path)
    libfoo = updates_source(lp, *CRASHING_UPDATE[:3])
    assert libfoo.package_signer.name == "bob"
    assert libfoo.package_creator.name == "carol"
    assert libfoo.sponsor.name == "bob"
    hello = updates_source(lp, *CLEAN_UPDATE[:3])
    assert hello.sponsor is None
    zed = updates_source(lp, "jammy", "zed", "0.9-1ubuntu0.22.04.1")
    assert zed.package_signer is None
    assert zed.package_creator.name == "frank"


def test_misspelled_named_operation_parameter_fails(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    archive = anonymous(launchpad, tmp_path).distributions["ubuntu"].main_archive
    with pytest.raises(ValueError, match="source_nmae"):
        archive.getPublishedSources(source_nmae="hello")
    # A client that bypasses launchpadlib's check gets Launchpad's 400.
    url = launchpad.api_base + "ubuntu/+archive/primary?ws.op=getPublishedSources&source_nmae=x"
    status, _, body = raw_get(url)
    assert status == 400 and b"source_nmae" in body
    status, _, body = raw_get(launchpad.api_base + "ubuntu/+archive/primary?ws.op=getPublished")
    assert status == 400 and b"No such operation" in body


# -- getPublishedBinaries ------------------------------------------------------


def test_spph_binaries_active_only_and_full_history(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    lp = authenticated(launchpad, tmp_path)
    spph = updates_source(lp, *CRASHING_UPDATE[:3])
    active = [
        (b.binary_package_name, b.phased_update_percentage) for b in spph.getPublishedBinaries()
    ]
    # libfoo-doc is Architecture: all, published on each of noble's architectures.
    assert active == [
        ("libfoo-dev", 30),
        ("libfoo-doc", 30),
        ("libfoo-doc", 30),
        ("libfoo1", 30),
        ("libfoo1-dbgsym", 30),
    ]
    doc = binary_named(spph, "libfoo-doc")
    assert doc.architecture_specific is False and doc.is_debug is False
    assert binary_named(spph, "libfoo1-dbgsym").is_debug is True

    binary_named(spph, "libfoo1").changeOverride(new_phased_update_percentage=40)
    launchpad.publish()

    active = spph.getPublishedBinaries(active_binaries_only=True)
    history = spph.getPublishedBinaries(active_binaries_only=False)
    assert len(active) == 5
    assert sorted(
        (b.binary_package_name, b.status, b.phased_update_percentage) for b in history
    ) == [
        ("libfoo-dev", "Published", 30),
        ("libfoo-doc", "Published", 30),
        ("libfoo-doc", "Published", 30),
        ("libfoo1", "Published", 40),
        ("libfoo1", "Superseded", 30),
        ("libfoo1-dbgsym", "Published", 40),
        ("libfoo1-dbgsym", "Superseded", 30),
    ]


def test_archive_binaries_history(launchpad: LaunchpadDouble, tmp_path: Path) -> None:
    lp = anonymous(launchpad, tmp_path)
    ubuntu = lp.distributions["ubuntu"]
    amd64 = ubuntu.getSeries(name_or_version="noble").getDistroArchSeries(archtag="amd64")
    found = ubuntu.main_archive.getPublishedBinaries(
        binary_name="hello", exact_match=True, distro_arch_series=amd64, order_by_date=True
    )
    assert [(b.binary_package_version, b.pocket) for b in found] == [
        ("2.10-3ubuntu0.2", "Proposed"),
        ("2.10-3ubuntu0.1", "Updates"),
        ("2.10-3", "Release"),
    ]
    in_updates = ubuntu.main_archive.getPublishedBinaries(
        binary_name="hello", exact_match=True, pocket="Updates", distro_arch_series=amd64
    )
    assert [b.phased_update_percentage for b in in_updates] == [10]


def test_paging_beyond_75_entries(make_launchpad: MakeLaunchpad, tmp_path: Path) -> None:
    double = make_launchpad(sized(160, seed=3), clock=SIZED_NOW)
    archive = anonymous(double, tmp_path).distributions["ubuntu"].main_archive
    collection = archive.getPublishedSources(pocket="Updates", status="Published")
    names = [s.source_package_name for s in collection]
    assert len(names) == len(collection) == 160
    assert len(set(names)) == 160
    pages = [r for r in double.requests if r.query.get("ws.op") == "getPublishedSources"]
    # The pages, then len(): a named operation's first page gives a total_size_link.
    assert [(r.query.get("ws.start"), r.query.get("ws.show")) for r in pages] == [
        (None, None),
        ("75", None),
        ("150", None),
        (None, "total_size"),
    ]
    assert len(collection[70:80]) == 10


def raw_page(double: LaunchpadDouble, query: str) -> dict[str, Any]:
    status, content_type, body = raw_get(f"{double.api_base}ubuntu/+archive/primary?{query}")
    assert (status, content_type) == (200, "application/json"), body
    page: dict[str, Any] = json.loads(body)
    return page


def test_operation_pages_announce_their_total_as_lazr_restful_does_in_devel(
    make_launchpad: MakeLaunchpad,
) -> None:
    """lazr.restful's batch(): total_size_link on every page of a named GET operation's
    result but the last, total_size on the last; the link answers the number."""
    double = make_launchpad(sized(160, seed=3), clock=SIZED_NOW)
    query = "ws.op=getPublishedSources&pocket=Updates&status=Published"
    first = raw_page(double, query)
    assert "total_size" not in first
    assert first["total_size_link"] == (
        f"{double.api_base}ubuntu/+archive/primary?{query}&ws.show=total_size"
    )
    # The default size is not named in the next link (lazr.batchnavigator's way).
    assert first["next_collection_link"].endswith(f"{query}&ws.start=75")
    last = raw_page(double, f"{query}&ws.start=150")
    assert (last["total_size"], len(last["entries"])) == (160, 10)
    assert "total_size_link" not in last and "next_collection_link" not in last
    status, _, body = raw_get(first["total_size_link"])
    assert (status, json.loads(body)) == (200, 160)
    # One page holds everything: its total is given as it is.
    whole = raw_page(double, f"{query}&ws.size=300")
    assert (whole["total_size"], len(whole["entries"])) == (160, 160)


def test_plain_collections_always_give_their_total(launchpad: LaunchpadDouble) -> None:
    status, _, body = raw_get(f"{launchpad.api_base}ubuntu/series?ws.size=2")
    page = json.loads(body)
    assert status == 200 and page["total_size"] == 4 and "total_size_link" not in page
    assert page["next_collection_link"].endswith("ws.size=2&ws.start=2")


@pytest.mark.parametrize(
    ("size", "served"), [("300", 160), ("1", 1), ("0", 75), ("-3", 75), ("many", 75)]
)
def test_page_sizes_as_lazr_batchnavigator_reads_them(
    make_launchpad: MakeLaunchpad, size: str, served: int
) -> None:
    double = make_launchpad(sized(160, seed=3), clock=SIZED_NOW)
    page = raw_page(
        double, f"ws.op=getPublishedSources&pocket=Updates&status=Published&ws.size={size}"
    )
    assert len(page["entries"]) == served


def test_a_page_larger_than_launchpads_maximum_is_refused(launchpad: LaunchpadDouble) -> None:
    # Launchpad's max_batch_size (schema-lazr.conf); lazr.restful serves the
    # InvalidBatchSizeError as 400.
    for url in (
        f"{launchpad.api_base}ubuntu/+archive/primary?ws.op=getPublishedSources&ws.size=301",
        f"{launchpad.api_base}ubuntu/series?ws.size=301",
    ):
        status, _, body = raw_get(url)
        assert (status, body) == (400, b'Maximum for "ws.size" parameter is 300.')


def test_binaries_listed_oldest_or_newest_first(launchpad: LaunchpadDouble, tmp_path: Path) -> None:
    archive = anonymous(launchpad, tmp_path).distributions["ubuntu"].main_archive

    def dates(**order: bool) -> list[Any]:
        found = archive.getPublishedBinaries(pocket="Updates", **order)
        return [(b.date_created, b.self_link) for b in found]

    ascending = dates(order_by_date_ascending=True)
    assert ascending == sorted(ascending)
    assert dates(order_by_date=True) == sorted(ascending, reverse=True)
    # order_by_date wins when both are given, as in Launchpad.
    assert dates(order_by_date=True, order_by_date_ascending=True) == ascending[::-1]


# -- changeOverride ------------------------------------------------------------


def test_change_override_creates_a_pending_record_that_publish_applies(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    lp = authenticated(launchpad, tmp_path)
    spph = updates_source(lp, *CLEAN_UPDATE[:3])
    bpph = binary_named(spph, "hello")
    launchpad.reset_requests()

    new = bpph.changeOverride(new_phased_update_percentage=20)

    # The POST, then launchpadlib re-reads the old entry (revalidating its cached copy).
    old_path = "/devel/" + bpph.self_link.removeprefix(launchpad.api_base)
    assert [(r.method, r.path) for r in launchpad.requests] == [
        ("POST", old_path),
        ("GET", old_path),
    ]
    assert launchpad.requests[0].form == {
        "ws.op": "changeOverride",
        "new_phased_update_percentage": "20",
    }
    assert (new.status, new.phased_update_percentage) == ("Pending", 20)
    assert new.self_link != bpph.self_link
    assert new.date_created == DEMO_NOW
    states = {(b.name, b.arch, b.status): b.pup for b in launchpad.binaries(*CLEAN_UPDATE[:3])}
    assert states == {
        ("hello", "amd64", "Pending"): 20,
        ("hello", "amd64", "Published"): 10,
        ("hello", "arm64", "Published"): 10,
        ("hello-dbgsym", "amd64", "Pending"): 20,
        ("hello-dbgsym", "amd64", "Published"): 10,
    }

    launchpad.clock = DEMO_NOW + timedelta(minutes=5)
    launchpad.publish()

    states = {(b.name, b.arch, b.status): b.pup for b in launchpad.binaries(*CLEAN_UPDATE[:3])}
    assert states == {
        ("hello", "amd64", "Published"): 20,
        ("hello", "arm64", "Published"): 10,
        ("hello-dbgsym", "amd64", "Published"): 20,
    }
    bpph.lp_refresh()
    assert (bpph.status, bpph.date_superseded) == ("Superseded", launchpad.clock)
    new.lp_refresh()
    assert (new.status, new.date_published) == ("Published", launchpad.clock)


def test_change_override_to_100_stores_none(launchpad: LaunchpadDouble, tmp_path: Path) -> None:
    lp = authenticated(launchpad, tmp_path)
    bpph = binary_named(updates_source(lp, *CLEAN_UPDATE[:3]), "hello", "arm64")
    new = bpph.changeOverride(new_phased_update_percentage=100)
    assert new.phased_update_percentage is None


def test_change_override_to_the_same_value_changes_nothing(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    lp = authenticated(launchpad, tmp_path)
    bpph = binary_named(updates_source(lp, *CLEAN_UPDATE[:3]), "hello")
    before = len(launchpad.archive.binaries)
    assert bpph.changeOverride(new_phased_update_percentage=10) is None
    assert len(launchpad.archive.binaries) == before


def test_change_override_answers_the_post_with_the_new_record(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    """lazr.restful's encodeResult: a write operation's entry result is the POST's 200
    answer, as JSON (null when Launchpad's changeOverride returns None)."""
    lp = authenticated(launchpad, tmp_path)
    bpph = binary_named(updates_source(lp, *CLEAN_UPDATE[:3]), "hello")
    launchpad.reset_requests()

    response, content = lp._browser.post(
        bpph.self_link, "changeOverride", new_phased_update_percentage="20"
    )

    assert [(r.method, r.status) for r in launchpad.requests] == [("POST", 200)]
    assert response["content-type"] == "application/json"
    new = json.loads(content)
    assert new["resource_type_link"].endswith("#binary_package_publishing_history")
    assert (new["status"], new["phased_update_percentage"]) == ("Pending", 20)
    assert new["self_link"] != bpph.self_link
    assert new["creator_link"] == launchpad.api_base + "~phasing-bot"
    _, unchanged = lp._browser.post(
        bpph.self_link, "changeOverride", new_phased_update_percentage="10"
    )
    assert json.loads(unchanged) is None


def test_change_override_of_an_architecture_independent_binary_rewrites_one_architecture(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    """Launchpad's BinaryPackagePublishingHistory.changeOverride makes one record, for
    its own distroarchseries (and its ddebs): the copies of an Architecture: all
    binary on the other architectures keep their level."""
    lp = authenticated(launchpad, tmp_path)
    spph = updates_source(lp, *CRASHING_UPDATE[:3])
    binary_named(spph, "libfoo-doc", "amd64").changeOverride(new_phased_update_percentage=40)
    doc = {
        (b.arch, b.status): b.pup
        for b in launchpad.binaries(*CRASHING_UPDATE[:3])
        if b.name == "libfoo-doc"
    }
    assert doc == {("amd64", "Pending"): 40, ("amd64", "Published"): 30, ("arm64", "Published"): 30}


@pytest.mark.parametrize("written", [("amd64",), ("amd64", "arm64")], ids=["one", "every"])
def test_publishing_dominates_architecture_independent_copies_together(
    launchpad: LaunchpadDouble, tmp_path: Path, written: tuple[str, ...]
) -> None:
    """Launchpad's dominator supersedes an arch-all record's siblings with the same
    overrides on every architecture (getOtherPublications): a level written on one
    architecture's copy only leaves the binary on no other architecture."""
    lp = authenticated(launchpad, tmp_path)
    spph = updates_source(lp, *CRASHING_UPDATE[:3])
    for arch in written:
        binary_named(spph, "libfoo-doc", arch).changeOverride(new_phased_update_percentage=40)
    launchpad.clock = DEMO_NOW + timedelta(minutes=5)
    launchpad.publish()

    doc = {
        b.arch: b.pup
        for b in launchpad.binaries(*CRASHING_UPDATE[:3])
        if b.name == "libfoo-doc" and b.status == "Published"
    }
    assert doc == {arch: 40 for arch in written}


def test_a_ddeb_left_at_another_level_is_not_rewritten_with_its_deb(
    make_launchpad: MakeLaunchpad, tmp_path: Path
) -> None:
    """findCorrespondingDDEBPublications matches the ddeb on the deb's overrides, the
    percentage included: one without the deb's level keeps its own."""
    now = DEMO_NOW
    scenario = Scenario(
        series=[Series("noble", "24.04", "Current Stable Release")],
        people=[Person("alice", "Alice", "alice@example.com")],
        uploads=[
            Upload("noble", "old", "1.0-1ubuntu0.1", now - timedelta(days=1), signer="alice",
                   creator="alice",
                   binaries=[Binary("old", pup=10), Binary("old-dbgsym", pup=None, is_debug=True)])
        ],
    )  # fmt: skip
    double = make_launchpad(scenario, clock=now)
    lp = authenticated(double, tmp_path)
    binary_named(updates_source(lp, "noble", "old", "1.0-1ubuntu0.1"), "old").changeOverride(
        new_phased_update_percentage=20
    )
    states = {(b.name, b.status): b.pup for b in double.binaries("noble", "old", "1.0-1ubuntu0.1")}
    assert states == {
        ("old", "Pending"): 20,
        ("old", "Published"): 10,
        ("old-dbgsym", "Published"): None,
    }


@pytest.mark.parametrize("percentage", [101, -1])
def test_change_override_out_of_range_is_refused(
    launchpad: LaunchpadDouble, tmp_path: Path, percentage: int
) -> None:
    lp = authenticated(launchpad, tmp_path)
    bpph = binary_named(updates_source(lp, *CLEAN_UPDATE[:3]), "hello")
    with pytest.raises(BadRequest, match="between 0 and 100"):
        bpph.changeOverride(new_phased_update_percentage=percentage)


def test_change_override_on_a_ddeb_is_refused(launchpad: LaunchpadDouble, tmp_path: Path) -> None:
    lp = authenticated(launchpad, tmp_path)
    ddeb = binary_named(updates_source(lp, *CLEAN_UPDATE[:3]), "hello-dbgsym")
    with pytest.raises(BadRequest, match="Cannot override ddeb publications directly"):
        ddeb.changeOverride(new_phased_update_percentage=0)


def test_change_override_needs_an_admin_token(launchpad: LaunchpadDouble, tmp_path: Path) -> None:
    anon_bpph = binary_named(
        updates_source(anonymous(launchpad, tmp_path / "a"), *CLEAN_UPDATE[:3]), "hello"
    )
    with pytest.raises(Unauthorized):
        anon_bpph.changeOverride(new_phased_update_percentage=0)
    member = authenticated(launchpad, tmp_path / "m", admin=False)
    member_bpph = binary_named(updates_source(member, *CLEAN_UPDATE[:3]), "hello")
    with pytest.raises(Unauthorized):
        member_bpph.changeOverride(new_phased_update_percentage=0)
    assert [b.status for b in launchpad.binaries(*CLEAN_UPDATE[:3])] == ["Published"] * 3


def test_unknown_token_or_wrong_secret_is_refused_on_every_request(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    with pytest.raises(Unauthorized, match="Unknown access token"):
        authenticated(launchpad, tmp_path / "u", register=False)
    launchpad.add_token(APP, "token-2", "right")
    with pytest.raises(Unauthorized, match="Invalid signature"):
        authenticated(launchpad, tmp_path / "w", token="token-2", secret="wrong", register=False)


def test_credentials_file_loads_with_launchpadlib(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    path = tmp_path / "credentials"
    launchpad.add_token(APP, "token-3", "secret-3")
    write_credentials_file(path, APP, "token-3", "secret-3")
    assert path.stat().st_mode & 0o777 == 0o600
    credentials = Credentials.load_from_path(str(path))
    assert (credentials.consumer.key, credentials.access_token.key) == (APP, "token-3")
    lp = Launchpad.login_with(
        consumer_name=APP,
        credentials_file=str(path),
        service_root=launchpad.service_root,
        version=DEVEL,
        launchpadlib_dir=str(tmp_path / "lp"),
        proxy_info=None,
    )
    assert lp.distributions["ubuntu"].name == "ubuntu"
    assert {r.token for r in launchpad.requests} == {"token-3"}


# -- people --------------------------------------------------------------------


def test_email_addresses_as_launchpad_shows_them(
    make_launchpad: MakeLaunchpad, tmp_path: Path
) -> None:
    scenario = Scenario(
        series=[Series("noble", "24.04", "Supported")],
        people=[
            Person("open", "Open", "open@example.com"),
            Person("shy", "Shy", "shy@example.com", hidden_email=True),
            Person("gone", "Gone", "gone@example.com", is_valid=False),
        ],
    )
    double = make_launchpad(scenario)
    signed_in = authenticated(double, tmp_path / "auth")
    assert signed_in.people["open"].preferred_email_address.email == "open@example.com"
    assert signed_in.people["shy"].preferred_email_address_link == REDACTED
    gone = signed_in.people["gone"]
    assert (gone.is_valid, gone.preferred_email_address_link) == (False, None)
    anon = anonymous(double, tmp_path / "anon")
    assert anon.people["open"].preferred_email_address_link == REDACTED
    assert anon.people["open"].display_name == "Open"


# -- test controls -------------------------------------------------------------


def test_faults_fail_matching_requests_the_given_number_of_times(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    lp = anonymous(launchpad, tmp_path)
    launchpad.faults.append(Fault(path_regex=r"/ubuntu/noble$", status=500, times=1))
    with pytest.raises(ServerError):
        _ = lp.load(launchpad.api_base + "ubuntu/noble").status
    assert lp.load(launchpad.api_base + "ubuntu/noble").status == "Supported"
    assert launchpad.count("GET", "/ubuntu/noble") >= 2


def test_default_clock_follows_the_scenario() -> None:
    published = DEMO_NOW - timedelta(days=1)
    scenario = Scenario(
        series=[Series("noble", "24.04", "Supported")],
        uploads=[Upload("noble", "x", "1", published, binaries=[Binary("x")])],
    )
    assert LaunchpadDouble(scenario).clock == published + timedelta(hours=1)


def test_rendering_a_field_the_wadl_lacks_is_a_bug_in_the_double(
    launchpad: LaunchpadDouble,
) -> None:
    with pytest.raises(WadlMismatch, match="phased_update_percentge"):
        launchpad.renderer.entry(
            "binary_package_publishing_history", "x", {"phased_update_percentge": 10}
        )


def test_anonymous_requests_are_recorded_without_a_token(
    launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    lp = anonymous(launchpad, tmp_path)
    assert lp.distributions["ubuntu"].display_name == "Ubuntu"
    assert [r.token for r in launchpad.requests] == [None, None, None]
    assert launchpad.count("GET", "/devel/ubuntu") == 1
