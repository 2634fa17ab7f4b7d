//! Errors of the nextclick core. Every fallible entry point returns [`Error`]; nothing in the core panics on
//! bad input, and each class of bad input has its own variant so that callers (and tests) can tell them apart.

use std::fmt;

/// Result alias of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, with enough context to act on it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The catalog bytes do not start with the catalog magic.
    #[error("catalog: bad magic (not a nextclick catalog file)")]
    CatalogBadMagic,
    /// The catalog was written with a format version this build cannot read.
    #[error(
        "catalog: unsupported format version {found} (this build reads versions 1 to {supported})"
    )]
    CatalogVersion {
        /// Version found in the file.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// The catalog ends before a field it announces.
    #[error("catalog: truncated while reading {what} (at byte {offset} of {len})")]
    CatalogTruncated {
        /// The field that could not be read.
        what: &'static str,
        /// Where it should have been.
        offset: usize,
        /// Length of the input.
        len: usize,
    },
    /// The catalog's trailing checksum does not match its content.
    #[error("catalog: checksum mismatch (file corrupted or tampered with)")]
    CatalogChecksum,
    /// A value in the catalog header or body is out of its allowed range.
    #[error("catalog: invalid {what}: {detail}")]
    CatalogInvalid {
        /// The field.
        what: &'static str,
        /// Why it is invalid.
        detail: String,
    },
    /// A body chunk of a split catalog (format version 3) was refused: wrong length or SHA-256, not a
    /// chunk of this catalog, or malformed inside. Nothing of it is used.
    #[error("catalog: {kind:?} chunk (list {list}, index {index}) refused: {detail}")]
    CatalogChunk {
        /// The chunk's kind.
        kind: crate::split::ChunkKind,
        /// Its list.
        list: u32,
        /// Its block or bucket.
        index: u32,
        /// Why.
        detail: String,
    },
    /// A split catalog has not fetched the chunks an operation needs (e.g. the directory buckets of a
    /// stored state's items): fetch `requests` and try again. Nothing changed.
    #[error("catalog: {0} body chunks are needed first (fetch them and add them with addChunk)")]
    CatalogChunksNeeded(usize),
    /// Two catalog entries share one item id.
    #[error("catalog: duplicate item id {0:?}")]
    CatalogDuplicateId(String),
    /// A catalog vector holds NaN or an infinity.
    #[error("catalog: non-finite value in the vector of item {0:?}")]
    CatalogNonFinite(String),
    /// The catalog's dimension is not the model's.
    #[error(
        "dimension mismatch: model produces {model}-d vectors, catalog holds {catalog}-d vectors"
    )]
    DimensionMismatch {
        /// Model dimension.
        model: usize,
        /// Catalog dimension.
        catalog: usize,
    },
    /// The catalog was built for another model.
    #[error("catalog was built for model sha256 {catalog}, but the loaded model is {model}")]
    ModelHashMismatch {
        /// SHA-256 (hex) of the loaded model.
        model: String,
        /// SHA-256 (hex) recorded in the catalog.
        catalog: String,
    },
    /// Bytes whose SHA-256 is not the one the caller pinned.
    #[error("{what}: integrity check failed: expected sha256 {expected}, got {actual}")]
    Integrity {
        /// Which file.
        what: &'static str,
        /// Pinned hash.
        expected: String,
        /// Hash of the bytes.
        actual: String,
    },
    /// The model bytes could not be parsed or optimised as ONNX.
    #[error("model: not a loadable ONNX model: {0}")]
    ModelLoad(String),
    /// The model parses, but does not follow model contract v1.
    #[error("model: violates model contract v1: {0}")]
    ModelContract(String),
    /// Running the model failed.
    #[error("model: inference failed: {0}")]
    ModelRun(String),
    /// The model card JSON is malformed or inconsistent with the model.
    #[error("model card: {0}")]
    ModelCard(String),
    /// An event was rejected by validation.
    #[error("event rejected: {0}")]
    InvalidEvent(EventError),
    /// Options passed by the caller are invalid.
    #[error("invalid option {name}: {detail}")]
    InvalidOption {
        /// Option name.
        name: &'static str,
        /// Why.
        detail: String,
    },
    /// Persisted state could not be decoded.
    #[error("stored state: {0}")]
    State(String),
    /// The shop head file could not be used.
    #[error("shop head: {0}")]
    ShopHead(String),
}

/// Why an event was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum EventError {
    /// The event type is not in the vocabulary.
    UnknownType(String),
    /// The event has no item id, or an empty one.
    MissingItem,
    /// A string field is longer than allowed.
    TooLong {
        /// Field name.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A numeric field is NaN, infinite or out of range.
    BadNumber {
        /// Field name.
        field: &'static str,
        /// Why.
        detail: String,
    },
    /// The item is not in the catalog, and the unknown-item policy rejects it.
    UnknownItem(String),
    /// The value could not be decoded at all (wrong shape or types).
    Malformed(String),
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::UnknownType(t) => write!(
                f,
                "unknown event type {t:?} (expected one of view, click, cart, remove_from_cart, purchase)"
            ),
            EventError::MissingItem => write!(f, "missing or empty itemId"),
            EventError::TooLong { field, len, max } => {
                write!(f, "{field} is {len} bytes long (at most {max})")
            }
            EventError::BadNumber { field, detail } => write!(f, "{field}: {detail}"),
            EventError::UnknownItem(id) => write!(f, "item {id:?} is not in the catalog"),
            EventError::Malformed(m) => write!(f, "malformed event: {m}"),
        }
    }
}

impl From<EventError> for Error {
    fn from(e: EventError) -> Self {
        Error::InvalidEvent(e)
    }
}
