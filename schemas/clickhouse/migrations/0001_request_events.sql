-- One row per request event (request.started, request.completed) as the gateway wrote it.
-- Re-reading the same Kafka offsets inserts the same event_id again: ReplacingMergeTree with
-- event_id last in the sorting key collapses those copies on merge, and readers that need
-- exact numbers before a merge use FINAL or argMax by event_id.
CREATE TABLE IF NOT EXISTS request_events
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
    INDEX idx_request_id request_id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (account_id, toDate(started_at), request_id, event_type, event_id)
SETTINGS non_replicated_deduplication_window = 1000;
