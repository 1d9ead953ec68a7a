-- Both event tables sorted by day first, account second (they were account first). A day of
-- rows was spread over every granule of its month, so anything that reads by time scanned
-- the whole month: the finance report's days the rollups have not caught up with (~1-2 s a
-- day at 10M requests, once inserts left more than one part), the rollup refreshes, and
-- reconciliation. Day first, a day is a contiguous run of granules (~0.1 s); one account's
-- month is one short run per day, and reports read it from the rollups anyway.
--
-- A sorting key cannot be changed in place: each table is copied into a new one, which then
-- takes its name (EXCHANGE, atomic). The metering service applies migrations before it
-- consumes, so nothing is written meanwhile. Safe to re-run after a crash at any step: the
-- copy is dropped and made again from whichever table holds the name.
DROP TABLE IF EXISTS request_events_0008;
CREATE TABLE IF NOT EXISTS request_events_0008
(
    event_id               String,
    event_type             LowCardinality(String),
    occurred_at            DateTime64(3, 'UTC'),
    request_id             String,
    account_id             String,
    key_id                 String,
    model                  LowCardinality(String),
    deployment             LowCardinality(String),
    surface                LowCardinality(String),
    stream                 Bool,
    max_tokens             Nullable(UInt32),
    prompt_tokens_estimate UInt32 DEFAULT 0,
    started_at             DateTime64(3, 'UTC'),
    status                 LowCardinality(String) DEFAULT '',
    http_status            UInt16 DEFAULT 0,
    error_code             LowCardinality(String) DEFAULT '',
    finish_reason          LowCardinality(String) DEFAULT '',
    prompt_tokens          UInt64 DEFAULT 0,
    completion_tokens      UInt64 DEFAULT 0,
    cache_read_tokens      UInt64 DEFAULT 0,
    cache_write_tokens     UInt64 DEFAULT 0,
    usage_source           LowCardinality(String) DEFAULT '',
    ttft_ms                Nullable(Float64),
    latency_ms             Float64 DEFAULT 0,
    ingested_at            DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_request_id request_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_ingested_at ingested_at TYPE minmax GRANULARITY 1,
    PROJECTION by_request_id (SELECT * ORDER BY request_id)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (toDate(started_at), account_id, request_id, event_type, event_id)
SETTINGS non_replicated_deduplication_window = 1000, deduplicate_merge_projection_mode = 'rebuild';
INSERT INTO request_events_0008 SELECT * FROM request_events;
EXCHANGE TABLES request_events AND request_events_0008;
DROP TABLE request_events_0008;

DROP TABLE IF EXISTS ledger_entries_0008;
CREATE TABLE IF NOT EXISTS ledger_entries_0008
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
    entry_seq             UInt64 MATERIALIZED toUInt64OrZero(splitByChar(':', entry_id)[-1]),
    INDEX idx_request_id request_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_ingested_at ingested_at TYPE minmax GRANULARITY 1,
    PROJECTION by_request_id (SELECT * ORDER BY request_id)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (toDate(occurred_at), account_id, kind, event_id)
SETTINGS non_replicated_deduplication_window = 1000, deduplicate_merge_projection_mode = 'rebuild';
INSERT INTO ledger_entries_0008 SELECT * FROM ledger_entries;
EXCHANGE TABLES ledger_entries AND ledger_entries_0008;
DROP TABLE ledger_entries_0008;
