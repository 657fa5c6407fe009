"""The current tool's ``import-<resource>`` commands, each mapped onto ``apply`` for one resource."""

from __future__ import annotations

from pathlib import Path

import click

from directorsync.cli.sync_commands import apply_command


def _legacy(resource: str, name: str) -> click.Command:
    """`import-<x>` commands of the current tool, mapped onto apply for one resource."""

    @click.command(name)
    @click.option("--tenant", "-t", required=True, help="Tenant name in the tenants file.")
    @click.option("--tenants-file", type=click.Path(path_type=Path))
    @click.option("--xlsx", required=True, type=click.Path(path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Plan only; never write.")
    @click.option("--config", "config_file", type=click.Path(path_type=Path))
    @click.option("--no-verify", is_flag=True, default=None)
    @click.option("--auto-approve", is_flag=True, help="Apply without asking (as apply).")
    def legacy(
        tenant: str,
        tenants_file: Path | None,
        xlsx: Path,
        dry_run: bool,
        config_file: Path | None,
        no_verify: bool | None,
        auto_approve: bool,
    ) -> int:
        ctx = click.get_current_context()
        return ctx.invoke(
            apply_command,
            tenant=tenant,
            tenants_file=tenants_file,
            xlsx=xlsx,
            resources=resource,
            config_file=config_file,
            url=None,
            no_verify=no_verify,
            dry_run=dry_run,
            auto_approve=auto_approve,
        )

    legacy.help = (
        f"Same as `directorsync apply --resources {resource}` (the current tool's command)."
    )
    return legacy


import_repos = _legacy("repos", "import-repos")


import_normalization_policies = _legacy("normalization_policies", "import-normalization-policies")


import_enrichment_policies = _legacy("enrichment_policies", "import-enrichment-policies")


import_routing_policies = _legacy("routing_policies", "import-routing-policies")


import_processing_policies = _legacy("processing_policies", "import-processing-policies")


import_device_groups = _legacy("device_groups", "import-device-groups")


import_devices = _legacy("devices", "import-devices")


import_syslog_collectors = _legacy("syslog_collectors", "import-syslog-collectors")


import_alert_rules = _legacy("alert_rules", "import-alert-rules")


import_user_lists = _legacy("user_defined_lists", "import-user-lists")
