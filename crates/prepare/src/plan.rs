//! The one query: validation, dedup, sessionization, filters, split and the user-hash partition, as a
//! single DataFusion SQL statement over the tables `raw` (the events) and `items` (the item ids).
//!
//! Dropped rows are not removed, they are *tagged* (`dropped`), so that one execution gives both the shards
//! and every count of the report: row-level bad rows collapse in the dedup `GROUP BY` into one row per
//! reason (and per unknown raw type) with their count in `copies`, and sort first (`part = -1`); short
//! sessions and rare items stay in their user's partition, tagged, and the client skips them. Windows are
//! partitioned by `(part, user)` and ordered by the same key as the final `ORDER BY`, so the sort they need
//! is the output order.

use nextclick::contract::EventKind;

use crate::options::{Options, SplitRule, TimeMode};

/// Row-level drop reasons, in the order they are tested.
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

/// `(first 8 bytes of SHA-256(user key), big-endian) mod P` in SQL over `h`, the hex digest: the sum of
/// digit × (16^(15 − i) mod P) over the 16 leading hex digits, mod P (a flat sum, no 64-bit overflow).
/// Equal to [`crate::shards::user_partition`].
fn part_expr(p: u32) -> String {
    let p = p as u64;
    let mut terms = Vec::new();
    let mut c = 1u64; // 16^(15 - i) mod p, from i = 15 down
    for i in (1..=16).rev() {
        terms.push(format!(
            "(strpos('0123456789abcdef', substr(h, {i}, 1)) - 1) * {c}"
        ));
        c = c * 16 % p;
    }
    format!("(({}) % {p})", terms.join(" + "))
}

/// The SQL statement for `opts`. Output columns: `part` (−1 for row-level bad rows), `user_id`,
/// `session_id`, `timestamp`, `event_type`, `item_id`, `split`, `dropped` (NULL for kept rows, else the
/// reason), `copies` (source rows this row stands for).
pub fn sql(opts: &Options) -> String {
    let map_cases: String = opts
        .mapping
        .pairs
        .iter()
        .map(|(raw, kind)| format!(" WHEN {} THEN {}", quote(raw), quote(kind)))
        .collect();
    let kind_ids: String = EventKind::ALL
        .iter()
        .map(|k| format!(" WHEN {} THEN {}", quote(k.name()), k.id()))
        .collect();
    let ts_expr = match opts.time {
        TimeMode::Unix => "COALESCE(TRY_CAST(btrim(coalesce(CAST(\"timestamp\" AS VARCHAR), '')) AS BIGINT), \
            CAST(to_unixtime(TRY_CAST(btrim(coalesce(CAST(\"timestamp\" AS VARCHAR), '')) AS TIMESTAMP)) AS BIGINT))",
        TimeMode::Ordinal => "TRY_CAST(btrim(coalesce(CAST(\"timestamp\" AS VARCHAR), '')) AS BIGINT)",
    };
    // The order of a user's events: by time, ties by source session, kind id, item (after dedup a total
    // order). Ordinal time orders by source session first (ordinals restart in every session).
    let ord = match opts.time {
        TimeMode::Unix => "ts, sid, ek, item",
        TimeMode::Ordinal => "sid, ts, ek, item",
    };
    let (sessions, session_col, session_key) = match opts.time {
        TimeMode::Unix => (
            format!(
                "s2 AS (SELECT *, CASE WHEN LAG(ts) OVER (PARTITION BY part, ukey ORDER BY {ord}) IS NULL
                   OR ts - LAG(ts) OVER (PARTITION BY part, ukey ORDER BY {ord}) > {gap} THEN 1 ELSE 0 END AS brk FROM s1),
                 s3 AS (SELECT *, SUM(brk) OVER (PARTITION BY part, ukey ORDER BY {ord}
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sno FROM s2),",
                gap = opts.session_gap
            ),
            "CASE WHEN part < 0 THEN '' ELSE concat(ukey, '/', CAST(sno AS VARCHAR)) END",
            "sno",
        ),
        TimeMode::Ordinal => ("s3 AS (SELECT * FROM s1),".to_string(), "sid", "sid"),
    };
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
     WHEN i.item_id IS NULL THEN 'unknown_item'
   END AS bad
   FROM p LEFT JOIN items i ON p.item = i.item_id),
 g AS (SELECT ukey, sid, ts, et, item, bad, count(*) AS copies, encode(sha256(ukey), 'hex') AS h FROM
   (SELECT
     CASE WHEN bad IS NULL THEN ukey ELSE '' END AS ukey,
     CASE WHEN bad IS NULL THEN sid ELSE '' END AS sid,
     CASE WHEN bad IS NULL THEN ts ELSE 0 END AS ts,
     CASE WHEN bad IS NULL THEN et WHEN bad = 'unknown_event_type' THEN substr(et_raw, 1, 64) ELSE '' END AS et,
     CASE WHEN bad IS NULL THEN item ELSE '' END AS item,
     bad
    FROM t) AS d
   GROUP BY ukey, sid, ts, et, item, bad),
 s1 AS (SELECT ukey, sid, ts, et, item, bad, copies,
   CASE WHEN bad IS NULL THEN {part} ELSE -1 END AS part,
   CASE WHEN bad IS NULL THEN CASE et{kind_ids} END ELSE 0 END AS ek
   FROM g),
 {sessions}
 s5 AS (SELECT *, CASE WHEN bad IS NOT NULL THEN bad
   WHEN COUNT(*) OVER (PARTITION BY part, ukey, {session_key}) < {min_s} THEN 'short_session' END AS drop1 FROM s3),
 s7 AS (SELECT *, CASE WHEN drop1 IS NOT NULL THEN drop1
   WHEN SUM(CASE WHEN drop1 IS NULL THEN 1 ELSE 0 END) OVER (PARTITION BY item) < {min_i} THEN 'rare_item' END AS dropped FROM s5),
 s8 AS (SELECT *,
   SUM(CASE WHEN dropped IS NULL THEN 1 ELSE 0 END) OVER (PARTITION BY part, ukey ORDER BY {ord}
     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS rn,
   SUM(CASE WHEN dropped IS NULL THEN 1 ELSE 0 END) OVER (PARTITION BY part, ukey) AS n
   FROM s7)
SELECT part, ukey AS user_id, {session_col} AS session_id, ts AS \"timestamp\", et AS event_type,
  item AS item_id, {split} AS split, dropped, copies
FROM s8
ORDER BY part, ukey, {ord}, et, dropped",
        part = part_expr(opts.partitions),
        sid = "btrim(coalesce(CAST(session_id AS VARCHAR), ''))",
        uid = "btrim(coalesce(CAST(user_id AS VARCHAR), ''))",
        et_raw = "lower(btrim(coalesce(CAST(event_type AS VARCHAR), '')))",
        item = "btrim(coalesce(CAST(item_id AS VARCHAR), ''))",
        min_s = opts.min_session_events,
        min_i = opts.min_item_events,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_values_are_quoted_and_every_reason_is_tested() {
        let mut o = Options::new("a".into(), "b".into(), "c".into());
        o.mapping = crate::Mapping::parse("it's=view,x=purchase").unwrap();
        let q = sql(&o);
        assert!(q.contains("WHEN 'it''s' THEN 'view'"), "{q}");
        for r in ROW_REASONS {
            assert!(q.contains(&format!("'{r}'")), "{r} missing from the plan");
        }
    }

    #[test]
    fn the_sql_partition_is_the_rust_partition() {
        // part_expr evaluated in Rust over the hex digest, as the SQL does, for several P.
        for p in [1u32, 2, 7, 16, 1000, 65_521] {
            for user in ["u1", "", "ünïcode", "a-much-longer-user-key-0123456789"] {
                let h: String = sha2::Digest::finalize(
                    <sha2::Sha256 as sha2::Digest>::new_with_prefix(user.as_bytes()),
                )
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
                let mut c = 1u64;
                let mut sum = 0u64;
                for i in (1..=16).rev() {
                    let d = u64::from_str_radix(&h[i - 1..i], 16).unwrap();
                    sum += d * c;
                    c = c * 16 % p as u64;
                }
                assert_eq!(
                    (sum % p as u64) as u32,
                    crate::shards::user_partition(user, p),
                    "P = {p}, user {user:?}"
                );
            }
        }
    }
}
