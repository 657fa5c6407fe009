"""A working session: settings + tenants + profiles + Director client, ready to plan and apply.

The CLI, the notebooks and the demo all go through :class:`Session`, so they behave the same::

    with Session.open(tenants_file="tenants.yml") as s:
        plan = s.plan("core", "core_config.xlsx", resources=["repos"])
        result = s.apply(plan)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from directorsync.config import Settings, load_settings
from directorsync.errors import ConfigError, ProfileError
from directorsync.inventory import Inventory
from directorsync.plan import Plan
from directorsync.planner import build_plan, columns_read
from directorsync.profile.model import Profile, load_profiles
from directorsync.prune import PruneOptions, prune_plan
from directorsync.tenants import Tenant, get_tenant, load_tenants, tenant_named_by
from directorsync.workbook import Workbook
from directorsync.writeonly import FORCE_UPDATE, check_forced


@dataclass
class Session:
    """Everything a run needs, built once from the settings."""

    settings: Settings
    tenants: dict[str, Tenant]
    profiles: dict[str, Profile]
    client: Any
    progress: Callable[[str], None] | None = None
    _inventories: dict[str, Inventory] = field(default_factory=dict, repr=False)
    tenants_file: str | None = None

    @classmethod
    def open(
        cls,
        *,
        settings: Settings | None = None,
        tenants_file: str | Path | None = None,
        client: Any = None,
        progress: Callable[[str], None] | None = None,
    ) -> Session:
        """Build a session; the client comes from ``settings.director`` unless given.

        Raises:
            ConfigError: no tenants file, or no Director URL/token.
        """
        settings = settings or load_settings()
        tenants_file = tenants_file or settings.inputs.tenants_file
        if not tenants_file:
            raise ConfigError(
                "no tenants file: pass --tenants-file, set LP_TENANTS_FILE or inputs.tenants_file"
            )
        tenants = load_tenants(tenants_file)
        profiles = load_profiles(None, settings.profiles.search_paths)
        client = client or make_client(settings)
        session = cls(settings, tenants, profiles, client, progress)
        session.tenants_file = str(Path(tenants_file).resolve())
        return session

    def tenant(self, name: str) -> Tenant:
        """A tenant of the tenants file, by name."""
        return get_tenant(self.tenants, name)

    def inventory(self, tenant: str) -> Inventory:
        """The run's inventory cache for a tenant (listed once per source and node)."""
        if tenant not in self._inventories:
            self._inventories[tenant] = Inventory(
                self.client,
                self.tenant(tenant),
                self.profiles,
                max_workers=self.settings.app.concurrency,
            )
        return self._inventories[tenant]

    def select(self, resources: list[str] | None) -> dict[str, Profile]:
        """Profiles for the named resources (all when None)."""
        if not resources:
            return dict(self.profiles)
        unknown = [r for r in resources if r not in self.profiles]
        if unknown:
            raise ProfileError(
                f"unknown resource(s): {', '.join(unknown)} (known: {', '.join(sorted(self.profiles))})"
            )
        return {r: self.profiles[r] for r in resources}

    def plan(
        self,
        tenant: str,
        workbook: str | Path | Workbook,
        resources: list[str] | None = None,
        *,
        fresh: bool = True,
        prune: PruneOptions | None = None,
        ledger: Any = None,
        force_refresh: bool = False,
    ) -> Plan:
        """Plan a workbook for a tenant (``fresh`` re-lists Director instead of reusing).

        ``prune``: also list (or, with ``prune.prune``, delete) what Director holds that the
        workbook no longer names (:mod:`directorsync.prune`; ``ledger``: ownership, quarantine).
        ``force_refresh``: call the RefreshList endpoint of every listing read that has one
        (and follow its order) before listing it (:func:`directorsync.verify.refresh_for_plan`).
        """
        if fresh:
            self._inventories.pop(tenant, None)
        started = time.perf_counter()
        if force_refresh:
            from directorsync.verify import refresh_for_plan

            refresh_for_plan(self.inventory(tenant), self.select(resources).values())
        wb = workbook if isinstance(workbook, Workbook) else Workbook(workbook)
        if wb.read_columns is None:  # formula cells matter only in the columns profiles read
            wb.read_columns, wb.whole_sheets = columns_read(self.profiles.values())
        plan = build_plan(
            self.tenant(tenant),
            wb,
            self.select(resources),
            self.inventory(tenant),
            run_id=self.settings.run_id,
            options={
                "public_ip_fallback": self.settings.inputs.public_ip_fallback,
                FORCE_UPDATE: check_forced(self.settings.app.force_update, self.profiles),
            },
            progress=self.progress,
            explicit=bool(resources),
        )
        if prune is not None:
            prune_plan(
                plan, self.inventory(tenant), self.profiles, self.tenant(tenant), ledger, prune
            )
        plan.timings["load_and_plan"] = round(time.perf_counter() - started, 3)
        plan.tenants_file = self.tenants_file
        other = tenant_named_by(plan.workbook, self.tenants, plan.tenant)
        if other:
            message = f"{_other_tenant_message(plan, other)} (apply refuses it without --force)"
            plan.notes.append({"resource": "*", "level": "warning", "message": message})
        return plan

    def prune_options(self, prune: bool = False, unowned: bool = False) -> PruneOptions:
        """Prune options from ``--prune``/``--prune-unowned`` and the settings' ``prune.*``."""
        return PruneOptions(
            prune=prune or unowned,
            unowned=unowned,
            protect=tuple(self.settings.prune.protect),
            delay_seconds=self.settings.prune.delay_seconds,
        )

    def check_workbook_tenant(self, plan: Plan, force: bool = False) -> None:
        """Refuse to apply a plan whose workbook's file name names another known tenant.

        Raises:
            ConfigError: ``esait_config.xlsx`` planned for tenant ``core``, without ``force``.
        """
        other = tenant_named_by(plan.workbook, self.tenants, plan.tenant)
        if other and not force:
            raise ConfigError(
                f"{_other_tenant_message(plan, other)}; nothing was applied. Pass --force if "
                "this workbook really is for this tenant",
                tenant=plan.tenant,
                file=plan.workbook,
            )

    def apply(
        self,
        plan: Plan,
        *,
        selection: list[int] | None = None,
        dry_run: bool = False,
        check_stale: bool = False,
        progress: Any = None,
        present: list[int] | None = None,
        guard: Any = None,
        verify: bool = True,
    ) -> dict[str, Any]:
        """Apply a plan (or the selected rows of it); returns the ``directorsync/result@1`` value.

        ``present``: rows of this plan an earlier apply created or updated (their objects count
        as present for the rows that depend on them). ``verify``: read back what was applied
        and compare (:mod:`directorsync.verify`; the result's ``verification``).
        """
        from directorsync.apply import ApplyOptions, apply_plan

        options = ApplyOptions(
            concurrency=self.settings.app.concurrency,
            dry_run=dry_run,
            retries=self.settings.director.retries,
            check_stale=check_stale,
            present=frozenset(present or ()),
            guard=guard,
            verify=verify,
        )
        return apply_plan(
            plan,
            self.client,
            self.tenant(plan.tenant),
            self.inventory(plan.tenant),
            self.profiles,
            selection=selection,
            options=options,
            progress=progress,
        )

    def result_dir(self, tenant: str, run_id: str | None = None) -> Path:
        """``reports/<tenant>/<run_id>/`` (created)."""
        return result_dir(self.settings, tenant, run_id)

    def close(self) -> None:
        """Close the Director client (its connections)."""
        close = getattr(self.client, "close", None)
        if close:
            close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _other_tenant_message(plan: Plan, other: str) -> str:
    return (
        f"{plan.workbook} names tenant '{other}', but the plan is for tenant '{plan.tenant}': "
        "check --tenant and --xlsx"
    )


def check_director(settings: Settings) -> None:
    """Fail early, before any long work, when the settings cannot reach Director.

    Raises:
        ConfigError: base URL or token missing (the message says how to set them).
    """
    if not settings.director.base_url:
        raise ConfigError(
            "no Director URL: set DSYNC_DIRECTOR__BASE_URL (or LP_DIRECTOR_URL), director.base_url "
            "in directorsync.yml, or pass --url. To try things locally, start "
            "`directorsync simulator` and use the URL it prints."
        )
    if not settings.token:
        raise ConfigError(
            "no Director token: set DSYNC_DIRECTOR__TOKEN (or LP_DIRECTOR_API_TOKEN) or "
            "director.token in the config file (tokens are never command-line arguments)"
        )


def make_client(settings: Settings) -> Any:
    """A :class:`~directorsync.director.client.DirectorClient` from the settings.

    Raises:
        ConfigError: base URL or token missing (the message says how to set them).
    """
    from directorsync.director.client import DirectorClient

    check_director(settings)
    d = settings.director
    verify: bool | str = d.ca_bundle or d.verify_tls
    return DirectorClient(
        d.base_url,
        settings.token,
        verify=verify,
        timeout=(d.connect_timeout_sec, d.timeout_sec),
        retries=d.retries,
        list_retries=d.list_retries,
        throttle_wait=d.throttle_wait_sec,
        order_timeout=d.order_timeout_sec,
    )


def result_dir(settings: Settings, tenant: str, run_id: str | None = None) -> Path:
    """``<reports_dir>/<tenant>/<run_id>/`` (created).

    Raises:
        ConfigError: the tenant name or run id would lead outside the reports folder.
    """
    path = report_folder(settings.app.reports_dir, tenant, run_id or settings.run_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def report_folder(reports_dir: str | Path, *parts: str) -> Path:
    """``reports_dir/part/part…``, each part one plain folder name (not created).

    Raises:
        ConfigError: a part is empty, ``.``/``..``, holds a path separator, or the path
            would not be inside ``reports_dir``.
    """
    base = Path(reports_dir)
    path = base
    for part in parts:
        text = str(part)
        if text in ("", ".", "..") or "/" in text or "\\" in text or Path(text).is_absolute():
            raise ConfigError(
                f"{text!r} cannot name a folder under {base}: reports are written only inside "
                "the reports folder (check the tenant name and the run id)"
            )
        path = path / text
    if not path.resolve().is_relative_to(base.resolve()):
        raise ConfigError(f"{path} is not inside the reports folder {base}")
    return path
