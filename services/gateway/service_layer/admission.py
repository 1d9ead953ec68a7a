"""Admission: who is calling, may they spend, and may they spend this fast."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import AccountStatusChanged

from ..domain.admission import Principal, check_account
from ..domain.catalog import Deployment, Model
from ..errors import BadRequest, NotReady, RateLimited
from .context import Deps

__all__ = ["Admitted", "admit", "authenticate"]


@dataclass(frozen=True)
class Admitted:
    principal: Principal
    account: AccountStatusChanged
    candidates: list[tuple[Model, Deployment]]
    prompt_estimate: int
    max_tokens: int | None

    @property
    def model(self) -> Model:
        return self.candidates[0][0]


def authenticate(deps: Deps, secret: str | None) -> Principal:
    return deps.keys.authenticate(secret, deps.wall())


def admit(
    deps: Deps,
    principal: Principal,
    *,
    model: str,
    stream: bool,
    uses_tools: bool,
    max_tokens: int | None,
    prompt_estimate: int,
    preference: str,
    zdr_required: bool,
) -> Admitted:
    candidates = deps.catalog.route(model, preference, zdr_required)
    chosen = candidates[0][0]
    if max_tokens is not None and max_tokens > chosen.max_output_tokens:
        raise BadRequest(
            f"max_tokens is too large: {max_tokens}. `{model}` supports at most "
            f"{chosen.max_output_tokens} output tokens.",
            param="max_tokens",
        )
    if stream and not chosen.streaming:
        raise BadRequest(f"`{model}` does not support streaming.", param="stream")
    if uses_tools and not chosen.tools:
        raise BadRequest(f"`{model}` does not support tools.", param="tools")
    account = check_account(deps.accounts.get(principal.account_id))
    limit = deps.refuse_when_backlog_older_than_s
    if limit is not None and deps.events.backlog_age() > limit:
        raise NotReady(
            "Tollway cannot record usage right now (its event log is unavailable); retry shortly.",
            headers={"Retry-After": "5"},
        )
    wait = deps.limiter.admit(
        principal.key_id,
        deps.monotonic(),
        account.requests_per_minute,
        account.tokens_per_minute,
        prompt_estimate,
    )
    if wait:
        raise RateLimited(
            f"Rate limit reached for this API key; retry in {wait}s.",
            headers={"Retry-After": str(wait)},
        )
    return Admitted(principal, account, candidates, prompt_estimate, max_tokens)
