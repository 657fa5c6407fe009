"""The run ledger: every execution that talks to Director, as a record others can follow.

- :mod:`~directorsync.ledger.tables` — the tables and the schema version;
- :mod:`~directorsync.ledger.database` — open (create/migrate), run records, events;
- :mod:`~directorsync.ledger.journal` — the write journal (intent → order → outcome);
- :mod:`~directorsync.ledger.leases` — one writer per tenant;
- :mod:`~directorsync.ledger.views` — a run's view, history pages, DataFrames for notebooks.

``docs/ledger.md`` describes the schema, the states, the events and the exit codes.
"""
