"""One admitted call's exchange with the upstream: what to send each deployment it may try,
and how to read what comes back.

A deployment whose kind is the surface's own protocol gets the client's body as it came
(the model name, the output cap and our own fields aside) and its answer goes back as it
came (the model name aside). Any other kind gets the call translated through
``Conversation``, and its answer translated back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..domain.catalog import Deployment, Model
from ..domain.conversation import Answer, Conversation
from ..domain.protocols.kinds import KINDS, Reader
from ..domain.protocols.surfaces import Parsed, PassWriter, Surface, Writer
from ..domain.usage import Usage
from ..errors import BadRequest
from .ports import UpstreamRequest

__all__ = ["Exchange"]


@dataclass
class Exchange:
    surface: Surface
    parsed: Parsed
    #: The model id the client sees in answers.
    public_model: str
    #: The output cap admission settled on (each attempt sends at most its model's own cap).
    cap: int
    #: Client headers an upstream of the surface's own kind receives (Anthropic's version
    #: and betas), already checked.
    forwarded: tuple[tuple[str, str], ...] = ()
    _conversation: Conversation | None = field(default=None, init=False)

    def passes_through(self, deployment: Deployment) -> bool:
        return deployment.kind == self.surface.kind

    def conversation(self) -> Conversation:
        if self._conversation is None:
            self._conversation = self.surface.conversation(self.parsed, self.cap)
        return self._conversation

    def servable(
        self, candidates: Iterable[tuple[Model, Deployment]]
    ) -> list[tuple[Model, Deployment]]:
        """The candidates that can take this call. A call that cannot be translated (``n``
        above 1, token-id prompts…) keeps only same-kind deployments; if the first choice
        needs the translation, the client hears why."""
        candidates = list(candidates)
        if all(self.passes_through(d) for _, d in candidates):
            return candidates
        try:
            self.conversation()
        except BadRequest:
            if not self.passes_through(candidates[0][1]):
                raise
            return [(m, d) for m, d in candidates if self.passes_through(d)]
        return candidates

    def sent_cap(self, model: Model, deployment: Deployment) -> int:
        """The output cap an attempt on ``deployment`` sends: at most the model's, at least
        what a translated-to kind takes."""
        cap = min(self.cap, model.max_output_tokens)
        if self.passes_through(deployment):
            return cap
        return max(cap, KINDS[deployment.kind].min_output_tokens)

    def held_cap(self, candidates: Iterable[tuple[Model, Deployment]]) -> int:
        """What the hold covers per answer: the largest cap any attempt may send."""
        return max(self.sent_cap(m, d) for m, d in candidates)

    def request(self, model: Model, deployment: Deployment) -> UpstreamRequest:
        cap = self.sent_cap(model, deployment)
        if self.passes_through(deployment):
            body = self.surface.passthrough(
                self.parsed, deployment.upstream_model, cap, model.reasoning
            )
            return UpstreamRequest(self.surface.path, body, self.forwarded)
        kind = KINDS[deployment.kind]
        body = kind.encode(self.conversation(), deployment.upstream_model, cap, model.reasoning)
        return UpstreamRequest(kind.path, body)

    def read(self, deployment: Deployment, body: dict[str, Any]) -> Answer:
        if self.passes_through(deployment):
            return self.surface.read_passthrough(body)
        return KINDS[deployment.kind].read_answer(body)

    def render(
        self, deployment: Deployment, body: dict[str, Any], answer: Answer, usage: Usage
    ) -> dict[str, Any]:
        if self.passes_through(deployment):
            body["model"] = self.public_model
            return body
        return self.surface.answer(answer, self.public_model, usage)

    def reader(self, deployment: Deployment) -> Reader:
        return KINDS[deployment.kind].reader()

    def writer(self, deployment: Deployment) -> Writer | PassWriter:
        if self.passes_through(deployment):
            return self.surface.passthrough_writer(self.parsed, self.public_model)
        return self.surface.writer(self.parsed, self.public_model)
