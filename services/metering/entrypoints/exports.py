"""The finance report as a download: JSON, CSV or Parquet."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.responses import Response

from schemas.admin_api import json_response

__all__ = ["EXPORTS", "csv_response"]


def csv_response(rows: list[dict[str, Any]]) -> Response:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv")


def _parquet(rows: list[dict[str, Any]]) -> Response:
    """Typed columns: ``period`` a date, counts and nano-USD amounts int64, the rest strings."""
    columns: dict[str, pa.Array] = {}
    for name in rows[0] if rows else []:
        values = [row[name] for row in rows]
        if name == "period":
            columns[name] = pa.array([date.fromisoformat(v) for v in values], pa.date32())
        elif all(isinstance(v, int) for v in values):
            columns[name] = pa.array(values, pa.int64())
        else:
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out)
    return Response(
        out.getvalue(),
        media_type="application/vnd.apache.parquet",
        headers={"content-disposition": 'attachment; filename="finance.parquet"'},
    )


#: ``format`` -> the finance report in it.
EXPORTS: dict[str, Callable[[dict[str, Any]], Response]] = {
    "json": json_response,
    "csv": lambda report: csv_response(report["rows"]),
    "parquet": lambda report: _parquet(report["rows"]),
}
