"""Reports: the console view, ``result.json``, the customer HTML report and the fleet page."""
