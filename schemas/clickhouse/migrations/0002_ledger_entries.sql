-- Every ledger entry billing committed (top-ups, fees, charges, adjustments, refunds).
-- Amounts are signed nano-USD (Int64 holds +-9.2e9 USD). Duplicates from a re-read collapse on
-- event_id as in request_events.
CREATE TABLE IF NOT EXISTS ledger_entries
(
    event_id              String,
    entry_id              String,
    occurred_at           DateTime64(3, 'UTC'),
    account_id            String,
    kind                  LowCardinality(String),
    amount_nano           Int64,
    balance_after_nano    Int64,
    cause_event_id        String,
    request_id            String DEFAULT '',
    idempotency_key       String DEFAULT '',
    reason                String DEFAULT '',
    model                 LowCardinality(String) DEFAULT '',
    price_version         LowCardinality(String) DEFAULT '',
    input_cost_nano       Int64 DEFAULT 0,
    output_cost_nano      Int64 DEFAULT 0,
    cache_read_cost_nano  Int64 DEFAULT 0,
    cache_write_cost_nano Int64 DEFAULT 0,
    ingested_at           DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_request_id request_id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (account_id, toDate(occurred_at), kind, event_id)
SETTINGS non_replicated_deduplication_window = 1000;
