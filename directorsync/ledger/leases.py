"""One writer per tenant: a lease in the ledger, held by a run until it ends or expires.

The holder's heartbeat extends the lease (``lease_ttl`` seconds past each beat). A lease whose
holder's run is interrupted (its process is gone, or its heartbeat stopped) or whose time ran
out is taken over by the next run that asks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from directorsync.errors import LedgerError, TenantBusyError
from directorsync.ledger import tables as t
from directorsync.ledger.database import Ledger, iso
from directorsync.vocabulary import FINAL_STATES


def acquire(ledger: Ledger, tenant: str, run_id: str) -> None:
    """Take the tenant's lease for ``run_id``.

    Raises:
        TenantBusyError: another live run holds it (the message names run, user, host, start).
    """
    for _ in range(5):
        found = _holder(ledger, tenant)
        if found is not None and found["run_id"] != run_id and _alive(ledger, found):
            raise TenantBusyError(busy_message(tenant, found), tenant=tenant)
        try:
            _take(ledger, tenant, run_id, found)
            return
        except TenantBusyError:  # another run took it between our look and our write
            continue
        except LedgerError as exc:  # two first inserts at once: the loser looks again
            if not isinstance(exc.__cause__, IntegrityError):
                raise
    raise TenantBusyError(f"tenant {tenant}: the lease is contended; try again", tenant=tenant)


def acquire_waiting(
    ledger: Ledger,
    tenant: str,
    run_id: str,
    *,
    wait: Callable[[float], bool],
    notify: Callable[[str], None] | None = None,
) -> None:
    """Like :func:`acquire`, but wait while another run holds the lease.

    ``wait(seconds)`` pauses and returns False when waiting must stop (then the busy error is
    raised).
    """
    told = None
    while True:
        try:
            acquire(ledger, tenant, run_id)
            return
        except TenantBusyError as exc:
            if notify and exc.message != told:
                notify(f"waiting: {exc.message}")
                told = exc.message
            if not wait(0.5):
                raise


def release(ledger: Ledger, tenant: str, run_id: str) -> None:
    """Give a tenant's lease back (only when ``run_id`` holds it)."""
    with ledger.begin() as conn:
        conn.execute(
            delete(t.leases).where(t.leases.c.tenant == tenant, t.leases.c.run_id == run_id)
        )


def holder(ledger: Ledger, tenant: str) -> dict[str, Any] | None:
    """The live lease of a tenant, or None."""
    found = _holder(ledger, tenant)
    return found if found is not None and _alive(ledger, found) else None


def busy_message(tenant: str, lease: dict[str, Any]) -> str:
    """The one-line refusal naming the run that holds the tenant, its user, host and start."""
    return (
        f"tenant {tenant} is busy: run {lease['run_id']} by {lease.get('user')} on "
        f"{lease.get('host')} (pid {lease.get('pid')}) holds it since {lease['acquired_at']}; "
        f"wait with --wait, or stop it with `directorsync cancel {lease['run_id']}`"
    )


def _holder(ledger: Ledger, tenant: str) -> dict[str, Any] | None:
    with ledger.begin() as conn:
        row = conn.execute(select(t.leases).where(t.leases.c.tenant == tenant)).mappings().first()
    return dict(row) if row else None


def _alive(ledger: Ledger, lease: dict[str, Any]) -> bool:
    if dt.datetime.fromisoformat(lease["expires_at"]) <= ledger.clock():
        return False
    try:
        run = ledger.get_run(lease["run_id"])
    except LedgerError:
        return False
    return run["state"] not in FINAL_STATES


def _take(ledger: Ledger, tenant: str, run_id: str, previous: dict[str, Any] | None) -> None:
    now = ledger.clock()
    values = {
        "run_id": run_id,
        "user": ledger.user,
        "host": ledger.host,
        "pid": ledger.pid,
        "acquired_at": iso(now),
        "expires_at": iso(now + dt.timedelta(seconds=ledger.lease_ttl)),
    }
    c = t.leases.c
    with ledger.begin() as conn:
        if previous is None:
            conn.execute(insert(t.leases).values(tenant=tenant, **values))
            return
        # only if the lease is still the one judged dead (another run may have taken it)
        taken = conn.execute(
            update(t.leases)
            .where(
                c.tenant == tenant,
                c.run_id == previous["run_id"],
                c.acquired_at == previous["acquired_at"],
            )
            .values(**values)
        ).rowcount
    if not taken:
        raise TenantBusyError(f"tenant {tenant}: another run took the lease first", tenant=tenant)
