//! Work buckets: how the client slices the data between the plan's stages (see [`crate::plan`]).
//!
//! Bucket `b` holds a contiguous range of the output order (partition, user hash): either a range of
//! whole partitions (fewer buckets than partitions) or a range of user hashes inside one partition (more
//! buckets than partitions). Every user is in exactly one bucket, and concatenating the buckets' sorted
//! outputs in bucket order gives the sorted output of the whole data, so the bucket count never changes the
//! shards.

use std::path::Path;

use anyhow::{Context, Result};
use arrow::datatypes::SchemaRef;
use nextclick_data::shards::ShardWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// The most buckets asked for: stage 1 writes them all at once (one open file and one row group in
/// progress each), so the count is bounded; beyond it buckets grow with the data.
pub const MAX_BUCKETS: u32 = 256;

/// Input bytes per row assumed for CSV when estimating the row count (generous: more, smaller buckets
/// cost little).
pub const CSV_BYTES_PER_ROW: u64 = 32;

/// Pool bytes per bucket row: a bucket of `memory_limit / BYTES_PER_ROW` rows fits its stage 2 (the
/// dedup `GROUP BY` emits a bucket's groups as one batch, apache/datafusion#19679) and its sorts.
pub const BYTES_PER_ROW: u64 = 1024;

/// The mapping from a user hash to its partition and bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// Number of buckets.
    pub count: u32,
    partitions: u32,
    /// Buckets per partition when there are more buckets than partitions, else 0.
    per_part: u32,
}

impl Buckets {
    /// About `wanted` buckets (1..=[`MAX_BUCKETS`]) over `partitions` partitions. More buckets than
    /// partitions are rounded up to a multiple of `partitions`.
    pub fn new(wanted: u32, partitions: u32) -> Buckets {
        let wanted = wanted.clamp(1, MAX_BUCKETS);
        let partitions = partitions.max(1);
        if wanted <= partitions {
            Buckets {
                count: wanted,
                partitions,
                per_part: 0,
            }
        } else {
            let m = wanted.div_ceil(partitions);
            Buckets {
                count: m * partitions,
                partitions,
                per_part: m,
            }
        }
    }

    /// The bucket count for an input of about `rows` rows and a pool of `memory_limit` bytes (`None`:
    /// unlimited, one bucket).
    pub fn for_input(rows: u64, memory_limit: Option<usize>, partitions: u32) -> Buckets {
        let wanted = match memory_limit {
            None => 1,
            Some(m) => {
                let per = (m as u64 / BYTES_PER_ROW).max(1);
                rows.div_ceil(per).min(MAX_BUCKETS as u64) as u32
            }
        };
        Buckets::new(wanted, partitions)
    }

    /// `(partition, bucket)` of the user whose hash (the first 8 bytes of SHA-256 of the key, big-endian)
    /// is `hash`. The partition is [`nextclick_data::shards::user_partition`]'s.
    pub fn of(&self, hash: u64) -> (u32, u32) {
        let part = (hash % self.partitions as u64) as u32;
        let bucket = if self.per_part == 0 {
            (part as u64 * self.count as u64 / self.partitions as u64) as u32
        } else {
            part * self.per_part + (((hash >> 48) * self.per_part as u64) >> 16) as u32
        };
        (part, bucket)
    }
}

/// The hash of a user from the plan's `hk` (16 lower-case hex digits).
pub fn parse_hash(hk: &str) -> Result<u64> {
    if hk.len() != 16 {
        anyhow::bail!("internal: user hash {hk:?} is not 16 hex digits");
    }
    u64::from_str_radix(hk, 16).with_context(|| format!("internal: user hash {hk:?}"))
}

/// A work file between stages: the shard writer (batches coalesced to 8192 rows, Snappy) with `schema` and
/// small row groups (stage 1 keeps one in progress per bucket).
pub fn work_file(path: &Path, schema: SchemaRef) -> Result<ShardWriter> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(16 * 1024))
        .build();
    ShardWriter::create_with(path, schema, props)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(user: &str) -> u64 {
        let h = <sha2::Sha256 as sha2::Digest>::digest(user.as_bytes());
        u64::from_be_bytes(h[..8].try_into().unwrap())
    }

    #[test]
    fn the_partition_is_the_shards_and_buckets_follow_the_output_order() {
        let users: Vec<String> = (0..2000).map(|i| format!("user-{i}")).collect();
        for p in [1u32, 3, 16, 1000] {
            for wanted in [1u32, 2, 5, 16, 17, 100, 256, 10_000] {
                let b = Buckets::new(wanted, p);
                assert!(b.count >= 1 && b.count < 2 * MAX_BUCKETS.max(p));
                let mut keyed: Vec<(u32, u64, u32)> = users
                    .iter()
                    .map(|u| {
                        let h = hash(u);
                        let (part, bucket) = b.of(h);
                        assert_eq!(part, nextclick_data::shards::user_partition(u, p), "{u}");
                        assert!(bucket < b.count, "bucket {bucket} of {}", b.count);
                        (part, h, bucket)
                    })
                    .collect();
                // sorted by the output order (partition, hash), buckets never decrease
                keyed.sort();
                assert!(
                    keyed.windows(2).all(|w| w[0].2 <= w[1].2),
                    "P = {p}, wanted {wanted}"
                );
                if wanted.min(MAX_BUCKETS) <= p {
                    assert_eq!(b.count, wanted.min(MAX_BUCKETS));
                } else {
                    assert_eq!(b.count % p, 0);
                }
            }
        }
    }

    #[test]
    fn bucket_count_follows_the_input_and_the_pool() {
        let gib = 1usize << 30;
        assert_eq!(Buckets::for_input(1000, Some(2 * gib), 16).count, 1);
        assert_eq!(Buckets::for_input(10_000_000, Some(2 * gib), 16).count, 5);
        assert_eq!(Buckets::for_input(100_000_000, Some(2 * gib), 16).count, 48);
        assert_eq!(Buckets::for_input(100_000_000, None, 16).count, 1);
        assert_eq!(Buckets::for_input(u64::MAX / 2, Some(1), 16).count, 256);
    }

    #[test]
    fn the_hash_is_16_hex_digits() {
        assert_eq!(parse_hash("00000000000000ff").unwrap(), 255);
        assert!(parse_hash("ff").is_err());
        assert!(parse_hash("zz000000000000ff").is_err());
    }
}
