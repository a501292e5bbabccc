"""The OpenAPI 3.1 document, generated from the views: each schema is written once.

``operations`` holds the decorators a view wears (``operation``, ``body``, ``query``);
``document`` builds the document from an app's URL map; ``texts`` its fixed parts.
"""

from imflask_api.openapi.document import document
from imflask_api.openapi.operations import (
    ATTRIBUTE,
    TOKEN,
    TOKEN_OR_ANONYMOUS,
    Answer,
    body,
    keyed,
    operation,
    query,
    secured,
)
from imflask_api.openapi.texts import SET_COOKIE

__all__ = [
    "ATTRIBUTE",
    "SET_COOKIE",
    "TOKEN",
    "TOKEN_OR_ANONYMOUS",
    "Answer",
    "body",
    "document",
    "keyed",
    "operation",
    "query",
    "secured",
]
