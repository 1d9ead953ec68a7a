"""Named plans, and what an operator's plan means once resolved.

``default``: no quota (what an account gets unless told otherwise); ``free``: a monthly
token quota (``Rules.free_monthly_tokens``, 1,000,000 unless set), after which requests get
429 until the month turns; ``premium``: no quota. An operator may also give a plan as an
object: a known name's limits, with the fields given replacing them, or a name of its own
with exactly the limits given (at least one: a misspelt name is refused, not taken for a
plan without limits).
"""

from __future__ import annotations

from schemas.events import Plan

from .rules import Rules

__all__ = ["PLAN_NAMES", "UnknownPlan", "resolve_plan"]

PLAN_NAMES = ("default", "free", "premium")


class UnknownPlan(ValueError):
    pass


def _named(name: str, rules: Rules) -> Plan | None:
    if name == "free":
        return Plan(name="free", monthly_token_quota=rules.free_monthly_tokens)
    if name in PLAN_NAMES:
        return Plan(name=name)
    return None


def resolve_plan(given: str | Plan | None, rules: Rules) -> Plan:
    """The plan ``given`` stands for: a name of ``PLAN_NAMES``, or a plan object."""
    if given is None:
        given = "default"
    if isinstance(given, str):
        plan = _named(given, rules)
        if plan is None:
            raise UnknownPlan(f"unknown plan {given!r}: one of {', '.join(PLAN_NAMES)}")
        return plan
    changed = {f: getattr(given, f) for f in given.model_fields_set if f != "name"}
    base = _named(given.name, rules)
    if base is None and not changed:  # a misspelt name must not become a plan with no limits
        raise UnknownPlan(
            f"unknown plan {given.name!r}: one of {', '.join(PLAN_NAMES)}, "
            "or a plan of your own naming its limits"
        )
    return (base or Plan(name=given.name)).model_copy(update=changed)
