"""Profiles: the YAML that says how a sheet becomes Director objects, and its linter."""
