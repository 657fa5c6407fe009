"""Director's RefreshList endpoints: which listings have one, and calling it.

Director's guidelines (doc §3.1) ask clients to call a resource's RefreshList endpoint after
changing it, because adds, edits and deletes are asynchronous and a Get/List right after may
return stale data. The endpoint is ``POST configapi/{pool}/{node}/<path>`` with body
``{"data": {}}``; its answer is an ordinary order (``monitorapi/…/orders/{id}``), followed to its
end before the listing is read, so that the listing sees what the refresh synced.

Documented endpoints for listings DirectorSync reads (contract §2, doc chapters in brackets):

========================================== ==================================================
listing                                    refresh
========================================== ==================================================
``Lists`` (user defined lists)             ``Lists/refreshlist`` (§24.10)
``EnrichmentSource``                       ``EnrichmentSource/refreshlist`` (§14.3)
``NormalizationPackage/CompiledNormalizers`` ``…/CompiledNormalizers/refreshlist`` (§31.13)
``Repos/RepoPaths``                        ``Repos/RepoPaths/refreshlist`` (§41.7)
``Users``                                  ``Users/refreshlist`` (§68.9)
``UserGroups``                             ``UserGroups/refreshlist`` (§67.5)
========================================== ==================================================

Every other listing (Repos, Devices, DeviceGroups, the policies, SyslogCollector, AlertRules…)
has no documented refresh: it is listed as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from directorsync.director.orders import OrderOutcome

#: listing path → its documented RefreshList path (see the module docstring)
REFRESH_PATHS: dict[str, str] = {
    "Lists": "Lists/refreshlist",
    "EnrichmentSource": "EnrichmentSource/refreshlist",
    "NormalizationPackage/CompiledNormalizers": "NormalizationPackage/CompiledNormalizers/refreshlist",
    "Repos/RepoPaths": "Repos/RepoPaths/refreshlist",
    "Users": "Users/refreshlist",
    "UserGroups": "UserGroups/refreshlist",
}


def refresh_path(list_path: str | None) -> str | None:
    """The RefreshList path of a listing path (``Lists`` → ``Lists/refreshlist``); None if none."""
    return REFRESH_PATHS.get((list_path or "").strip("/"))


def refresh_list(client: Any, pool: str, node: str, list_path: str) -> OrderOutcome | None:
    """Refresh one listing on one node, when Director documents a RefreshList for it.

    Sends ``POST configapi/{pool}/{node}/<refresh path>`` with ``{"data": {}}`` and follows the
    order it returns to its end (:meth:`DirectorClient.write`), so a listing read afterwards is
    fresh.

    Args:
        client: the Director client (anything with ``write(method, pool, node, path, data)``).
        pool: the pool UUID.
        node: the node's logpoint identifier.
        list_path: the listing's configapi path (``Lists``, ``Users``…).

    Returns:
        The order's outcome; None when the listing has no documented refresh (nothing sent).

    Raises:
        OrderError: the refresh order failed or timed out.
        DirectorHTTPError, TransportError, AmbiguousWriteError: as for any write.
    """
    path = refresh_path(list_path)
    if path is None:
        return None
    outcome: OrderOutcome = client.write("POST", pool, node, path, {})
    return outcome
