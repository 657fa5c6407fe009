"""DirectorSync as a service: the sync API, live events, and the live fleet page (``serve``)."""
