"""DirectorSync: keep Logpoint Director in line with tenant workbooks.

The package reads like the pipeline: workbook → profile → mapping/transforms → prechecks →
resolve → inventory → diff → apply → report → runs. See ``docs/architecture.md``.
"""

from directorsync.errors import DirectorSyncError

__all__ = ["DirectorSyncError", "__version__"]
__version__ = "0.1.0"
