"""Hooks: named pure functions for what a declarative profile cannot say.

:mod:`~directorsync.hooks.registry` names every built-in hook; each hook lives in the module of
its resource (``enrichment_policies``, ``syslog_collectors``, ``alert_rules``,
``user_defined_lists``).
"""
