"""Per-resource behaviour of the simulated Director (contract §2), one module per family.

=================  ======================================================================
module             resources
=================  ======================================================================
``repos``          Repos (+ RepoPaths, RemoteRepos/fetch)
``policies``       RoutingPolicies, NormalizationPolicy, ProcessingPolicy
``enrichment``     EnrichmentPolicy, EnrichmentSource
``devices``        DeviceGroups, Devices (+ plugins)
``collectors``     SyslogCollector
``alerts``         AlertRules (+ actions, sharing, fetches), MitreAttacks
``lists``          Lists (static, dynamic)
``accounts``       Users, UserGroups, IncidentUserGroups
``lookups``        NormalizationPackage (+ CompiledNormalizers), Charsets, Timezone
=================  ======================================================================
"""

from __future__ import annotations

from directorsync.simulator.resources.accounts import IncidentUserGroups, UserGroups, Users
from directorsync.simulator.resources.alerts import AlertRules, MitreAttacks
from directorsync.simulator.resources.base import Resource
from directorsync.simulator.resources.collectors import SyslogCollector
from directorsync.simulator.resources.devices import DeviceGroups, Devices
from directorsync.simulator.resources.enrichment import EnrichmentPolicy, EnrichmentSource
from directorsync.simulator.resources.lists import Lists
from directorsync.simulator.resources.lookups import Charsets, NormalizationPackage, Timezone
from directorsync.simulator.resources.policies import (
    NormalizationPolicy,
    ProcessingPolicy,
    RoutingPolicies,
)
from directorsync.simulator.resources.repos import Repos

RESOURCE_TYPES: tuple[type[Resource], ...] = (
    Repos,
    RoutingPolicies,
    NormalizationPolicy,
    NormalizationPackage,
    ProcessingPolicy,
    EnrichmentPolicy,
    EnrichmentSource,
    DeviceGroups,
    Devices,
    SyslogCollector,
    AlertRules,
    MitreAttacks,
    Lists,
    Users,
    UserGroups,
    IncidentUserGroups,
    Charsets,
    Timezone,
)


def build_resources() -> dict[str, Resource]:
    """A fresh instance of every resource, by URL segment."""
    return {cls.name: cls() for cls in RESOURCE_TYPES}


__all__ = ["RESOURCE_TYPES", "Resource", "build_resources"]
