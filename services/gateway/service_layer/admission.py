"""Admission: who is calling, may they spend, and may they spend this fast."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import AccountStatusChanged
from schemas.money import hold_nano

from ..domain.catalog import Deployment, Model
from ..domain.standing import Principal, check_account
from ..errors import BadRequest, NotReady, RateLimited
from .context import Deps

__all__ = ["Admitted", "admit", "authenticate"]


@dataclass(frozen=True)
class Admitted:
    principal: Principal
    account: AccountStatusChanged
    candidates: list[tuple[Model, Deployment]]
    prompt_estimate: int
    #: The most output tokens one answer may have (the client's ask, lowered to the cap).
    output_cap: int
    #: How many answers the upstream generates: the hold covers ``output_cap`` for each.
    choices: int = 1
    #: The most it may cost (what billing holds), reserved here until billing has it.
    hold_nano: int = 0


def authenticate(deps: Deps, secret: str | None) -> Principal:
    return deps.keys.authenticate(secret, deps.wall())


def admit(
    deps: Deps,
    principal: Principal,
    *,
    candidates: list[tuple[Model, Deployment]],
    stream: bool,
    uses_tools: bool,
    output_cap: int,
    choices: int,
    prompt_estimate: int,
) -> Admitted:
    chosen = candidates[0][0]
    if stream and not chosen.streaming:
        raise BadRequest(f"`{chosen.id}` does not support streaming.", param="stream")
    if uses_tools and not chosen.tools:
        raise BadRequest(f"`{chosen.id}` does not support tools.", param="tools")
    principal.check_spend(deps.wall())
    prices = chosen.prices
    hold = hold_nano(prompt_estimate, output_cap * choices, prices.input, prices.output)
    account = check_account(
        deps.accounts.get(principal.account_id),
        deps.accounts.reserved(principal.account_id, deps.monotonic()),
    )
    limit = deps.refuse_when_backlog_older_than_s
    if limit is not None and deps.events.backlog_age() > limit:
        raise NotReady(
            "Tollway cannot record usage right now (its event log is unavailable); retry shortly.",
            headers={"Retry-After": "5"},
        )
    policy = principal.policy
    wait = deps.limiter.admit(
        principal.key_id,
        deps.monotonic(),
        (policy and policy.requests_per_minute) or account.requests_per_minute,
        (policy and policy.tokens_per_minute) or account.tokens_per_minute,
        prompt_estimate,
    )
    if wait:
        raise RateLimited(
            f"Rate limit reached for this API key; retry in {wait}s.",
            headers={"Retry-After": str(wait)},
        )
    return Admitted(principal, account, candidates, prompt_estimate, output_cap, choices, hold)
