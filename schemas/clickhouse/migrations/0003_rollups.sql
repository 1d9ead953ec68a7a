-- Rollups for dashboards: usage and revenue per account x model x hour and x day.
-- Refreshable materialized views recompute from the deduplicated tables (FINAL) every
-- minute, so a batch re-inserted after a crash never counts twice here either (an
-- insert-triggered view would add each copy). They lag the base tables by up to a minute;
-- the reporting API reads the base tables. Refreshable views need an Atomic database.
CREATE MATERIALIZED VIEW IF NOT EXISTS usage_hourly
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree ORDER BY (account_id, model, hour)
AS SELECT account_id, model, toStartOfHour(started_at) AS hour,
          count() AS requests, sum(prompt_tokens) AS prompt_tokens,
          sum(completion_tokens) AS completion_tokens, sum(cache_read_tokens) AS cache_read_tokens,
          sum(cache_write_tokens) AS cache_write_tokens
   FROM request_events FINAL
   WHERE event_type = 'request.completed'
   GROUP BY account_id, model, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_daily
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree ORDER BY (account_id, model, day)
AS SELECT account_id, model, toDate(started_at) AS day,
          count() AS requests, sum(prompt_tokens) AS prompt_tokens,
          sum(completion_tokens) AS completion_tokens, sum(cache_read_tokens) AS cache_read_tokens,
          sum(cache_write_tokens) AS cache_write_tokens
   FROM request_events FINAL
   WHERE event_type = 'request.completed'
   GROUP BY account_id, model, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS revenue_hourly
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree ORDER BY (account_id, model, hour)
AS SELECT account_id, model, toStartOfHour(occurred_at) AS hour,
          -sumIf(amount_nano, kind = 'charge') AS revenue_nano,
          -sumIf(amount_nano, kind = 'service_fee') AS fees_nano,
          sumIf(amount_nano, kind = 'top_up') AS top_ups_nano,
          sumIf(amount_nano, kind = 'refund') AS refunds_nano
   FROM ledger_entries FINAL
   GROUP BY account_id, model, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS revenue_daily
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree ORDER BY (account_id, model, day)
AS SELECT account_id, model, toDate(occurred_at) AS day,
          -sumIf(amount_nano, kind = 'charge') AS revenue_nano,
          -sumIf(amount_nano, kind = 'service_fee') AS fees_nano,
          sumIf(amount_nano, kind = 'top_up') AS top_ups_nano,
          sumIf(amount_nano, kind = 'refund') AS refunds_nano
   FROM ledger_entries FINAL
   GROUP BY account_id, model, day;
