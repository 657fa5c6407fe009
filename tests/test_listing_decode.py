"""Listings decoded to the columns a plan reads, in process (columnar or exact).

Either decoder gives exactly what decoding the whole listing gives.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from directorsync import jsonio
from directorsync.director.client import DirectorClient
from directorsync.director.listing import Unnested, decode_columns
from directorsync.errors import DirectorError
from directorsync.inventory import (
    Inventory,
    normalise_columns,
    normalise_listing,
    read_fields,
    unnest_keys,
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


def plain_records(count: int, seed: int = 5) -> list[dict]:
    """Objects of texts, booleans, nulls, lists of texts and objects of texts, some absent."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        item = {"id": f"{i:024x}", "name": f"dev-{i}", "ip": [f"10.0.0.{j}" for j in range(i % 3)]}
        if rng.random() < 0.9:
            item["risk_values"] = rng.choice(
                [{"availability": rng.choice(["Minor", None]), "integrity": "Minimal"}, {}, None]
            )
        if rng.random() < 0.8:
            item["timezone"] = rng.choice(["UTC", "Asia/Tokyo", None, 'é"\\'])
        item["flag"] = rng.choice([True, False, None])
        out.append(item)
    return out


UNNEST = {"risk_values": ["availability", "integrity", "nope"]}


def expected_unnested(items: list[dict], field: str, keys: list[str]) -> dict[str, list]:
    objects = [i.get(field) if isinstance(i.get(field), dict) else {} for i in items]
    return {k: [o.get(k) for o in objects] for k in keys if any(k in o for o in objects)}


def as_lists(columns: dict) -> dict:
    return {f: as_lists(v) if isinstance(v, dict) else [x for x in v] for f, v in columns.items()}


@pytest.mark.parametrize("columnar_from", [0, 1 << 40])
@pytest.mark.parametrize("maker", [records, plain_records])
def test_decode_columns_gives_the_columns_of_the_whole_objects(maker, columnar_from):
    """Both decoders: each named field one object has, None where an object lacks it.

    An unnested field is read key by key (a cell that is not an object counts as an empty one).
    """
    items = maker(3000)
    body = json.dumps(items).encode()
    got = decode_columns(body, FIELDS, UNNEST, columnar_from=columnar_from)
    want = expected_columns(items, FIELDS)
    want["risk_values"] = expected_unnested(items, "risk_values", UNNEST["risk_values"])
    assert isinstance(got["risk_values"], Unnested)
    assert as_lists(got) == want and got.rows == len(items)
    # pyarrow reads plain values; anything else goes to the exact decoder
    columnar = maker is plain_records and columnar_from == 0
    assert got.decoder == ("pyarrow" if columnar else "msgspec")
    if columnar:
        assert isinstance(got["name"], np.ndarray) and type(got["name"][0]) is str
        assert type(got["ip"][0]) is list and list(got["flag"][:3]) == [
            i["flag"] for i in items[:3]
        ]
        # a column of few distinct cells shares one value per distinct cell
        zones = [z for z in got["timezone"] if z == "Asia/Tokyo"]
        assert len(zones) > 1 and all(z is zones[0] for z in zones)


@pytest.mark.parametrize(
    "later",
    [
        {"a": 5, "l": ["x"], "r": {"k": "x"}},  # a number where the first objects have texts
        {"a": True, "l": ["x"], "r": {"k": "x"}},  # a boolean where the first have texts
        {"a": "x", "l": "x", "r": {"k": "x"}},  # a text where the first have lists
        {"a": "x", "l": [5], "r": {"k": "x"}},  # a number in a list of texts
        {"a": "x", "l": 5, "r": {"k": "x"}},  # a number where the first have lists
        {"a": "x", "l": ["x"], "r": {"k": 5}},  # a number in an unnested object's text key
        {"a": "x", "l": ["x"], "r": {"k": "x", "j": "y"}},  # an unnested key first seen late
        {"a": "x", "l": ["x"], "r": {"k": "x"}, "b": "y"},  # a field first seen late
        {"a": {"o": 1}, "l": ["x"], "r": {"k": "x"}},  # an object where the first have texts
        {"a": "x", "l": [["x"]], "r": {"k": "x"}},  # a list in a list of texts
    ],
)
def test_types_read_from_the_first_objects_never_change_a_later_one(monkeypatch, later):
    """Types inferred from the first objects never convert a later object of another kind.

    The types come from the first objects only; pyarrow refuses a later object that does not
    fit: it is decoded exactly (or the same by both decoders), never converted.
    """
    from directorsync.director import listing

    monkeypatch.setattr(listing, "INFER_ROWS", 2)
    first = [{"a": "x", "l": ["y"], "r": {"k": "z"}}, {"a": None, "l": [], "r": {"k": None}}]
    body = json.dumps([*first, later, *first]).encode()
    fields, unnest = ["a", "b", "l", "r"], {"r": ["k", "j"]}
    exact = decode_columns(body, fields, unnest, columnar_from=1 << 40)
    got = decode_columns(body, fields, unnest, columnar_from=0)
    assert as_lists(got) == as_lists(exact) and got.decoder == "msgspec"


def test_types_read_from_the_first_objects_suffice_when_later_ones_agree(monkeypatch):
    from directorsync.director import listing

    monkeypatch.setattr(listing, "INFER_ROWS", 2)
    items = [{"a": "x", "l": ["y"], "r": {"k": "z"}}, {"a": None, "l": [], "r": None}] * 200
    body = json.dumps(items).encode()
    exact = decode_columns(body, ["a", "l", "r"], {"r": ["k"]}, columnar_from=1 << 40)
    got = decode_columns(body, ["a", "l", "r"], {"r": ["k"]}, columnar_from=0)
    assert as_lists(got) == as_lists(exact) and got.decoder == "pyarrow"


@pytest.mark.parametrize(
    "body",
    [
        b'[{"a": "1"}, {"a": 2}]',  # an integer among texts
        b'[{"a": 1}, {"a": true}]',  # true among integers
        b'[{"a": 1}, {"a": 2.5}]',  # integers among floats
        b'[{"a": [{"k": 1}, {"j": 2}]}]',  # objects in lists
        b'[{"a": "\\ud800"}]',  # a lone surrogate
        b'[{"r": {"k": "x"}}, {"r": "text"}]',  # an unnested field that is not always an object
        b'[{"r": {"k": "x"}}, {"r": {"k": 7}}]',  # an unnested key of mixed kinds
        b'[{"a": "x", "b": 1e400}]',  # a number pyarrow cannot hold, even in a field not asked for
        b'[{"a": "x", "a": "y"}]',  # a key twice (msgspec keeps the last value)
    ],
)
def test_values_of_other_kinds_are_decoded_exactly(body):
    exact = decode_columns(body, ["a", "r"], {"r": ["k"]}, columnar_from=1 << 40)
    got = decode_columns(body, ["a", "r"], {"r": ["k"]}, columnar_from=0)
    assert as_lists(got) == as_lists(exact) and got.decoder == "msgspec"


@pytest.mark.parametrize(
    "body",
    [
        b'[{"a": "x"}, {"a": "2"}, {"a": "-1.5e3"}]',  # texts spelt like numbers stay texts
        b'[{"a": ["x"]}, {"a": ["true", "null"]}]',  # and like booleans and null
        b'[{"a": "\\u00e9\\n\\ud83d\\ude00"}, {"\\u0061": "y"}]',  # escapes, a key among them
        b'[{"a": "x", "b": 1}, {"a": "y", "b": "z"}]',  # a field nobody asked for of two kinds
    ],
)
def test_what_pyarrow_reads_exactly_stays_columnar(body):
    exact = decode_columns(body, ["a"], None, columnar_from=1 << 40)
    got = decode_columns(body, ["a"], None, columnar_from=0)
    assert as_lists(got) == as_lists(exact) and got.decoder == "pyarrow"


@pytest.mark.parametrize("columnar_from", [0, 1 << 40])
@pytest.mark.parametrize(
    "body, reason",
    [
        (b'{"a": 1}', "not a JSON array of objects"),
        (b"[1, 2]", "not a JSON array of objects"),
        (b'[{"a": 1}, null]', "not a JSON array of objects"),
        (b"<html>", None),
        (b'[{"a": 1}', None),
        (b'[{"a": "x"}, {"a": "y\xff"}]', None),  # not UTF-8
    ],
)
def test_a_body_that_is_not_an_array_of_objects_is_a_value_error(body, reason, columnar_from):
    with pytest.raises(ValueError, match=reason):
        decode_columns(body, ["a"], columnar_from=columnar_from)


def test_json_that_only_the_standard_library_reads_still_decodes():
    columns = decode_columns(b'[{"a": NaN, "b": 1}, {"b": 2}]', ["a", "b", "c"], columnar_from=0)
    assert math.isnan(columns["a"][0]) and columns["a"][1] is None and columns["b"] == [1, 2]
    assert "c" not in columns


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
        unnest = unnest_keys(profile, wanted)
        plain = plain_records(400)
        for columns, listed in (
            (jsonio.loads_columns(body, fields), items),
            (decode_columns(body, fields, unnest, columnar_from=0), items),
            (decode_columns(json.dumps(plain).encode(), fields, unnest, columnar_from=0), plain),
        ):
            whole = normalise_listing(listed, profile, NODE)
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

    def columns(self, fields: list[str], unnest: dict | None = None) -> dict:
        self.decoded.append(tuple(fields))
        return decode_columns(self.body, fields, unnest)

    def start_columns(self, fields: list[str], unnest: dict) -> None:
        self.decoded.append(("start", tuple(fields)))


class _Director:
    def __init__(self, items: list[dict]) -> None:
        self.items, self.received = items, 0
        self.listings: list[_Listing] = []

    def receive_listing(self, pool, node, path):
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
        if "object" in self.path:
            body = b'{"a": 1}'
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
            columns = as_lists(listing.columns(["id", "ip"]))
            assert columns == expected_columns(expected, ["id", "ip"])
    if kind == "plain":  # read to its end, the connection served the second request too
        assert len(_Server.connections) == 1


def test_a_listing_cut_short_is_a_transport_error(listing_server):
    with DirectorClient(listing_server, "token-1234567890", retries=1, backoff=0.001) as client:
        with pytest.raises(DirectorError, match="short|closed|bytes"):
            client.list_objects("p", "n", "short")


def test_a_large_listing_decoded_ahead_gives_the_same_columns(listing_server):
    """``start_columns`` (a prefetch thread) decodes with pyarrow; ``columns`` hands that over."""
    expected = json.loads(_Server.body)
    fields = ["id", "timezone", "risk_values"]
    with DirectorClient(listing_server, "token-1234567890", retries=0) as client:
        listing = client.receive_listing("p", "n", "plain")
        thread = threading.Thread(target=listing.start_columns, args=(fields, UNNEST))
        thread.start()
        thread.join()
        ahead = listing.columns(fields, UNNEST)
        again = listing.columns(fields, UNNEST)  # decoded once more, the same
        listing.start_columns(fields, UNNEST)
        other = listing.columns(fields, {"risk_values": ["availability"]})  # not what was started
        assert list(other["risk_values"]) == ["availability"]
    assert ahead.decoder == "pyarrow" and as_lists(ahead) == as_lists(again)
    assert list(ahead["id"]) == [e["id"] for e in expected]
    assert list(ahead["timezone"]) == [e.get("timezone") for e in expected]
    assert as_lists(ahead["risk_values"]) == expected_unnested(
        expected, "risk_values", UNNEST["risk_values"]
    )


def test_a_listing_that_is_not_an_array_names_the_request(listing_server):
    with DirectorClient(listing_server, "token-1234567890", retries=0) as client:
        listing = client.receive_listing("p", "n", "object")
        listing.start_columns(["a"], {})  # refused quietly: columns() says why
        with pytest.raises(DirectorError, match="GET configapi/p/n/object: expected a JSON array"):
            listing.columns(["a"])


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
    columns = decode_columns(body, ["id", "a"], columnar_from=0)
    assert columns["a"][0] == [math.inf] and columns.rows == 2
    profile = Profile("x", None, {"identity": {"natural_key": ["name"]}})
    nobody = decode_columns(b'[{"x": "1"}, {"x": "2"}]', ["id", "name"], columnar_from=0)
    assert nobody.rows == 2 and nobody.decoder == "pyarrow"
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
    whole = normalise_listing(items, profile, NODE)
    for columns in (
        jsonio.loads_columns(body, fields),
        decode_columns(body, fields, unnest_keys(profile, wanted)),
    ):
        part = normalise_columns(columns, profile, NODE, wanted)
        assert list(part["bytes"]) == [3, None]
    assert list(whole["bytes"].where(whole["bytes"].notna(), None)) == [3, None]


def test_plan_and_apply_hash_the_same_remote_values():
    """The plan hashes a projected frame, ``apply --plan`` a whole listing: same hashes.

    Big integers with gaps included (a whole frame once turned them into floats).
    """
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


@pytest.mark.parametrize(
    "body, fields, unnest",
    [
        (b'[{"ip":["x"]},{"ip":["y"]},{"\\u0069p":"c"}]', ["ip"], None),  # a key spelt escaped
        (b'[{"ip":[true]},{"ip":[false]},{"ip":true}]', ["ip"], None),  # a lone boolean
        (b'[{"ip":["x"]},{"ip":["y"]},{"ip" : 5}]', ["ip"], None),  # a lone number, spaced
        (b'[{"r":{"k":["a"]}},{"r":{"k":["b"]}},{"r":{"\\u006b":"c"}}]', ["r"], {"r": ["k"]}),
        (b'[{"r":{"k":[true]}},{"r":{"k":[true]}},{"r":{"k":true}}]', ["r"], {"r": ["k"]}),
        (b"[{}]", ["a"], None),  # objects without keys still count
        (b"[ {} , {} ]", ["a"], None),
    ],
)
def test_later_objects_of_another_shape_are_decoded_exactly(monkeypatch, body, fields, unnest):
    """Cases found by a fuzzer and by hand: each decoded exactly, rows counted alike."""
    from directorsync.director import listing

    monkeypatch.setattr(listing, "INFER_ROWS", 2)
    exact = decode_columns(body, fields, unnest, columnar_from=1 << 40)
    got = decode_columns(body, fields, unnest, columnar_from=0)
    assert as_lists(got) == as_lists(exact) and got.rows == exact.rows


def test_a_list_field_holding_null_or_spaced_lists_stays_columnar(monkeypatch):
    from directorsync.director import listing

    monkeypatch.setattr(listing, "INFER_ROWS", 2)
    body = b'[{"ip":["x"],"n":"caf\\u00e9"},{"ip" :\n [ "y"],"n":"b"},{"ip": null,"n":"c"}]'
    got = decode_columns(body, ["ip", "n"], columnar_from=0)
    assert got.decoder == "pyarrow" and as_lists(got) == {
        "ip": [["x"], ["y"], None],
        "n": ["café", "b", "c"],
    }


def test_fields_not_asked_for_are_skipped_whatever_their_later_kind(monkeypatch):
    """The first objects' types are sampled, then only the wanted fields are parsed.

    A field not asked for may change kind or first appear late: the body stays columnar (pyarrow
    skips it), the wanted columns are those of the exact decoder.
    """
    from directorsync.director import listing

    monkeypatch.setattr(listing, "INFER_ROWS", 2)
    first = [{"a": "x", "r": {"k": "z", "o": 1}, "u": "t"}, {"a": "y", "r": {"k": None}, "u": "v"}]
    later = [{"a": "w", "r": {"k": "q", "p": [1]}, "u": {"o": 5}, "late": True}]
    body = json.dumps([*first, *later, *first]).encode()
    exact = decode_columns(body, ["a", "r"], {"r": ["k"]}, columnar_from=1 << 40)
    got = decode_columns(body, ["a", "r"], {"r": ["k"]}, columnar_from=0)
    assert got.decoder == "pyarrow" and as_lists(got) == as_lists(exact)
    assert as_lists(got)["a"] == ["x", "y", "w", "x", "y"]


def test_a_wanted_field_the_first_objects_lack(monkeypatch):
    """Absent throughout: absent (columnar). Given a value later: refused, decoded exactly.

    Given only nulls later, it is absent here and a column of nulls for the exact decoder (the
    difference the module documents).
    """
    from directorsync.director import listing

    monkeypatch.setattr(listing, "INFER_ROWS", 2)
    first = [{"a": "x", "r": {"k": "z"}}, {"a": "y", "r": {"k": "w"}}] * 3
    fields, unnest = ["a", "b", "r"], {"r": ["k", "j"]}

    def both(objects: list[dict]) -> tuple[dict, dict, str]:
        body = json.dumps(objects).encode()
        got = decode_columns(body, fields, unnest, columnar_from=0)
        exact = decode_columns(body, fields, unnest, columnar_from=1 << 40)
        return as_lists(got), as_lists(exact), got.decoder

    got, exact, decoder = both(first)
    assert decoder == "pyarrow" and got == exact and "b" not in got
    for late in ({"a": "x", "b": "y", "r": {"k": "z"}}, {"a": "x", "r": {"k": "z", "j": "y"}}):
        got, exact, decoder = both([*first, late])
        assert decoder == "msgspec" and got == exact
    got, exact, decoder = both([*first, {"a": "x", "b": None, "r": {"k": "z"}}])
    assert decoder == "pyarrow" and "b" not in got and exact["b"] == [None] * 7


def test_a_sample_cut_inside_a_text_falls_back_to_the_whole_body(monkeypatch):
    from directorsync.director import listing

    monkeypatch.setattr(listing, "INFER_ROWS", 2)
    body = json.dumps([{"a": "},{", "n": ["x"]}, {"a": "b", "n": []}] * 3).encode()
    got = decode_columns(body, ["a", "n"], columnar_from=0)
    exact = decode_columns(body, ["a", "n"], columnar_from=1 << 40)
    assert got.decoder == "pyarrow" and as_lists(got) == as_lists(exact)


@pytest.mark.parametrize(
    "body, fields, unnest",
    [  # found by a fuzzing review: ends of nested objects counted as ends of listed ones
        (b'[{"u":[{},{}]},{"a":null}]', ["a"], None),
        (b'[{"a":"x","u":[{},{}]},{"a":"y","b":null}]', ["a", "b"], None),
        (b'[{"r":{"u":[{},{}]}},{"r":{"k":null}}]', ["r"], {"r": ["k"]}),
        (b'[{"a":"x","u":[{},{},{}]},{"a":"y","b":null},{"a":"z"},{"a":"w"}]', ["a", "b"], None),
    ],
)
def test_a_sample_shortened_by_nested_objects_is_not_taken(monkeypatch, body, fields, unnest):
    """A field the first objects hold (as null) stays a column: the sample must hold them all."""
    from directorsync.director import listing

    monkeypatch.setattr(listing, "INFER_ROWS", 2)
    got = decode_columns(body, fields, unnest, columnar_from=0)
    exact = decode_columns(body, fields, unnest, columnar_from=1 << 40)
    assert as_lists(got) == as_lists(exact) and got.rows == exact.rows


def test_objects_too_large_to_sample_are_parsed_whole(monkeypatch):
    from directorsync.director import listing

    monkeypatch.setattr(listing, "INFER_ROWS", 2)
    items = [{"a": "x" * 40, "u": 1}, {"a": "y", "u": 2}, {"a": "z", "u": "t"}]
    body = json.dumps(items).encode()
    exact = decode_columns(body, ["a"], columnar_from=1 << 40)
    sampled = decode_columns(body, ["a"], columnar_from=0)  # "u" not asked for: skipped
    assert sampled.decoder == "pyarrow" and as_lists(sampled) == as_lists(exact)
    monkeypatch.setattr(listing, "SAMPLE_BYTES", 40)  # the first two objects are longer
    whole = decode_columns(body, ["a"], columnar_from=0)  # "u" changes kind: refused
    assert whole.decoder == "msgspec" and as_lists(whole) == as_lists(exact)


def test_a_body_beyond_one_pyarrow_block_is_decoded_exactly(monkeypatch):
    from directorsync.director import listing

    body = json.dumps([{"a": "x"}, {"a": "y"}] * 10).encode()
    assert decode_columns(body, ["a"], columnar_from=0).decoder == "pyarrow"
    monkeypatch.setattr(listing, "COLUMNAR_UP_TO", len(body) - 1)
    got = decode_columns(body, ["a"], columnar_from=0)
    assert got.decoder == "msgspec" and list(got["a"]) == ["x", "y"] * 10


def _outcome(body: bytes, fields: list, unnest: dict | None, columnar_from: int) -> object:
    try:
        got = decode_columns(body, fields, unnest, columnar_from=columnar_from)
    except ValueError:
        return ValueError
    return as_lists(got), got.rows


@pytest.mark.parametrize(
    "body, unnest",
    [  # found by a fuzzing review: bodies pyarrow reads that the exact decoder refuses
        (b'[{"a":"x"},{"a":"y"},{"a":"z"}], "x": 1', None),  # more after the array
        (b'[{"a":"x"},{"a":"y"},{"a":"z"},null,{"a":"w"}]', None),  # a null item
        (b'[{"a":"x"},{"a":"y"},{"a":"z","b":Inf}]', None),  # spellings JSON has not
        (b'[{"a":"x"},{"a":"y"},{"a":"z","b":-NaN}]', None),
        (b'[{"a":{"k":"x"}},{"a":{}},{"a":{"k":"y","j":Inf}}]', {"a": ["k"]}),
        (b'[{"a":{"k":"x"}},{"a":{}},{"a":{"k":"y","j":"\xff"}}]', {"a": ["k"]}),  # not UTF-8
        (b'[{"a":"x"},{"a":"y"},{"a":"z","u":"\xff","v":NaN}]', None),
        (b'[{"a":"x"},{"a":"y"},{"a":"z","b":' + b"[" * 1000 + b"]" * 1000 + b"}]", None),
        (b'[{"a":' + b"[" * 1000 + b"]" * 1000 + b"}]", None),  # too deep: a ValueError
    ],
)
def test_what_the_exact_decoder_refuses_is_never_read_columnar(monkeypatch, body, unnest):
    from directorsync.director import listing

    monkeypatch.setattr(listing, "INFER_ROWS", 2)
    exact = _outcome(body, ["a"], unnest, 1 << 40)
    assert _outcome(body, ["a"], unnest, 0) == exact


@pytest.mark.parametrize(
    "body, fields, unnest",
    [  # found by a second fuzzing review
        (b'[{"l":[null,null]}]', ["l"], None),  # lists of nulls only (pyarrow: list<null> bug)
        (b'[{"l":[]},{"l":[null]},{"l":[null,null,null]},{"l":["x"]}]', ["l"], None),
        (b'[{"r":{"k":[null,null]}},{"r":{"k":[]}}]', ["r"], {"r": ["k"]}),
        (b'[{"r":{"a\\u0000":"x"}},{"r":{"a\\u0000":"w"}}]', ["r"], {"r": ["a\x00"]}),  # NUL
    ],
)
def test_lists_of_nulls_and_names_with_nul_decode_like_the_exact_decoder(body, fields, unnest):
    exact = decode_columns(body, fields, unnest, columnar_from=1 << 40)
    got = decode_columns(body, fields, unnest, columnar_from=0)
    assert as_lists(got) == as_lists(exact) and got.rows == exact.rows


def test_a_failure_taking_the_columns_out_is_a_warning_and_an_exact_decode(monkeypatch, caplog):
    from directorsync.director import listing

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(listing, "_cells", broken)
    body = json.dumps([{"a": "x"}, {"a": "y"}]).encode()
    got = decode_columns(body, ["a"], columnar_from=0)
    assert got.decoder == "msgspec" and list(got["a"]) == ["x", "y"]
    assert "decoded exactly" in caplog.text and "boom" in caplog.text
