//! The plan: three DataFusion SQL statements, run as stages over bounded slices of the data.
//!
//! 1. [`scan_sql`] (once, over `raw`): validation and the user hash, a streaming scan. The client tests
//!    the item ids against the item table, counts the row-level bad rows (each reason, each unknown raw
//!    type) and writes the good rows into **work buckets**: Parquet files that each hold a contiguous range
//!    of the output order (partition, user hash).
//! 2. [`sessions_sql`] (per bucket, over `b`): dedup (`GROUP BY`), sessionization and the short-session
//!    tag. The client writes the result back to the bucket's second file and counts each item's surviving
//!    events, over all buckets.
//! 3. [`final_sql`] (per bucket, over `s` and `rare`, the items below `--min-item-events`): the rare-item
//!    tag, the split, and the output order. The client streams it into the shards.
//!
//! A user's events are all in one bucket (the bucket is a function of the user hash), so stages 2 and 3
//! see whole users and a bucket's sorts, aggregates and windows hold at most one bucket. The bucket count
//! follows the input size and the memory limit; it does not change a byte of the output, because the
//! buckets partition the output order itself. Dropped rows of stages 2–3 are *tagged* (`drop1`, `dropped`),
//! not removed, so the client counts them as it writes.

use nextclick::contract::EventKind;

use crate::options::{Options, SplitRule, TimeMode};

/// Row-level drop reasons, in the order they are tested. The last, `unknown_item`, is the client's test
/// (a look-up in the item table it holds anyway) of the rows [`scan_sql`] passes: a join in the plan would
/// build a hash table of the item ids, or of the events when the optimiser puts the log on the build side
/// (seen at 1M items: 2 GB of join input in the first seconds).
pub const ROW_REASONS: [&str; 6] = [
    "missing_user",
    "bad_timestamp",
    "empty_event_type",
    "empty_item",
    "unknown_event_type",
    "unknown_item",
];

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The order of a user's events: by time, ties by source session, kind id, item (after dedup a total
/// order). Ordinal time orders by source session first (ordinals restart in every session).
fn ord(opts: &Options) -> &'static str {
    match opts.time {
        TimeMode::Unix => "ts, sid, ek, item",
        TimeMode::Ordinal => "sid, ts, ek, item",
    }
}

/// Stage 1 over `raw`. Output: `ukey, sid, ts, et, item` (the parsed fields; `et` the
/// canonical kind), `bad` (NULL, or the first of [`ROW_REASONS`] but `unknown_item` that applies), `et_bad` (the raw type,
/// cut to 64 characters, of `unknown_event_type` rows) and `hk` (the first 16 hex digits of SHA-256 of
/// the user key, for good rows: the partition and the bucket are computed from it).
pub fn scan_sql(opts: &Options) -> String {
    let map_cases: String = opts
        .mapping
        .pairs
        .iter()
        .map(|(raw, kind)| format!(" WHEN {} THEN {}", quote(raw), quote(kind)))
        .collect();
    let ts_expr = match opts.time {
        TimeMode::Unix => "COALESCE(TRY_CAST(btrim(coalesce(CAST(\"timestamp\" AS VARCHAR), '')) AS BIGINT), \
            CAST(to_unixtime(TRY_CAST(btrim(coalesce(CAST(\"timestamp\" AS VARCHAR), '')) AS TIMESTAMP)) AS BIGINT))",
        TimeMode::Ordinal => "TRY_CAST(btrim(coalesce(CAST(\"timestamp\" AS VARCHAR), '')) AS BIGINT)",
    };
    format!(
        "WITH
 p AS (SELECT {sid} AS sid, {item} AS item, {et_raw} AS et_raw,
   CASE WHEN {uid} = '' THEN {sid} ELSE {uid} END AS ukey,
   {ts_expr} AS ts,
   CASE {et_raw}{map_cases} END AS et
   FROM raw),
 t AS (SELECT p.*, CASE
     WHEN ukey = '' THEN 'missing_user'
     WHEN ts IS NULL OR ts < 0 THEN 'bad_timestamp'
     WHEN et_raw = '' THEN 'empty_event_type'
     WHEN item = '' THEN 'empty_item'
     WHEN et IS NULL THEN 'unknown_event_type'
   END AS bad
   FROM p)
SELECT ukey, sid, ts, et, item, bad,
  CASE WHEN bad = 'unknown_event_type' THEN substr(et_raw, 1, 64) END AS et_bad,
  CASE WHEN bad IS NULL THEN substr(encode(sha256(ukey), 'hex'), 1, 16) END AS hk
FROM t",
        sid = "btrim(coalesce(CAST(session_id AS VARCHAR), ''))",
        uid = "btrim(coalesce(CAST(user_id AS VARCHAR), ''))",
        et_raw = "lower(btrim(coalesce(CAST(event_type AS VARCHAR), '')))",
        item = "btrim(coalesce(CAST(item_id AS VARCHAR), ''))",
    )
}

/// Stage 2 over `b` (one bucket of good rows: `part, hk, ukey, sid, ts, et, item`). Output: the deduplicated
/// events with `copies` (source rows per event), `ek` (kind id), `session_id` (unix mode: `<user>/<n>`;
/// ordinal mode: the source session) and `drop1` (`short_session` or NULL). No order.
pub fn sessions_sql(opts: &Options) -> String {
    let kind_ids: String = EventKind::ALL
        .iter()
        .map(|k| format!(" WHEN {} THEN {}", quote(k.name()), k.id()))
        .collect();
    let ord = ord(opts);
    let (sessions, session_col, session_key) = match opts.time {
        TimeMode::Unix => (
            format!(
                "s2 AS (SELECT *, CASE WHEN LAG(ts) OVER (PARTITION BY hk, ukey ORDER BY {ord}) IS NULL
                   OR ts - LAG(ts) OVER (PARTITION BY hk, ukey ORDER BY {ord}) > {gap} THEN 1 ELSE 0 END AS brk FROM s1),
                 s3 AS (SELECT *, SUM(brk) OVER (PARTITION BY hk, ukey ORDER BY {ord}
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sno FROM s2),",
                gap = opts.session_gap
            ),
            "concat(ukey, '/', CAST(sno AS VARCHAR))",
            "sno",
        ),
        TimeMode::Ordinal => ("s3 AS (SELECT * FROM s1),".to_string(), "sid", "sid"),
    };
    format!(
        "WITH
 g AS (SELECT part, hk, ukey, sid, ts, et, item, count(*) AS copies FROM b
   GROUP BY part, hk, ukey, sid, ts, et, item),
 s1 AS (SELECT *, CASE et{kind_ids} END AS ek FROM g),
 {sessions}
 s5 AS (SELECT *, CASE WHEN COUNT(*) OVER (PARTITION BY hk, ukey, {session_key}) < {min_s}
   THEN 'short_session' END AS drop1 FROM s3)
SELECT part, hk, ukey, sid, ts, et, ek, item, copies, {session_col} AS session_id, drop1 FROM s5",
        min_s = opts.min_session_events,
    )
}

/// Stage 3 over `s` (one bucket of [`sessions_sql`]'s output) and `rare` (`item_id`: the items with fewer
/// than `--min-item-events` events after the session filter, over all buckets). Output columns: `part`,
/// `user_id`, `session_id`, `timestamp`, `event_type`, `item_id`, `split`, `dropped` (NULL for kept rows,
/// else the reason), `copies`; sorted by (partition, user hash, user, the user's event order).
pub fn final_sql(opts: &Options) -> String {
    let ord = ord(opts);
    let split = match opts.split {
        SplitRule::Loo => {
            "CASE WHEN dropped IS NOT NULL THEN '' WHEN n >= 3 AND rn = n THEN 'test' \
                           WHEN n >= 3 AND rn = n - 1 THEN 'valid' ELSE 'train' END"
                .to_string()
        }
        SplitRule::Time {
            valid_from,
            test_from,
        } => format!(
            "CASE WHEN dropped IS NOT NULL THEN '' WHEN ts >= {test_from} THEN 'test' \
             WHEN ts >= {valid_from} THEN 'valid' ELSE 'train' END"
        ),
    };
    format!(
        "WITH
 s7 AS (SELECT s.*, CASE WHEN drop1 IS NOT NULL THEN drop1
   WHEN r.item_id IS NOT NULL THEN 'rare_item' END AS dropped
   FROM s LEFT JOIN rare r ON s.item = r.item_id),
 s8 AS (SELECT *,
   SUM(CASE WHEN dropped IS NULL THEN 1 ELSE 0 END) OVER (PARTITION BY hk, ukey ORDER BY {ord}
     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS rn,
   SUM(CASE WHEN dropped IS NULL THEN 1 ELSE 0 END) OVER (PARTITION BY hk, ukey) AS n
   FROM s7)
SELECT part, ukey AS user_id, session_id, ts AS \"timestamp\", et AS event_type,
  item AS item_id, {split} AS split, dropped, copies
FROM s8
ORDER BY part, hk, ukey, {ord}, et, dropped"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_values_are_quoted_and_every_reason_is_tested() {
        let mut o = Options::new("a".into(), "b".into(), "c".into());
        o.mapping = crate::Mapping::parse("it's=view,x=purchase").unwrap();
        let q = scan_sql(&o);
        assert_eq!(ROW_REASONS[5], "unknown_item", "the client's test, last");
        assert!(q.contains("WHEN 'it''s' THEN 'view'"), "{q}");
        for r in &ROW_REASONS[..5] {
            assert!(q.contains(&format!("'{r}'")), "{r} missing from the plan");
        }
    }
}
