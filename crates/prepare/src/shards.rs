//! The shard files: the user hash, the schema and the deterministic Parquet writer. They live in
//! `nextclick_data::shards` (feature `parquet`), which the trainer's streaming reader shares without the
//! query engine; re-exported here so the plan and the writer loop name them as before.

pub use nextclick_data::shards::{
    hex, properties, schema, sha256_file, shard_name, user_partition, ShardWriter, ROW_GROUP,
    WRITE_BATCH,
};
