-- Statements show who made each manual entry (top-ups, adjustments, refunds): the admin
-- token's name the ledger event carries. Entries stored before this read ''.
ALTER TABLE ledger_entries ADD COLUMN IF NOT EXISTS actor LowCardinality(String) DEFAULT '' AFTER reason;
