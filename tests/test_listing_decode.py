"""Listings decoded to the columns a plan reads: in process, in the decoding helper, read off
the socket into their own memory — each gives exactly what decoding the whole listing gives."""

from __future__ import annotations

import gzip
import json
import math
import random
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from directorsync import decoder, jsonio
from directorsync.director.client import DirectorClient
from directorsync.errors import DirectorError
from directorsync.inventory import (
    Inventory,
    _inner_keys,
    normalise_columns,
    normalise_listing,
    read_fields,
)
from directorsync.profile.model import Profile, load_profiles
from directorsync.tenants import Node, Tenant

NODE = Node(id="1" * 32, name="be1", role="backends")
FIELDS = ["id", "name", "ip", "risk_values", "timezone", "absent", "flag", "n"]


def records(count: int, seed: int = 4) -> list[dict]:
    """Device-like objects with every quirk: absent fields, nulls, odd types, few distinct values."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        item = {
            "id": f"{i:024x}",
            "name": f"dev-{i}",
            "ip": [f"10.0.{i % 250}.{j}" for j in range(rng.randint(0, 3))],
        }
        if rng.random() < 0.9:
            item["risk_values"] = rng.choice(
                [
                    {"availability": rng.choice(["Minor", "Major"]), "integrity": "Minimal"},
                    {},
                    None,
                    {"availability": None, "extra": [1, 2]},
                ]
            )
        if rng.random() < 0.8:
            item["timezone"] = rng.choice(["UTC", "Europe/Zurich", "Asia/Tokyo", None, 'é"\\'])
        item["flag"] = rng.choice([True, False, None, 1, 0])
        item["n"] = rng.choice([1, 2.5, 1e20, -3, None, "7"])
        out.append(item)
    return out


def expected_columns(items: list[dict], fields: list[str]) -> dict[str, list]:
    """What a frame built from the whole objects holds, column by column."""
    return {f: [i.get(f) for i in items] for f in fields if any(f in i for i in items)}


@pytest.mark.parametrize("count", [0, 1, 7, 3000])
def test_loads_columns_equals_the_columns_of_the_whole_objects(count):
    items = records(count)
    body = json.dumps(items).encode()
    assert jsonio.loads_columns(body, FIELDS) == expected_columns(items, FIELDS)


@pytest.mark.parametrize("count", [0, 1, 7, 3000])
def test_raw_columns_decode_to_the_same_columns(count):
    """Columns cut out of the text (and, for repeated values, codes of distinct ones) decode to
    the values; object fields come back key by key, for the keys asked only."""
    items = records(count)
    body = json.dumps(items).encode()
    columns, nested = jsonio.raw_columns(
        body, FIELDS, {"risk_values": ["availability", "integrity", "nope"]}
    )
    got = {f: list(jsonio.decode_raw_column(c)) for f, c in columns.items()}
    want = expected_columns(items, FIELDS)
    risk = want.pop("risk_values", None)
    assert got == want
    if risk is None:
        assert nested == {}
        return
    objects = [r if isinstance(r, dict) else {} for r in risk]
    for key in ("availability", "integrity", "nope"):
        if any(key in o for o in objects):
            assert list(jsonio.decode_raw_column(nested["risk_values"][key])) == [
                o.get(key) for o in objects
            ]
        else:
            assert key not in nested["risk_values"]
    if count == 3000:  # a column of few distinct values travels as codes
        assert isinstance(columns["timezone"], tuple)


def test_raw_columns_of_a_nested_field_holding_other_things_take_the_slow_path():
    items = [{"a": 1, "b": {"x": 1}}, {"a": 2, "b": "text"}, {"b": [1]}, {"b": None}]
    columns, nested = jsonio.raw_columns(json.dumps(items).encode(), ["a", "b"], {"b": ["x", "y"]})
    assert jsonio.decode_raw_column(columns["a"]) == [1, 2, None, None]
    assert nested == {"b": {"x": b"[1,null,null,null]"}}


@pytest.mark.parametrize("body", [b'{"a": 1}', b"[1, 2]", b"<html>", b'[{"a": 1}'])
def test_a_body_that_is_not_an_array_of_objects_is_a_value_error(body):
    with pytest.raises(ValueError):
        jsonio.loads_columns(body, ["a"])
    with pytest.raises(ValueError):
        jsonio.raw_columns(body, ["a"])


def test_json_that_only_the_standard_library_reads_still_decodes():
    columns = jsonio.loads_columns(b'[{"a": NaN, "b": 1}, {"b": 2}]', ["a", "b", "c"])
    assert math.isnan(columns["a"][0]) and columns["a"][1] is None and columns["b"] == [1, 2]
    assert "c" not in columns


def test_the_helper_process_decodes_like_this_process():
    items = records(5000, seed=9)
    body = json.dumps(items).encode()
    unnest = {"risk_values": ["availability", "integrity"]}
    helper = decoder.Decoder()
    try:
        got = decoder.decode_columns(helper.submit(body, FIELDS, unnest))
        again = decoder.decode_columns(helper.submit(body, ["id"], {}))  # the helper serves on
    finally:
        helper.close()
    want = expected_columns(items, FIELDS)
    risk = want.pop("risk_values")
    assert isinstance(got.pop("risk_values"), decoder.Unnested)
    assert {f: list(v) for f, v in got.items()} == want
    assert list(again["id"]) == want["id"]
    objects = [r if isinstance(r, dict) else {} for r in risk]
    helper = decoder.Decoder()
    try:
        nested = decoder.decode_columns(helper.submit(body, ["risk_values"], unnest))["risk_values"]
    finally:
        helper.close()
    assert list(nested["availability"]) == [o.get("availability") for o in objects]


def test_a_listing_the_helper_cannot_read_fails_its_future_only():
    helper = decoder.Decoder()
    try:
        with pytest.raises(decoder.DecoderUnavailable, match="not a JSON array"):
            decoder.decode_columns(helper.submit(b"<html>proxy</html>", ["a"]))
        assert decoder.decode_columns(helper.submit(b'[{"a": 1}]', ["a"])) == {"a": [1]}
    finally:
        helper.close()


def test_a_helper_that_cannot_start_or_dies_makes_every_request_fail_fast():
    broken = decoder.Decoder(command=["/nonexistent/python"])
    with pytest.raises(decoder.DecoderUnavailable):
        decoder.decode_columns(broken.submit(b"[]", ["a"]))
    dying = decoder.Decoder(command=[sys.executable, "-c", "import sys; sys.stdin.read(4)"])
    with pytest.raises(decoder.DecoderUnavailable):
        decoder.decode_columns(dying.submit(b'[{"a": 1}]', ["a"]))
    with pytest.raises(decoder.DecoderUnavailable):  # and it is not started again
        decoder.decode_columns(dying.submit(b'[{"a": 1}]', ["a"]))
    dying.close()


def test_projected_frames_equal_the_whole_frame_for_every_shipped_profile():
    """``normalise_columns`` (the plan's path) gives the whole listing's frame, restricted."""
    from directorsync.diff import remote_columns

    profiles = load_profiles()
    items = records(400)
    for name, profile in profiles.items():
        if profile.hooks.get("inventory"):
            continue
        wanted = frozenset(remote_columns(profile))
        body = json.dumps(items).encode()
        fields = read_fields(profile, wanted)
        unnest = {u: sorted(_inner_keys(u, wanted)) for u in profile.inventory.get("unnest") or []}
        whole = normalise_listing(json.loads(body), profile, NODE)
        for columns in (
            jsonio.loads_columns(body, fields),
            decoder._Columns(*jsonio.raw_columns(body, fields, unnest)).columns(),
        ):
            part = normalise_columns(columns, profile, NODE, wanted)
            for col in part.columns:
                assert col in whole, (name, col)
                left = part[col].astype(object).where(part[col].notna(), None).tolist()
                right = whole[col].astype(object).where(whole[col].notna(), None).tolist()
                assert left == right, (name, col)
            assert {c for c in wanted if c in whole} <= set(part.columns), name


def test_unnest_names_follow_the_whole_frame_when_a_key_is_also_a_top_level_field():
    profile = Profile(
        "x", None, {"identity": {"natural_key": ["name"]}, "inventory": {"unnest": ["meta"]}}
    )
    items = [
        {"id": "1", "name": "a", "kind": "top", "meta": {"kind": "inner", "size": 3}},
        {"id": "2", "name": "b", "meta": None},
    ]
    whole = normalise_listing(items, profile, NODE)
    wanted = frozenset(["id", "name", "kind", "kind_meta", "size"])
    part = normalise_columns(
        jsonio.loads_columns(json.dumps(items), read_fields(profile, wanted)), profile, NODE, wanted
    )
    for col in ("kind", "kind_meta", "size"):
        column = whole[col].astype(object)
        assert part[col].tolist() == column.where(column.notna(), None).tolist(), col


class _Listing:
    """A received listing double: counts how it is decoded."""

    def __init__(self, items: list[dict]) -> None:
        self.body = json.dumps(items).encode()
        self.decoded: list[object] = []

    def items(self) -> list[dict]:
        self.decoded.append("all")
        return json.loads(self.body)

    def columns(self, fields: list[str]) -> dict:
        self.decoded.append(tuple(fields))
        return jsonio.loads_columns(self.body, fields)

    def start_columns(self, fields: list[str], unnest: dict) -> None:
        self.decoded.append(("start", tuple(fields)))


class _Director:
    def __init__(self, items: list[dict]) -> None:
        self.items, self.received = items, 0
        self.listings: list[_Listing] = []

    def receive_listing(self, pool, node, path, *, columns_wanted=False):
        self.received += 1
        self.listings.append(_Listing(self.items))
        return self.listings[-1]

    def fetch(self, pool, node, path, data=None):
        return []


def test_inventory_decodes_the_same_listing_again_for_more_columns_never_lists_twice():
    profiles = load_profiles()
    director = _Director(records(50))
    inventory = Inventory(director, Tenant(name="t", pool_uuid="p" * 32, nodes=[NODE]), profiles)
    inventory.prefetch("devices", [NODE], ["id", "name"])
    narrow = inventory.frame("devices", NODE, ["id", "name"])
    assert {"id", "name"} <= set(narrow.columns) and "ip" not in narrow.columns
    assert inventory.frame("devices", NODE, ["name"]) is narrow  # covered: nothing decoded
    wider = inventory.frame("devices", NODE, ["ip"])
    assert {"id", "name", "ip"} <= set(wider.columns)
    whole = inventory.frame("devices", NODE)
    assert "risk_values" not in whole.columns and {"integrity", "extra"} <= set(whole.columns)
    assert director.received == 1 and inventory.calls == 1
    kinds = [d if d == "all" else d[0] for d in director.listings[0].decoded]
    assert kinds[0] == "start" and kinds[-1] == "all"
    inventory.add_planned(
        "devices", NODE, pd.DataFrame({"name": ["new"], "id": ["$ref:devices:new"]})
    )
    assert inventory.frame("devices", NODE, ["name"])["name"].tolist()[-1] == "new"


class _Server(BaseHTTPRequestHandler):
    """Serves one large listing: plain, gzip, or chunked; counts connections."""

    protocol_version = "HTTP/1.1"
    body = json.dumps(records(20000)).encode()
    connections: set[int] = set()

    def do_GET(self):  # noqa: N802 - the http.server name
        type(self).connections.add(id(self.connection))
        body, headers = self.body, {"Content-Type": "application/json"}
        if "error" in self.path:  # a large error text, without a content type
            body = b"x" * (2 << 20)
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if "gzip" in self.path:
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        if "short" in self.path:
            headers["Content-Length"] = str(len(body) + 10)
            self.close_connection = True
        elif "chunked" in self.path:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(len(body))
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if "chunked" in self.path:
            for i in range(0, len(body), 1 << 20):
                part = body[i : i + (1 << 20)]
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def listing_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Server.connections = set()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("kind", ["plain", "gzip", "chunked"])
def test_a_large_listing_reads_the_same_however_it_is_sent(listing_server, kind):
    expected = json.loads(_Server.body)
    assert len(_Server.body) > 1 << 20  # above the size read straight into memory
    with DirectorClient(listing_server, "token-1234567890", retries=0) as client:
        for _ in range(2):
            listing = client.receive_listing("p", "n", kind)
            assert listing.items() == expected
            assert listing.columns(["id", "ip"]) == expected_columns(expected, ["id", "ip"])
    if kind == "plain":  # read to its end, the connection served the second request too
        assert len(_Server.connections) == 1


def test_a_listing_cut_short_is_a_transport_error(listing_server):
    with DirectorClient(listing_server, "token-1234567890", retries=1, backoff=0.001) as client:
        with pytest.raises(DirectorError, match="short|closed|bytes"):
            client.list_objects("p", "n", "short")


def test_large_listings_go_to_the_helper_and_decode_identically(listing_server, monkeypatch):
    submitted = []
    real = decoder.Decoder.submit

    def spy(self, body, fields, unnest=None):
        submitted.append(len(body))
        return real(self, body, fields, unnest)

    monkeypatch.setattr(decoder.Decoder, "submit", spy)
    monkeypatch.setattr(decoder, "MIN_BYTES", 1 << 20)
    expected = json.loads(_Server.body)
    with DirectorClient(listing_server, "token-1234567890", retries=0) as client:
        listing = client.receive_listing("p", "n", "plain", columns_wanted=True)
        listing.start_columns(["id", "timezone", "risk_values"], {"risk_values": ["integrity"]})
        columns = listing.columns(["id", "timezone", "risk_values"])
    assert submitted == [len(_Server.body)]
    assert list(columns["id"]) == [e["id"] for e in expected]
    assert list(columns["timezone"]) == [e.get("timezone") for e in expected]
    assert isinstance(columns["timezone"], np.ndarray)  # few distinct values: shared objects
    objects = [
        e.get("risk_values") if isinstance(e.get("risk_values"), dict) else {} for e in expected
    ]
    assert list(columns["risk_values"]["integrity"]) == [o.get("integrity") for o in objects]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="shared bodies are a Linux path")
def test_a_body_in_shared_memory_is_mapped_by_the_helper_and_a_failed_map_falls_back():
    from directorsync.director.transport import body_buffer

    items = records(300)
    text = json.dumps(items).encode()
    body = body_buffer(len(text))
    body[:] = text
    assert getattr(body, "fd", None) is not None

    class Unmappable(bytes):
        fd = 10**6  # no such descriptor: the helper cannot map it

    helper = decoder.Decoder()
    try:
        assert list(decoder.decode_columns(helper.submit(body, ["id"]))["id"]) == [
            i["id"] for i in items
        ]
        with pytest.raises(decoder.DecoderUnavailable, match="cannot map"):
            decoder.decode_columns(helper.submit(Unmappable(text), ["id"]))
        again = decoder.decode_columns(helper.submit(Unmappable(text), ["id"]))  # sent instead
        assert list(again["id"]) == [i["id"] for i in items]
    finally:
        helper.close()


def test_the_helper_starts_only_for_a_listing_announced_large(listing_server, monkeypatch):
    warmed = []
    monkeypatch.setattr(decoder.Decoder, "warm", lambda self: warmed.append(1))
    with DirectorClient(listing_server, "token-1234567890", retries=0) as client:
        client.receive_listing("p", "n", "plain", columns_wanted=False)
        assert warmed == []
        monkeypatch.setattr(decoder, "MIN_BYTES", len(_Server.body) + 1)
        client.receive_listing("p", "n", "plain", columns_wanted=True)
        assert warmed == []  # below the helper's size
        monkeypatch.setattr(decoder, "MIN_BYTES", 1 << 20)
        client.receive_listing("p", "n", "plain", columns_wanted=True)
        assert warmed == [1]


def test_received_bodies_are_let_go_once_the_plan_is_made():
    profiles = load_profiles()
    director = _Director(records(20))
    inventory = Inventory(director, Tenant(name="t", pool_uuid="p" * 32, nodes=[NODE]), profiles)
    inventory.prefetch("devices", [NODE], ["id", "name"])
    inventory.frame("devices", NODE, ["id", "name"])
    inventory.release_received()
    assert inventory.frame("devices", NODE, ["name"])["name"].tolist()[:1] == ["dev-0"]
    assert director.received == 1  # what was built stays
    inventory.frame("devices", NODE)  # more than was built: listed again
    assert director.received == 2


def test_a_large_error_answer_is_an_http_error(listing_server):
    from directorsync.errors import DirectorHTTPError

    with DirectorClient(listing_server, "token-1234567890", retries=0) as client:
        with pytest.raises(DirectorHTTPError, match="HTTP 404"):
            client.list_objects("p", "n", "error")


def test_values_only_python_reads_and_fields_nobody_has_decode_like_the_whole_listing():
    body = b'[{"id": "1", "a": [1e400]}, {"id": "2", "a": null}]'
    columns = jsonio.loads_columns(body, ["id", "a"])
    assert columns["a"][0] == [math.inf] and columns.rows == 2
    helper = decoder.Decoder()
    try:  # the helper cuts the text out; this process cannot decode it: told, not crashed
        with pytest.raises(decoder.DecoderUnavailable):
            decoder.decode_columns(helper.submit(body, ["id", "a"]))
    finally:
        helper.close()
    profile = Profile("x", None, {"identity": {"natural_key": ["name"]}})
    nobody = jsonio.loads_columns(b'[{"x": 1}, {"x": 2}]', ["id", "name"])
    assert len(normalise_columns(nobody, profile, NODE, frozenset(["id", "name"]))) == 2


def test_a_key_renamed_after_unnest_is_decoded_under_its_new_name():
    profile = Profile(
        "x",
        None,
        {
            "identity": {"natural_key": ["name"]},
            "inventory": {"unnest": ["meta"], "rename": {"size": "bytes"}},
        },
    )
    items = [{"id": "1", "name": "a", "meta": {"size": 3}}, {"id": "2", "name": "b", "meta": {}}]
    wanted = frozenset(["id", "name", "bytes"])
    body = json.dumps(items).encode()
    fields = read_fields(profile, wanted)
    unnest = {"meta": sorted(_inner_keys("meta", wanted, {"size": "bytes"}))}
    whole = normalise_listing(items, profile, NODE)
    for columns in (
        jsonio.loads_columns(body, fields),
        decoder._Columns(*jsonio.raw_columns(body, fields, unnest)).columns(),
    ):
        part = normalise_columns(columns, profile, NODE, wanted)
        assert list(part["bytes"]) == [3, None]
    assert list(whole["bytes"].where(whole["bytes"].notna(), None)) == [3, None]


def test_the_slow_path_of_a_large_repetitive_listing_decodes_too():
    items = [{"a": 1, "b": ({"x": i % 3} if i % 2 else "text")} for i in range(3000)]
    columns, nested = jsonio.raw_columns(json.dumps(items).encode(), ["a", "b"], {"b": ["x"]})
    assert list(jsonio.decode_raw_column(nested["b"]["x"])) == [
        (i % 3) if i % 2 else None for i in range(3000)
    ]


def test_plan_and_apply_hash_the_same_remote_values():
    """The plan hashes a projected frame, ``apply --plan`` a whole listing: same hashes, big
    integers with gaps included (a whole frame once turned them into floats)."""
    from directorsync.diff import remote_hash

    profile = Profile(
        "x", None, {"identity": {"natural_key": ["name"]}, "diff": {"compare": ["n"]}}
    )
    items = [{"id": "1", "name": "a", "n": 2**60 + 1}, {"id": "2", "name": "b"}]
    whole = normalise_listing(items, profile, NODE)
    part = normalise_columns(
        jsonio.loads_columns(json.dumps(items).encode(), ["id", "name", "n"]),
        profile,
        NODE,
        frozenset(["id", "name", "n"]),
    )
    assert remote_hash(whole, profile).tolist() == remote_hash(part, profile).tolist()


def test_the_helper_imports_this_very_package_whatever_the_installed_copy(monkeypatch, tmp_path):
    # an installed copy elsewhere (or none) must not decide which code the helper runs
    stale = tmp_path / "directorsync"
    stale.mkdir()
    (stale / "__init__.py").write_text("raise ImportError('stale copy')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    helper = decoder.Decoder()
    try:
        got = decoder.decode_columns(helper.submit(b'[{"id": "a"}, {"id": "b"}]', ["id"], {}))
    finally:
        helper.close()
    assert list(got["id"]) == ["a", "b"]
