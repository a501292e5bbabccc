"""The document store: MongoDB through pymongo.

Importing the package imports every collection module, so each one's
``declare_indexes(...)`` has run before ``flask db upgrade`` creates them.
"""

from imflask_models.mongo import comments, notifications  # noqa: F401 - declare their indexes
