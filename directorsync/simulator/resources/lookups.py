"""Read-only vendor lists.

NormalizationPackage + CompiledNormalizers (doc §31), Charsets (doc §7), Timezone (doc §64).
Their documented shapes are kept: compiled normalizers, charsets and timezones carry no ``id``.
"""

from __future__ import annotations

from typing_extensions import override

from directorsync.simulator.catalog import catalog
from directorsync.simulator.resources.base import Resource
from directorsync.simulator.routing import Route, route


class NormalizationPackage(Resource):
    """``NormalizationPackage`` list/get, ``…/CompiledNormalizers`` list and refreshlist."""

    name = "NormalizationPackage"
    label = "normalization package"
    refresh = ("NormalizationPackage/CompiledNormalizers/refreshlist",)

    @override
    def extra_routes(self) -> list[Route]:
        compiled = [dict(c) for c in catalog()["compiled_normalizers"]]
        return [route("GET", "NormalizationPackage/CompiledNormalizers", lambda call: compiled)]


class Charsets(Resource):
    """``GET Charsets`` → ``[{"charsets": [...]}]``."""

    name = "Charsets"
    label = "charset"
    readable = False

    @override
    def extra_routes(self) -> list[Route]:
        return [route("GET", "Charsets", lambda call: [{"charsets": list(catalog()["charsets"])}])]


class Timezone(Resource):
    """``GET Timezone`` → ``[{"name", "description"}]``."""

    name = "Timezone"
    label = "timezone"
    readable = False

    @override
    def extra_routes(self) -> list[Route]:
        return [route("GET", "Timezone", lambda call: [dict(t) for t in catalog()["timezones"]])]
