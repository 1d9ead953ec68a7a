"""Event contracts shared by every service. Import events from here."""

from ._base import Event, UnknownEventError, decode_event, encode_event, event_models, new_id
from .accounts import AccountStatus, AccountStatusChanged, Plan
from .alerts import BalanceRanLow, EventParked, KeyLimitReached, QuotaUsed
from .api_keys import KEY_PREFIX_LENGTH, ApiKeyRecorded, ApiKeyStatus, KeyPolicy, SpendPeriod
from .billing_state import AccountSnapshot, CommandResult, Hold, KeySpend, ProducerStream
from .clock import ClockTicked
from .commands import (
    AddMember,
    AdjustBalance,
    ApproveDeveloperAccess,
    ChangePassword,
    ChangePlan,
    Command,
    CreateAccount,
    CreateApiKey,
    EndSessions,
    ReactivateAccount,
    RemoveMember,
    RequestDeveloperAccess,
    RevokeApiKey,
    RevokeDeveloperAccess,
    RotateApiKey,
    StartSession,
    SuspendAccount,
    TopUp,
)
from .ledger import LedgerEntryKind, LedgerEntryRecorded
from .limits import KeyUsageReported, KeyUse
from .members import (
    DeveloperAccess,
    DeveloperAccessRequested,
    MemberRecorded,
    MemberRole,
    SessionRecorded,
)
from .prices import ModelPriced, PriceVersion
from .requests import RequestCompleted, RequestStarted, RequestStatus, Surface, UsageSource
from .webhooks import DeliveryStatus, WebhookDelivery, WebhookRecorded

__all__ = [
    "KEY_PREFIX_LENGTH",
    "AccountSnapshot",
    "AccountStatus",
    "AccountStatusChanged",
    "AddMember",
    "AdjustBalance",
    "ApiKeyRecorded",
    "ApiKeyStatus",
    "ApproveDeveloperAccess",
    "BalanceRanLow",
    "ChangePassword",
    "ChangePlan",
    "ClockTicked",
    "Command",
    "CommandResult",
    "CreateAccount",
    "CreateApiKey",
    "DeliveryStatus",
    "DeveloperAccess",
    "DeveloperAccessRequested",
    "EndSessions",
    "Event",
    "EventParked",
    "Hold",
    "KeyLimitReached",
    "KeyPolicy",
    "KeySpend",
    "KeyUsageReported",
    "KeyUse",
    "LedgerEntryKind",
    "LedgerEntryRecorded",
    "MemberRecorded",
    "MemberRole",
    "ModelPriced",
    "Plan",
    "PriceVersion",
    "ProducerStream",
    "QuotaUsed",
    "ReactivateAccount",
    "RemoveMember",
    "RequestCompleted",
    "RequestDeveloperAccess",
    "RequestStarted",
    "RequestStatus",
    "RevokeApiKey",
    "RevokeDeveloperAccess",
    "RotateApiKey",
    "SessionRecorded",
    "SpendPeriod",
    "StartSession",
    "Surface",
    "SuspendAccount",
    "TopUp",
    "UnknownEventError",
    "UsageSource",
    "WebhookDelivery",
    "WebhookRecorded",
    "decode_event",
    "encode_event",
    "event_models",
    "new_id",
]
