"""``tollway``: the operators' command line, over the admin HTTP APIs.

Needs no flags with ``make run``'s defaults: ``TOLLWAY_ADMIN_URL`` (default
http://127.0.0.1:8081) and ``TOLLWAY_ADMIN_TOKEN`` (default the local run's
token). Every command takes ``--json`` for scripts; errors go to stderr with
the request_id, and the exit code is 1 (refused) or 2 (cannot reach the API).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx

__all__ = ["main"]

DEV_ADMIN_TOKEN = "tollway-dev-admin-token"  # noqa: S105 - the local run's documented default


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


def _out(args: argparse.Namespace, payload: Any, human: str) -> None:
    print(json.dumps(payload, indent=2) if args.json else human)


def _account_line(a: dict[str, Any]) -> str:
    return (
        f"{a['account_id']}  {a['status']:<20} balance {a['balance']} USD  "
        f"available {a['available']}  {a['name']}"
    )


def accounts(api: Api, args: argparse.Namespace) -> None:
    if args.action == "create":
        plan: dict[str, Any] = {"name": args.plan}
        for field in ("monthly_token_quota", "requests_per_minute", "tokens_per_minute"):
            if getattr(args, field) is not None:
                plan[field] = getattr(args, field)
        result = api.call("POST", "/v1/accounts", {"name": args.name, "plan": plan})
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


def keys(api: Api, args: argparse.Namespace) -> None:
    if args.action == "create":
        result = api.call("POST", f"/v1/accounts/{args.account_id}/keys", {"name": args.name})
        _out(args, result, result["secret"])
        if not args.json:
            print(f"key {result['key_id']}: the secret above is shown once", file=sys.stderr)
    elif args.action == "list":
        result = api.call("GET", f"/v1/accounts/{args.account_id}/keys")
        _out(
            args,
            result,
            "\n".join(
                f"{k['key_id']}  {k['prefix']}…  {k['status']:<8} {k['name']}"
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


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the API's JSON")
    parser = argparse.ArgumentParser(
        prog="tollway", description=__doc__.splitlines()[0], parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    acc = sub.add_parser("accounts", parents=[common]).add_subparsers(dest="action", required=True)
    create = acc.add_parser("create", parents=[common])
    create.add_argument("name")
    create.add_argument("--plan", default="default")
    for flag in ("monthly-token-quota", "requests-per-minute", "tokens-per-minute"):
        create.add_argument(f"--{flag}", type=int)
    acc.add_parser("list", parents=[common])
    for action in ("show", "suspend", "reactivate"):
        acc.add_parser(action, parents=[common]).add_argument("id")

    key = sub.add_parser("keys", parents=[common]).add_subparsers(dest="action", required=True)
    kc = key.add_parser("create", parents=[common])
    kc.add_argument("account_id")
    kc.add_argument("--name", default="")
    key.add_parser("list", parents=[common]).add_argument("account_id")
    key.add_parser("revoke", parents=[common]).add_argument("key_id")
    rot = key.add_parser("rotate", parents=[common])
    rot.add_argument("key_id")
    rot.add_argument("--overlap", type=int, help="seconds the old key keeps working")

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
    rec = sub.add_parser("reconcile", parents=[common, period])
    rec.add_argument("--account", help="only this account")
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


def report(api: Api, args: argparse.Namespace) -> None:
    params = _period(args) | {"group_by": args.group_by, "format": args.format}
    if args.format in ("csv", "parquet"):
        if args.format == "parquet" and not args.output and sys.stdout.isatty():
            raise CliError("Parquet is binary: pass --output FILE (or redirect stdout)")
        data: bytes = api.call("GET", "/v1/reports/finance", params=params, raw=True)
        if args.output:
            with open(args.output, "wb") as out:
                out.write(data)
            print(f"wrote {len(data)} bytes to {args.output}", file=sys.stderr)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
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


COMMANDS = {
    "accounts": accounts,
    "keys": keys,
    "topup": topup,
    "adjust": adjust,
    "balance": balance,
    "prices": prices,
    "request": request,
    "usage": usage,
    "report": report,
    "reconcile": reconcile,
}
METERING = {"request", "usage", "report", "reconcile"}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    url = (
        os.environ.get("TOLLWAY_METERING_URL", "http://127.0.0.1:8082")
        if args.command in METERING
        else os.environ.get("TOLLWAY_ADMIN_URL", "http://127.0.0.1:8081")
    )
    api = Api(url, os.environ.get("TOLLWAY_ADMIN_TOKEN", DEV_ADMIN_TOKEN))
    try:
        COMMANDS[args.command](api, args)
    except CliError as exc:
        print(f"tollway: {exc}", file=sys.stderr)
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
