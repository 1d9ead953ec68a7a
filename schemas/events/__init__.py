"""Event contracts shared by every service. Import events from here."""

from ._base import Event, UnknownEventError, decode_event, encode_event, event_models, new_id
from .accounts import AccountStatus, AccountStatusChanged, Plan
from .alerts import BalanceLow
from .api_keys import KEY_PREFIX_LENGTH, ApiKeyRecorded, ApiKeyStatus
from .billing_state import AccountSnapshot, CommandResult, Hold, ProducerStream
from .commands import (
    AdjustBalance,
    CreateAccount,
    CreateApiKey,
    ReactivateAccount,
    RevokeApiKey,
    RotateApiKey,
    SuspendAccount,
    TopUp,
)
from .ledger import LedgerEntryKind, LedgerEntryRecorded
from .limits import KeyUsageReported, KeyUse
from .prices import ModelPriced, PriceVersion
from .requests import RequestCompleted, RequestStarted, RequestStatus, Surface, UsageSource

__all__ = [
    "KEY_PREFIX_LENGTH",
    "AccountSnapshot",
    "AccountStatus",
    "AccountStatusChanged",
    "AdjustBalance",
    "ApiKeyRecorded",
    "ApiKeyStatus",
    "BalanceLow",
    "CommandResult",
    "CreateAccount",
    "CreateApiKey",
    "Event",
    "Hold",
    "KeyUsageReported",
    "KeyUse",
    "LedgerEntryKind",
    "LedgerEntryRecorded",
    "ModelPriced",
    "Plan",
    "PriceVersion",
    "ProducerStream",
    "ReactivateAccount",
    "RequestCompleted",
    "RequestStarted",
    "RequestStatus",
    "RevokeApiKey",
    "RotateApiKey",
    "Surface",
    "SuspendAccount",
    "TopUp",
    "UnknownEventError",
    "UsageSource",
    "decode_event",
    "encode_event",
    "event_models",
    "new_id",
]
