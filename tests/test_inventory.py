"""Inventory: listed once per (source, node), prefetched in the background, planned objects."""

import threading

import pandas as pd
import pytest

from directorsync.errors import DirectorError
from directorsync.inventory import Inventory
from directorsync.profile.model import load_profiles
from directorsync.tenants import Node, Tenant
from directorsync.vocabulary import NODE, PLANNED

NODES = [Node(id=f"{i:032x}", name=f"be{i}", role="backends") for i in (1, 2, 3)]
TENANT = Tenant(name="t", pool_uuid="p" * 32, nodes=NODES)


class ReceivingDirector:
    """Receives in one call and decodes in another, like DirectorClient.receive_list."""

    def __init__(self, fail_times: int = 0):
        self.received: list[tuple[str, str]] = []
        self.decoded: list[tuple[str, str, str]] = []
        self.fail_times = fail_times
        self.lock = threading.Lock()

    def receive_list(self, pool, node, path):
        with self.lock:
            self.received.append((node, path))
            if self.fail_times:
                self.fail_times -= 1
                raise DirectorError(f"GET {path}: HTTP 503")

        def decode():
            self.decoded.append((node, path, threading.current_thread().name))
            return [{"id": f"id-{node[-1]}", "name": "web", "description": "d"}]

        return decode

    def list_objects(self, pool, node, path):
        return self.receive_list(pool, node, path)()

    def fetch(self, pool, node, path, data=None):
        return []


@pytest.fixture
def profiles():
    return load_profiles()


def test_prefetch_then_frames_lists_each_node_once_and_decodes_on_the_callers_thread(profiles):
    director = ReceivingDirector()
    inventory = Inventory(director, TENANT, profiles)
    inventory.prefetch("device_groups", NODES)
    inventory.prefetch("device_groups", NODES)  # already under way: nothing more
    frame = inventory.frames("device_groups", NODES)
    inventory.frames("device_groups", NODES)
    assert sorted(director.received) == sorted((n.id, "DeviceGroups") for n in NODES)
    assert {name for _, _, name in director.decoded} == {threading.current_thread().name}
    assert frame[NODE].tolist() == [n.id for n in NODES] and inventory.calls == 3


def test_a_failed_prefetch_raises_where_the_frame_is_needed_and_the_next_read_lists_again(profiles):
    director = ReceivingDirector(fail_times=1)
    inventory = Inventory(director, TENANT, profiles)
    inventory.prefetch("device_groups", NODES[:1])
    with pytest.raises(
        DirectorError, match="cannot list DeviceGroups on node be1: GET DeviceGroups: HTTP 503"
    ):
        inventory.frame("device_groups", NODES[0])
    assert inventory.frame("device_groups", NODES[0])["name"].tolist() == ["web"]
    assert len(director.received) == 2


def test_planned_objects_join_the_listing_when_it_is_next_read(profiles):
    director = ReceivingDirector()
    inventory = Inventory(director, TENANT, profiles)
    node = NODES[0]
    inventory.add_planned(
        "device_groups", node, pd.DataFrame({"name": ["db"], "id": ["$ref:device_groups:db"]})
    )
    assert director.received == []  # nothing listed just to add planned objects
    frame = inventory.frame("device_groups", node)
    assert frame["name"].tolist() == ["web", "db"]
    assert frame[PLANNED].fillna(False).tolist() == [False, True]
    inventory.add_planned(
        "device_groups", node, pd.DataFrame({"name": ["mail"], "id": ["$ref:device_groups:mail"]})
    )
    assert inventory.frame("device_groups", node)["name"].tolist() == ["web", "db", "mail"]
    refreshed = inventory.refresh("device_groups", node)
    assert refreshed["name"].tolist() == [
        "web",
        "db",
        "mail",
    ]  # a fresh listing keeps planned objects
    inventory.invalidate("device_groups", node)
    assert inventory.frame("device_groups", node)["name"].tolist() == ["web"]
