"""Talking to Director: the HTTP client (configapi, monitorapi) and the following of orders."""
