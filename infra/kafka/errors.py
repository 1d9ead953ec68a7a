"""Problems starting infrastructure, each said in one line a person can act on."""

from __future__ import annotations


class InfraError(RuntimeError):
    """A setup problem: the message names it and what to do."""
