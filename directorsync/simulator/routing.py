"""Routes of ``configapi/{pool}/{node}/…``: templates such as ``Repos/{id}`` → handlers.

A :class:`Route` says what a request does: ``read`` handlers return the JSON answer;
``write`` and ``fetch`` handlers check the request synchronously and return an
:class:`~directorsync.simulator.monitor.Op`, which the simulator turns into an order. When several
templates match, the one with the most literal segments wins (``Repos/RepoPaths`` beats
``Repos/{id}``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from directorsync.simulator.validation import ApiError

if TYPE_CHECKING:
    from directorsync.simulator.engine import NodeView

READ, WRITE, FETCH = "read", "write", "fetch"


@dataclass
class Call:
    """One routed request, as a handler sees it."""

    node: NodeView
    params: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The ``{id}`` of the URL."""
        return self.params["id"]


@dataclass(frozen=True)
class Route:
    """``method`` + ``template`` → ``handler(call)``; ``kind`` is read, write or fetch."""

    method: str
    template: tuple[str, ...]
    handler: Callable[[Call], Any]
    kind: str = READ

    @property
    def resource(self) -> str:
        """The resource segment (first of the template)."""
        return self.template[0]

    @property
    def pattern(self) -> str:
        """The template as a path (``Repos/{id}``)."""
        return "/".join(self.template)

    @property
    def creates_order(self) -> bool:
        """Whether a successful call answers with an order."""
        return self.kind != READ

    def bind(self, segments: list[str]) -> dict[str, str] | None:
        """The ``{param}`` values if ``segments`` fit the template, else None."""
        if len(segments) != len(self.template):
            return None
        params = {}
        for part, seg in zip(self.template, segments, strict=True):
            if part.startswith("{"):
                params[part[1:-1]] = seg
            elif part != seg:
                return None
        return params


def route(method: str, template: str, handler: Callable[[Call], Any], kind: str = READ) -> Route:
    """Shorthand: ``route("GET", "Repos/{id}", handler)``."""
    return Route(method, tuple(template.split("/")), handler, kind)


class Router:
    """Finds the route of a request among routes grouped by resource."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._by_resource: dict[str, list[Route]] = {}
        for r in routes:
            self._by_resource.setdefault(r.resource, []).append(r)
        for candidates in self._by_resource.values():
            candidates.sort(key=lambda r: -sum(not p.startswith("{") for p in r.template))

    @property
    def resources(self) -> list[str]:
        """Every resource segment served."""
        return sorted(self._by_resource)

    def routes(self) -> list[Route]:
        """Every route, grouped by resource."""
        return [r for rs in self._by_resource.values() for r in rs]

    def match(self, method: str, segments: list[str]) -> tuple[Route, dict[str, str]]:
        """The route and URL params for ``method`` + ``segments``.

        Raises:
            ApiError: 404 for an unknown resource or path, 405 for a known path and another method.
        """
        candidates = self._by_resource.get(segments[0]) if segments else None
        if not candidates:
            raise ApiError(404, f"unknown resource {'/'.join(segments[:1]) or '(none)'!r}")
        allowed = []
        for r in candidates:
            params = r.bind(segments)
            if params is None:
                continue
            if r.method == method:
                return r, params
            allowed.append(r.method)
        if allowed:
            raise ApiError(
                405,
                f"{method} is not allowed on {'/'.join(segments)}",
                {"Allow": ", ".join(sorted(set(allowed)))},
            )
        raise ApiError(404, f"unknown path {'/'.join(segments)!r}")
