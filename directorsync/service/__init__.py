"""DirectorSync as a service: the sync API, live events, schedules, the live fleet page."""
