"""What Jupyter uses: the notebook API, the diff review widget and the per-tenant batch runner."""
