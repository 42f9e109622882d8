"""Exceptions raised by graphcl.

Every error names the problem and the fix. They subclass the built-in exception a caller would
expect (``ValueError`` for bad input, ``LookupError`` for unknown names, ``FileNotFoundError``
for missing files) so that generic ``except`` clauses keep working.
"""
from __future__ import annotations


class GraphclError(Exception):
    """Base class of every graphcl error."""


class InvalidGraphError(GraphclError, ValueError):
    """A graph (or its features / labels) cannot be used as given."""


class InvalidArgumentError(GraphclError, ValueError):
    """An argument is out of its valid range (e.g. more clusters than nodes)."""


class UnknownNameError(GraphclError, LookupError):
    """A dataset, method, encoder or config name that is not registered."""


class DatasetUnavailableError(GraphclError, FileNotFoundError):
    """A registered dataset is neither cached, nor in the mirror, nor downloadable."""


class DatasetIntegrityError(GraphclError, ValueError):
    """A dataset's files or statistics differ from its catalogue entry."""
