"""Named plans and operators' plan objects resolve to the limits billing applies."""

from __future__ import annotations

import pytest

from schemas.events import Plan
from services.billing.domain.plans import UnknownPlan, resolve_plan
from services.billing.domain.rules import Rules

RULES = Rules(free_monthly_tokens=5000)


def test_named_plans() -> None:
    assert resolve_plan(None, RULES) == Plan(name="default")
    assert resolve_plan("free", RULES) == Plan(name="free", monthly_token_quota=5000)
    assert resolve_plan("premium", RULES).monthly_token_quota is None
    with pytest.raises(UnknownPlan, match="default, free, premium"):
        resolve_plan("gold", RULES)


def test_a_plan_object_changes_only_what_it_names() -> None:
    faster = resolve_plan(Plan(name="free", requests_per_minute=30), RULES)
    assert faster == Plan(name="free", monthly_token_quota=5000, requests_per_minute=30)
    assert (
        resolve_plan(Plan(name="free", monthly_token_quota=None), RULES).monthly_token_quota is None
    )
    custom = resolve_plan(Plan(name="team-x", tokens_per_minute=9), RULES)
    assert custom == Plan(name="team-x", tokens_per_minute=9)


def test_a_name_of_its_own_needs_limits() -> None:
    with pytest.raises(UnknownPlan, match="premum"):
        resolve_plan(Plan(name="premum"), RULES)
