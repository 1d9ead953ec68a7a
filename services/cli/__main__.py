"""``tollway``: the operators' command line, over the admin HTTP APIs.

Needs no flags with ``make run``'s defaults: ``TOLLWAY_ADMIN_URL`` (default
http://127.0.0.1:8081) and ``TOLLWAY_ADMIN_TOKEN`` (default: the token ``make run``
keeps in ``$TOLLWAY_DATA_DIR/admin-token``). Every command takes ``--json`` for scripts
(before or after the command); errors go to stderr with the request_id, and the exit
code is 1 (refused) or 2 (cannot reach the API, or no token). Names are printed with
control characters escaped, so a name cannot rewrite the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any

import httpx

from schemas.admin_access import (
    SCOPES,
    add_token,
    load_tokens,
    local_token_file,
    revoke_token,
    tokens_file,
)

__all__ = ["main"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.client = httpx.Client(
            base_url=self.url, timeout=30, headers={"authorization": f"Bearer {token}"}
        )

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        raw: bool = False,
    ) -> Any:
        try:
            response = self.client.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise CliError(
                f"cannot reach the admin API at {self.url} ({type(exc).__name__}); "
                "is `make run` running, or TOLLWAY_ADMIN_URL / TOLLWAY_METERING_URL set?",
                2,
            ) from None
        if raw and response.status_code < 400:
            return response.content
        try:
            payload = response.json()
        except ValueError:
            raise CliError(f"{response.status_code} from {path}: not JSON") from None
        if response.status_code >= 400:
            error = payload.get("error", {}) if isinstance(payload, dict) else {}
            raise CliError(
                f"{error.get('message', response.text)} "
                f"[{error.get('code')}, request_id {error.get('request_id')}]"
            )
        return payload


def _safe(text: str) -> str:
    """``text`` with control characters shown as escapes (newlines kept)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def _name(text: Any) -> str:
    """A name on one line: its newlines escaped too."""
    return _safe(str(text)).replace("\n", "\\n")


def _out(args: argparse.Namespace, payload: Any, human: str) -> None:
    print(json.dumps(payload, indent=2) if args.json else _safe(human))


def _account_line(a: dict[str, Any]) -> str:
    return (
        f"{a['account_id']}  {a['status']:<20} balance {a['balance']} USD  "
        f"available {a['available']}  {_name(a['name'])}"
    )


_LIMITS = ("monthly_token_quota", "requests_per_minute", "tokens_per_minute")


def _plan(args: argparse.Namespace) -> dict[str, Any]:
    """The plan named, with the limits given on the command line replacing its own."""
    limits = {f: getattr(args, f) for f in _LIMITS if getattr(args, f) is not None}
    return {"name": args.plan, **limits}


def accounts(api: Api, args: argparse.Namespace) -> None:
    if args.action == "create":
        result = api.call("POST", "/v1/accounts", {"name": args.name, "plan": _plan(args)})
        _out(args, result, result["account_id"])
    elif args.action == "list":
        result = api.call("GET", "/v1/accounts")
        _out(args, result, "\n".join(_account_line(a) for a in result["data"]) or "no accounts")
    elif args.action == "show":
        result = api.call("GET", f"/v1/accounts/{args.id}")
        keys = "\n".join(
            f"  key {k['key_id']} {k['prefix']}… {k['status']}" for k in result["keys"]
        )
        _out(args, result, _account_line(result) + ("\n" + keys if keys else ""))
    else:
        result = api.call("POST", f"/v1/accounts/{args.id}/{args.action}")
        _out(args, result, f"{args.id} {result.get('status', result.get('outcome'))}")


def plan(api: Api, args: argparse.Namespace) -> None:
    body: dict[str, Any] = {"plan": _plan(args), "reason": args.reason}
    if args.idempotency_key:
        body["idempotency_key"] = args.idempotency_key
    result = api.call("POST", f"/v1/accounts/{args.account_id}/plan", body)
    quota = result["plan"]["monthly_token_quota"]
    limit = "no monthly quota" if quota is None else f"{quota:,} tokens a month"
    _out(args, result, f"{result['outcome']}: {result['plan']['name']} plan, {limit}")


def keys(api: Api, args: argparse.Namespace) -> None:
    if args.action == "create":
        body: dict[str, Any] = {"name": args.name}
        if args.spend_limit is not None:
            body |= {"spend_limit_usd": args.spend_limit, "spend_period": args.per}
        if args.allow_model:
            body["allowed_models"] = args.allow_model
        for flag in ("requests_per_minute", "tokens_per_minute", "expires_at"):
            if getattr(args, flag) is not None:
                body[flag] = getattr(args, flag)
        result = api.call("POST", f"/v1/accounts/{args.account_id}/keys", body)
        _out(args, result, result["secret"])
        if not args.json:
            print(f"key {result['key_id']}: the secret above is shown once", file=sys.stderr)
    elif args.action == "list":
        result = api.call("GET", f"/v1/accounts/{args.account_id}/keys")
        _out(
            args,
            result,
            "\n".join(
                f"{k['key_id']}  {k['prefix']}…  {k['status']:<8} {_name(k['name'])}"
                + ("  LIMIT REACHED" if k.get("limit_reached") else "")
                for k in result["data"]
            )
            or "no keys",
        )
    elif args.action == "revoke":
        result = api.call("POST", f"/v1/keys/{args.key_id}/revoke")
        _out(args, result, f"{args.key_id} revoked")
    else:
        body = {} if args.overlap is None else {"overlap_seconds": args.overlap}
        result = api.call("POST", f"/v1/keys/{args.key_id}/rotate", body)
        _out(args, result, result["secret"])
        if not args.json:
            print(
                f"new key {result['key_id']}; {args.key_id} works until "
                f"{result['old_key_expires_at']}",
                file=sys.stderr,
            )


def _member_line(m: dict[str, Any]) -> str:
    return (
        f"{m['member_id']}  {m['account_id']}  {m['role']:<9} "
        f"{m['developer_access']:<9} {m['email']}"
    )


def members(api: Api, args: argparse.Namespace) -> None:
    if args.action == "add":
        body = {"email": args.email, "role": args.role}
        result = api.call("POST", f"/v1/accounts/{args.account_id}/members", body)
        _out(args, result, result["password"])
        if not args.json:
            print(
                f"member {result['member_id']}: the first password above is shown once; "
                "they sign in with it (POST /v1/me/sessions) and change it",
                file=sys.stderr,
            )
    elif args.action == "list":
        if args.account_id:
            result = api.call("GET", f"/v1/accounts/{args.account_id}/members")
        else:
            query = "?developer_access=requested" if args.pending else ""
            result = api.call("GET", f"/v1/members{query}")
        lines = "\n".join(_member_line(m) for m in result["data"])
        _out(args, result, lines or "no members")
    else:  # approve, revoke, remove
        result = api.call(
            "POST", f"/v1/members/{args.member_id}/{args.action}", {"reason": args.reason}
        )
        done = {"approve": "approved", "revoke": "revoked", "remove": "removed"}[args.action]
        _out(
            args,
            result,
            f"{args.member_id}: developer access {done}"
            if args.action != "remove"
            else f"{args.member_id} removed",
        )


def topup(api: Api, args: argparse.Namespace) -> None:
    body = {"amount_usd": args.amount_usd}
    if args.idempotency_key:
        body["idempotency_key"] = args.idempotency_key
    result = api.call("POST", f"/v1/accounts/{args.account_id}/top-ups", body)
    _out(args, result, f"{result['outcome']}: balance {result.get('balance')} USD")


def adjust(api: Api, args: argparse.Namespace) -> None:
    body: dict[str, Any] = {
        "amount_usd": args.amount_usd,
        "reason": args.reason,
        "refund": args.refund,
    }
    if args.idempotency_key:
        body["idempotency_key"] = args.idempotency_key
    result = api.call("POST", f"/v1/accounts/{args.account_id}/adjustments", body)
    _out(args, result, f"{result['outcome']}: balance {result.get('balance')} USD")


def balance(api: Api, args: argparse.Namespace) -> None:
    result = api.call("GET", f"/v1/accounts/{args.account_id}/balance")
    _out(
        args,
        result,
        f"{result['balance']} USD (held {result['held']}, available "
        f"{result['available']}) {result['status']}",
    )


def prices(api: Api, args: argparse.Namespace) -> None:
    if args.action == "list":
        result = api.call("GET", "/v1/prices")
        lines = []
        for model in result["data"]:
            v = model["versions"][-1]
            lines.append(
                f"{model['model']:<20} in {v['input']}  out {v['output']}  "
                f"cache-read {v['cache_read']}  per 1M tokens (version {v['version']})"
            )
        _out(args, result, "\n".join(lines))
        return
    body = {
        "input": args.input,
        "output": args.output,
        "cache_read": args.cache_read,
        "cache_write": args.cache_write,
    }
    if args.effective_from:
        body["effective_from"] = args.effective_from
    result = api.call("PUT", f"/v1/prices/{args.model}", body)
    _out(
        args,
        result,
        f"{args.model}: version {result['version']['version']} from "
        f"{result['version']['effective_from']}",
    )


def _limit_flags(parser: argparse.ArgumentParser) -> None:
    for flag in ("monthly-token-quota", "requests-per-minute", "tokens-per-minute"):
        parser.add_argument(f"--{flag}", type=int)


def _parser() -> argparse.ArgumentParser:
    # --json is taken before the command and after it; the subcommands' copy has no default,
    # so it never overwrites one given before the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print the API's JSON"
    )
    parser = argparse.ArgumentParser(prog="tollway", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    sub = parser.add_subparsers(dest="command", required=True)

    acc = sub.add_parser("accounts", parents=[common]).add_subparsers(dest="action", required=True)
    create = acc.add_parser("create", parents=[common])
    create.add_argument("name")
    create.add_argument("--plan", default="default", help="default, free, premium or your own")
    _limit_flags(create)
    acc.add_parser("list", parents=[common])
    pl = sub.add_parser("plan", parents=[common], help="move an account to another plan, now")
    pl.add_argument("account_id")
    pl.add_argument("plan", help="default, free, premium or your own name")
    pl.add_argument("--reason", default="")
    pl.add_argument("--idempotency-key")
    _limit_flags(pl)
    for action in ("show", "suspend", "reactivate"):
        acc.add_parser(action, parents=[common]).add_argument("id")

    key = sub.add_parser("keys", parents=[common]).add_subparsers(dest="action", required=True)
    kc = key.add_parser("create", parents=[common])
    kc.add_argument("account_id")
    kc.add_argument("--name", default="")
    kc.add_argument("--spend-limit", metavar="USD", help="what the key may spend per --per")
    kc.add_argument("--per", default="month", choices=["day", "month", "total"])
    kc.add_argument(
        "--allow-model", action="append", metavar="MODEL", help="repeat; default: every model"
    )
    kc.add_argument("--requests-per-minute", type=int)
    kc.add_argument("--tokens-per-minute", type=int)
    kc.add_argument("--expires-at", metavar="ISO8601", help="with a zone, e.g. 2027-01-01T00:00Z")
    key.add_parser("list", parents=[common]).add_argument("account_id")
    key.add_parser("revoke", parents=[common]).add_argument("key_id")
    rot = key.add_parser("rotate", parents=[common])
    rot.add_argument("key_id")
    rot.add_argument("--overlap", type=int, help="seconds the old key keeps working")

    mem = sub.add_parser("members", parents=[common]).add_subparsers(dest="action", required=True)
    ma = mem.add_parser("add", parents=[common])
    ma.add_argument("account_id")
    ma.add_argument("email")
    ma.add_argument("--role", default="developer", choices=["developer", "owner"])
    ml = mem.add_parser("list", parents=[common])
    ml.add_argument("account_id", nargs="?", help="default: every account's")
    ml.add_argument("--pending", action="store_true", help="only those asking for access")
    for action in ("approve", "revoke", "remove"):
        change = mem.add_parser(action, parents=[common])
        change.add_argument("member_id")
        change.add_argument("--reason", default="")

    top = sub.add_parser("topup", parents=[common])
    top.add_argument("account_id")
    top.add_argument("amount_usd")
    top.add_argument("--idempotency-key")

    adj = sub.add_parser("adjust", parents=[common])
    adj.add_argument("account_id")
    adj.add_argument("amount_usd", help="signed, e.g. -2.50")
    adj.add_argument("--reason", required=True)
    adj.add_argument("--refund", action="store_true")
    adj.add_argument("--idempotency-key")

    sub.add_parser("balance", parents=[common]).add_argument("account_id")

    pr = sub.add_parser("prices", parents=[common]).add_subparsers(dest="action", required=True)
    pr.add_parser("list", parents=[common])
    ps = pr.add_parser("set", parents=[common])
    ps.add_argument("model")
    for name in ("input", "output", "cache-read"):
        ps.add_argument(f"--{name}", required=True, help="USD per 1M tokens")
    ps.add_argument("--cache-write", default="0")
    ps.add_argument("--effective-from", help="ISO 8601 with zone; default now")

    sub.add_parser("request", parents=[common]).add_argument("request_id")
    period = argparse.ArgumentParser(add_help=False)
    period.add_argument("--from", dest="start", help="date or ISO time (default: 30 days ago)")
    period.add_argument("--to", dest="end", help="date or ISO time, excluded (default: now)")
    use = sub.add_parser("usage", parents=[common, period])
    use.add_argument("account_id")
    reports = sub.add_parser("report", parents=[common])
    kinds = reports.add_subparsers(dest="report", required=True)
    fin = kinds.add_parser("finance", parents=[common, period])
    fin.add_argument("--group-by", default="day", help="day|week|month, model, account")
    fin.add_argument("--format", default="json", choices=["json", "csv", "parquet"])
    fin.add_argument("--output", "-o", help="write the export to this file (needed for parquet)")
    hooks = sub.add_parser("webhooks", parents=[common], help="where an account's alerts go")
    hook = hooks.add_subparsers(dest="action", required=True)
    add = hook.add_parser("add", parents=[common])
    add.add_argument("account_id")
    add.add_argument("url")
    add.add_argument("--event", action="append", help="an alert type (repeat; default: all)")
    hook.add_parser("list", parents=[common]).add_argument("account_id")
    hook.add_parser("delete", parents=[common]).add_argument("webhook_id")
    hook.add_parser("deliveries", parents=[common]).add_argument("webhook_id")
    stm = sub.add_parser(
        "statement", parents=[common, period], help="an account's ledger and balances"
    )
    stm.add_argument("account_id")
    stm.add_argument("--format", default="text", choices=["text", "json", "csv"])
    stm.add_argument("--output", "-o", help="write the CSV to this file")
    rec = sub.add_parser("reconcile", parents=[common, period])
    rec.add_argument("--account", help="only this account")

    aud = sub.add_parser("audit", parents=[common], help="operators' commands, newest first")
    aud.add_argument("--account", help="only this account")
    tok = sub.add_parser("tokens", parents=[common]).add_subparsers(dest="action", required=True)
    tc = tok.add_parser("create", parents=[common], help="a named admin token, shown once")
    tc.add_argument("name")
    tc.add_argument("--scope", action="append", choices=SCOPES, required=True)
    tok.add_parser("list", parents=[common])
    tr = tok.add_parser("revoke", parents=[common], help="refused by every service at once")
    tr.add_argument("name")
    return parser


def _period(args: argparse.Namespace) -> dict[str, str]:
    return {k: v for k, v in (("from", args.start), ("to", args.end)) if v}


def request(api: Api, args: argparse.Namespace) -> None:
    r = api.call("GET", f"/v1/requests/{args.request_id}")
    tokens = r["tokens"] or {}
    charge = r["charge"]
    lines = [
        f"{r['request_id']}  {r['state']}  {r['status'] or ''} {r['http_status'] or ''}",
        f"  account {r['account_id']}  key {r['key_id']}  model {r['model']} via {r['deployment']}",
        f"  tokens prompt {tokens.get('prompt_tokens')} (cache-read "
        f"{tokens.get('cache_read_tokens')}) completion {tokens.get('completion_tokens')} "
        f"[{tokens.get('usage_source')}]  latency {r['latency_ms']} ms ttft {r['ttft_ms']} ms",
    ]
    if r["error_code"]:
        lines.append(f"  error {r['error_code']}")
    if charge:
        lines.append(
            f"  charged {charge['cost']} USD at price {charge['price_version']}; "
            f"balance after {charge['balance_after']} USD"
            + ("  (this charge used up the balance)" if charge["made_balance_run_out"] else "")
        )
    else:
        lines.append("  no charge recorded")
    _out(args, r, "\n".join(lines))


def usage(api: Api, args: argparse.Namespace) -> None:
    r = api.call("GET", f"/v1/usage/{args.account_id}", params=_period(args))
    _out(
        args,
        r,
        "\n".join(
            f"{d['day']}  {d['model']:<16} {d['requests']:>6} requests  "
            f"prompt {d['prompt_tokens']} completion {d['completion_tokens']} "
            f"cache-read {d['cache_read_tokens']}  "
            f"{d['cost']} USD"
            for d in r["data"]
        )
        or "no usage in the period",
    )


def _export(data: bytes, output: str | None) -> None:
    """An export (CSV, Parquet) to ``output``, or as it is to stdout."""
    if output:
        with open(output, "wb") as out:
            out.write(data)
        print(f"wrote {len(data)} bytes to {output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def report(api: Api, args: argparse.Namespace) -> None:
    params = _period(args) | {"group_by": args.group_by, "format": args.format}
    if args.format in ("csv", "parquet"):
        if args.format == "parquet" and not args.output and sys.stdout.isatty():
            raise CliError("Parquet is binary: pass --output FILE (or redirect stdout)")
        _export(api.call("GET", "/v1/reports/finance", params=params, raw=True), args.output)
        return
    r = api.call("GET", "/v1/reports/finance", params=params)
    t = r["totals"]
    lines = [
        f"finance {r['from']} .. {r['to']} by {','.join(r['group_by']) or 'total'}",
        f"  requests {t['requests']}  revenue {t['revenue']} USD  fees {t['fees']} USD  "
        f"prepaid liability {r['prepaid_liability']} USD",
    ]
    lines += [f"  {row}" for row in r["rows"]]
    _out(args, r, "\n".join(lines))


def statement(api: Api, args: argparse.Namespace) -> None:
    path = f"/v1/accounts/{args.account_id}/statement"
    if args.format == "csv":
        _export(
            api.call("GET", path, params=_period(args) | {"format": "csv"}, raw=True), args.output
        )
        return
    args.json = args.json or args.format == "json"
    r = api.call("GET", path, params=_period(args))
    lines = [f"{r['account_id']}  {r['from']} .. {r['to']}", f"  opening {r['opening_balance']}"]
    lines += [
        f"  {e['occurred_at']}  {e['kind']:<12} {e['amount']:>16} -> {e['balance_after']}"
        + (f"  {e['request_id']}" if e["request_id"] else "")
        + (f"  by {_name(e['actor'])}" if e["actor"] else "")
        + (f"  {_name(e['reason'])}" if e["reason"] else "")
        for e in r["entries"]
    ]
    lines.append(f"  closing {r['closing_balance']} USD")
    _out(args, r, "\n".join(lines))


def webhooks(api: Api, args: argparse.Namespace) -> None:
    if args.action == "add":
        body = {"url": args.url, "events": args.event or []}
        r = api.call("POST", f"/v1/accounts/{args.account_id}/webhooks", body)
        _out(args, r, r["secret"])
        if not args.json:
            print(
                f"webhook {r['webhook_id']} for {', '.join(r['events'])}: the signing secret "
                "above is shown once",
                file=sys.stderr,
            )
    elif args.action == "list":
        r = api.call("GET", f"/v1/accounts/{args.account_id}/webhooks")
        lines = [f"{w['webhook_id']}  {w['url']}  {','.join(w['events'])}" for w in r["data"]]
        _out(args, r, "\n".join(lines) or "no webhooks")
    elif args.action == "delete":
        r = api.call("DELETE", f"/v1/webhooks/{args.webhook_id}")
        _out(args, r, f"{args.webhook_id} deleted")
    else:
        r = api.call("GET", f"/v1/webhooks/{args.webhook_id}/deliveries")
        lines = [
            f"{d['occurred_at']}  {d['alert_type']:<22} {d['status']:<9} "
            f"attempts {d['attempts']}  {d['last_status'] or '-'}  {d['last_error']}"
            for d in r["data"]
        ]
        _out(args, r, "\n".join(lines) or "no deliveries yet")


def reconcile(api: Api, args: argparse.Namespace) -> None:
    params = _period(args) | ({"account_id": args.account} if args.account else {})
    r = api.call("GET", "/v1/reconcile", params=params)
    _out(
        args,
        r,
        "reconciled: no mismatch"
        if r["ok"]
        else "\n".join(f"MISMATCH {m['kind']}: {m}" for m in r["mismatches"]),
    )
    if not r["ok"]:
        raise CliError(f"{len(r['mismatches'])} mismatch(es)")


def audit(api: Api, args: argparse.Namespace) -> None:
    params = {"account_id": args.account} if args.account else None
    r = api.call("GET", "/v1/audit", params=params)
    _out(
        args,
        r,
        "\n".join(
            f"{c['at']}  {c['actor'] or '-':<14} {c['command']:<20} {c['account_id']}  "
            f"{c['outcome']}"
            + (f"  amount {c['amount_nano'] / 10**9:.9f} USD" if c["amount_nano"] else "")
            + (f"  {_name(c['reason'])}" if c.get("reason") else "")
            for c in r["data"]
        )
        or "no commands",
    )


def tokens(api: Api, args: argparse.Namespace) -> None:
    """Named admin tokens in the tokens file billing and metering read (re-read on change)."""
    path = tokens_file()
    try:
        if args.action == "list":
            listed = [{"name": t.name, "scopes": sorted(t.scopes)} for t in load_tokens(path)]
        elif args.action == "revoke":
            revoke_token(path, args.name)
        else:
            secret = add_token(path, args.name, args.scope)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write the tokens file {path}: {exc.strerror}") from None
    if args.action == "revoke":
        _out(args, {"name": args.name, "revoked": True}, f"token {args.name!r} revoked in {path}")
        return
    if args.action == "list":
        _out(
            args,
            {"file": str(path), "tokens": listed},
            "\n".join(f"{t['name']:<20} {','.join(t['scopes'])}" for t in listed)
            or f"no tokens in {path}",
        )
        return
    _out(args, {"name": args.name, "scopes": sorted(set(args.scope)), "secret": secret}, secret)
    if not args.json:
        print(
            f"token {args.name!r} ({', '.join(args.scope)}): shown once; in {path}", file=sys.stderr
        )


def _token() -> str:
    """TOLLWAY_ADMIN_TOKEN, else the local run's (``$TOLLWAY_DATA_DIR/admin-token``)."""
    given = os.environ.get("TOLLWAY_ADMIN_TOKEN")
    if given:
        return given
    path = local_token_file()
    try:
        return path.read_text().strip()
    except OSError:
        raise CliError(
            f"no admin token: set TOLLWAY_ADMIN_TOKEN, or start `make run` (it keeps one in "
            f"{path})",
            2,
        ) from None


COMMANDS = {
    "accounts": accounts,
    "plan": plan,
    "keys": keys,
    "members": members,
    "topup": topup,
    "adjust": adjust,
    "balance": balance,
    "prices": prices,
    "request": request,
    "usage": usage,
    "report": report,
    "reconcile": reconcile,
    "statement": statement,
    "webhooks": webhooks,
    "audit": audit,
    "tokens": tokens,
}
METERING = {"request", "usage", "report", "reconcile", "statement"}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in METERING:
        url = os.environ.get("TOLLWAY_METERING_URL", "http://127.0.0.1:8082")
    elif args.command == "webhooks" and args.action == "deliveries":
        url = os.environ.get("TOLLWAY_DISPATCHER_URL", "http://127.0.0.1:8084")
    else:
        url = os.environ.get("TOLLWAY_ADMIN_URL", "http://127.0.0.1:8081")
    try:
        api = Api(url, "" if args.command == "tokens" else _token())
        COMMANDS[args.command](api, args)
    except CliError as exc:
        print(f"tollway: {exc}", file=sys.stderr)
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
