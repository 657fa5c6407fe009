"""The local Director: a real HTTP server over loopback that behaves like Logpoint Director.

It follows ``director-api.md`` (the API contract): per-node state, async orders with lazy
completion, Director's validation, read shapes that differ from write shapes, latency and
faults. The demo, the notebooks, the tests and the benchmarks all run against it.

The subpackage reads like a request's path:

===================  =========================================================================
``embedded``         :class:`Simulator`: start/stop in-process, addresses, admin helpers
``cli``              ``directorsync simulator``: the same as a command
``server``           HTTP/1.1 threading server (keep-alive, one write per answer)
``dispatch``         one request: token, limits, routing, faults, latency, envelope, log
``admin``            the ``/_sim/`` test API
``routing``          ``configapi`` templates → handlers
``resources``        per-resource behaviour (validation, read shapes, references)
``deletes``          Trash: built-in objects and objects in use are refused
``director``         per-node state, orders and their completion
``orders``           orders and the monitorapi payloads
``faults``           targeted fault rules
``knobs``            latency, job duration, fault rates, lenient switches
``requestlog``       request log and counts
``store``            memory / SQLite state
``catalog``          the vendor catalog every node starts with; the demo topology
``topology``         tenants file → pools and nodes
``validation``       field specs; synchronous (400) vs asynchronous (failed order) refusals
===================  =========================================================================
"""

from directorsync.simulator.catalog import DEMO_TENANTS_YAML
from directorsync.simulator.embedded import DEFAULT_TOKEN, Simulator
from directorsync.simulator.knobs import Knobs

__all__ = ["DEFAULT_TOKEN", "DEMO_TENANTS_YAML", "Knobs", "Simulator"]
