-- Reports order an account's entries by the number that ends entry_id ("<account>:<n>"),
-- which they split out of the string on every row they read: at 10M entries that was more
-- than half of a month's finance report (the prepaid liability). Now it is a column,
-- computed once when a row is written.
ALTER TABLE ledger_entries ADD COLUMN IF NOT EXISTS entry_seq UInt64 MATERIALIZED toUInt64OrZero(splitByChar(':', entry_id)[-1]);
ALTER TABLE ledger_entries MATERIALIZE COLUMN entry_seq;
