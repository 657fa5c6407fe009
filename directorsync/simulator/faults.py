"""Targeted fault rules ("fail the next 3 POSTs to Repos on node X") and their outcomes.

A rule matches requests by method, resource (first segment after the node: ``Repos``,
``AlertRules``, ``orders`` for monitor polls), node (id or name), object name and URL-path
substring; it fires ``count`` times (None: forever). Kinds:

============== =============================================================================
``http_NNN``   answer HTTP NNN (e.g. ``http_500``, ``http_400``, ``http_429``) with a JSON body;
               nothing is applied
``non_json``   answer 200 with an HTML body; nothing is applied
``drop``       handle the request (a write's order is created and will complete), then close
               the connection before sending any byte
``order_fail`` accept the write; its order ends failed; nothing is applied (with ``message``:
               the order's failure text, e.g. a validation refusal; default: a job failure)
``order_hang`` accept the write; its order never completes; nothing is applied
``latency``    wait ``latency_ms`` (default 1000) before handling; combines with the others
``alter``      accept the write; when its order completes, the written object's fields are set
               to ``values`` (``{"lists": ["X"]}``): Director keeping another value than sent,
               as when it normalises one (what a verified apply must notice)
============== =============================================================================
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from directorsync.simulator.pools import Topology
from directorsync.simulator.validation import Field, Schema, bad

ORDER_KINDS = ("order_fail", "order_hang")
OUTCOME_KINDS = ("non_json", "drop", "alter", *ORDER_KINDS)
_HTTP = re.compile(r"^http_([45]\d\d)$")
#: body keys that hold an object's natural key, for the ``name`` filter
NAME_KEYS = ("name", "searchname", "policy_name", "s_name", "d_name", "username", "source_name")

_RULE = Schema(
    Field("kind", required=True),
    Field("method"),
    Field("resource"),
    Field("node"),
    Field("name"),
    Field("path"),
    Field("count", "int", minimum=1),
    Field("latency_ms", "int", minimum=0),
    Field("message"),
    Field("values", "dict"),
)


@dataclass
class Target:
    """What fault rules look at in a request."""

    method: str
    path: str
    resource: str
    node_id: str
    names: set[str] = field(default_factory=set)
    creates_order: bool = False


@dataclass
class Rule:
    """One fault rule (see the module docstring)."""

    kind: str
    method: str | None = None
    resource: str | None = None
    node: str | None = None
    name: str | None = None
    path: str | None = None
    count: int | None = 1
    latency_ms: int = 1000
    message: str | None = None
    values: dict[str, Any] | None = None
    fired: int = 0

    def matches(self, t: Target) -> bool:
        """Whether this rule applies to ``t`` (and still has shots left)."""
        if self.count is not None and self.fired >= self.count:
            return False
        if self.kind in (*ORDER_KINDS, "alter") and not t.creates_order:
            return False
        return (
            (self.method is None or self.method == t.method)
            and (self.resource is None or self.resource == t.resource)
            and (self.node is None or self.node == t.node_id)
            and (self.path is None or self.path in t.path)
            and (self.name is None or self.name.casefold() in {n.casefold() for n in t.names})
        )


@dataclass
class Decision:
    """What the rules decided for one request."""

    latency_ms: int = 0
    outcome: str | None = None
    rules: list[str] = field(default_factory=list)
    #: the failure text of an ``order_fail`` rule that gave one
    message: str | None = None
    #: the fields an ``alter`` rule sets on the written object
    values: dict[str, Any] | None = None

    @property
    def status(self) -> int | None:
        """The HTTP status of an ``http_NNN`` outcome."""
        m = _HTTP.match(self.outcome or "")
        return int(m.group(1)) if m else None


class FaultBook:
    """The active fault rules, in the order they were added."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []

    def add(self, spec: dict[str, Any], topology: Topology) -> Rule:
        """Add a rule from its JSON form.

        Raises:
            ApiError: 400 for an unknown kind or node, or a badly typed field.
        """
        data = _RULE.check(spec)
        kind = data["kind"]
        if not (_HTTP.match(kind) or kind in OUTCOME_KINDS or kind == "latency"):
            raise bad(f"kind: {kind!r} is not http_NNN, {', '.join(OUTCOME_KINDS)} or latency")
        if kind == "alter" and not data.get("values"):
            raise bad('values: an alter rule needs the fields to set, e.g. {"lists": ["X"]}')
        if "node" in data:
            node = topology.find(data["node"])
            if node is None:
                raise bad(f"node: no node with id or name {data['node']!r}")
            data["node"] = node.id
        if "method" in data:
            data["method"] = data["method"].upper()
        if "count" not in data and spec.get("count", 1) is None:
            data["count"] = None
        rule = Rule(**data)
        self.rules.append(rule)
        return rule

    def decide(self, target: Target) -> Decision:
        """Fire every matching rule: latencies add up, the first outcome wins."""
        decision = Decision()
        for rule in self.rules:
            if not rule.matches(target):
                continue
            if rule.kind == "latency":
                decision.latency_ms += rule.latency_ms
            elif decision.outcome is None:
                decision.outcome = rule.kind
                decision.message = rule.message
                decision.values = rule.values
            else:
                continue
            rule.fired += 1
            decision.rules.append(rule.kind)
        return decision

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def as_list(self) -> list[dict[str, Any]]:
        """The rules as JSON-able dicts (with how often each has fired)."""
        return [asdict(r) for r in self.rules]
