-- The finance report shows revenue by token kind (input, output, cache read, cache write),
-- as each charge's ledger entry records it, so revenue_daily and revenue_hourly sum those
-- four costs too. As in 0007, the tables are emptied so that their next refresh recomputes
-- every bucket with the new columns; until then reports read the event tables.
DROP VIEW IF EXISTS revenue_hourly_refresh;
DROP VIEW IF EXISTS revenue_daily_refresh;

ALTER TABLE revenue_hourly ADD COLUMN IF NOT EXISTS input_cost_nano Int64 AFTER adjustments_nano;
ALTER TABLE revenue_hourly ADD COLUMN IF NOT EXISTS output_cost_nano Int64 AFTER input_cost_nano;
ALTER TABLE revenue_hourly ADD COLUMN IF NOT EXISTS cache_read_cost_nano Int64 AFTER output_cost_nano;
ALTER TABLE revenue_hourly ADD COLUMN IF NOT EXISTS cache_write_cost_nano Int64 AFTER cache_read_cost_nano;
ALTER TABLE revenue_daily ADD COLUMN IF NOT EXISTS input_cost_nano Int64 AFTER adjustments_nano;
ALTER TABLE revenue_daily ADD COLUMN IF NOT EXISTS output_cost_nano Int64 AFTER input_cost_nano;
ALTER TABLE revenue_daily ADD COLUMN IF NOT EXISTS cache_read_cost_nano Int64 AFTER output_cost_nano;
ALTER TABLE revenue_daily ADD COLUMN IF NOT EXISTS cache_write_cost_nano Int64 AFTER cache_read_cost_nano;
TRUNCATE TABLE revenue_hourly;
TRUNCATE TABLE revenue_daily;

CREATE MATERIALIZED VIEW IF NOT EXISTS revenue_hourly_refresh
REFRESH EVERY 1 MINUTE APPEND TO revenue_hourly
AS SELECT account_id, model, toStartOfHour(occurred_at) AS hour,
          -sumIf(amount_nano, kind = 'charge') AS revenue_nano,
          -sumIf(amount_nano, kind = 'service_fee') AS fees_nano,
          sumIf(amount_nano, kind = 'top_up') AS top_ups_nano,
          sumIf(amount_nano, kind = 'refund') AS refunds_nano,
          sumIf(amount_nano, kind = 'adjustment') AS adjustments_nano,
          sumIf(input_cost_nano, kind = 'charge') AS input_cost_nano,
          sumIf(output_cost_nano, kind = 'charge') AS output_cost_nano,
          sumIf(cache_read_cost_nano, kind = 'charge') AS cache_read_cost_nano,
          sumIf(cache_write_cost_nano, kind = 'charge') AS cache_write_cost_nano,
          now64(3) AS computed_at
   FROM ledger_entries FINAL
   WHERE toStartOfHour(occurred_at) IN (
         SELECT DISTINCT toStartOfHour(occurred_at) FROM ledger_entries
         WHERE ingested_at >= (SELECT max(computed_at) FROM revenue_hourly) - INTERVAL 5 MINUTE)
   GROUP BY account_id, model, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS revenue_daily_refresh
REFRESH EVERY 1 MINUTE APPEND TO revenue_daily
AS SELECT account_id, model, toDate(occurred_at) AS day,
          -sumIf(amount_nano, kind = 'charge') AS revenue_nano,
          -sumIf(amount_nano, kind = 'service_fee') AS fees_nano,
          sumIf(amount_nano, kind = 'top_up') AS top_ups_nano,
          sumIf(amount_nano, kind = 'refund') AS refunds_nano,
          sumIf(amount_nano, kind = 'adjustment') AS adjustments_nano,
          sumIf(input_cost_nano, kind = 'charge') AS input_cost_nano,
          sumIf(output_cost_nano, kind = 'charge') AS output_cost_nano,
          sumIf(cache_read_cost_nano, kind = 'charge') AS cache_read_cost_nano,
          sumIf(cache_write_cost_nano, kind = 'charge') AS cache_write_cost_nano,
          max(entry_seq) AS last_entry_seq,
          argMax(balance_after_nano, entry_seq) AS last_balance_nano, now64(3) AS computed_at
   FROM ledger_entries FINAL
   WHERE toDate(occurred_at) IN (
         SELECT DISTINCT toDate(occurred_at) FROM ledger_entries
         WHERE ingested_at >= (SELECT max(computed_at) FROM revenue_daily) - INTERVAL 5 MINUTE)
   GROUP BY account_id, model, day;
