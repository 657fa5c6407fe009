"""DirectorSync as a service: the sync API, live progress, schedules."""
