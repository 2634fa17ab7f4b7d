//! The one CSV reader of the canonical layout, with its two bad-input policies.
//!
//! | policy | reader | a malformed row |
//! |---|---|---|
//! | [`Policy::Strict`] (training: [`crate::platform`]) | every row must have the header's field count | an error naming the file and line ([`row_error`]) |
//! | [`Policy::Tolerant`] (replay: [`crate::replay`]) | rows of any length are read | the caller counts it and skips the row |
//!
//! Under both policies an unreadable file or a header other than the expected one is an error naming the
//! file, and header fields are compared after trimming white space.

use std::fs::File;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// What a reader does with a row whose field count differs from the header's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The row is an error ([`row_error`] names the file and line).
    Strict,
    /// The row is read as it is; the caller checks its length, counts it and skips it.
    Tolerant,
}

/// Opens `path` as CSV with a header row that must equal `expected` (fields trimmed).
pub fn open(path: &Path, expected: &[&str], policy: Policy) -> Result<csv::Reader<File>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(policy == Policy::Tolerant)
        .from_reader(f);
    let h = r
        .headers()
        .with_context(|| format!("{}: line 1: cannot read the header", path.display()))?;
    let got: Vec<&str> = h.iter().map(|s| s.trim()).collect();
    if got != expected {
        bail!(
            "{}: line 1: header is {:?}, expected {:?}",
            path.display(),
            got,
            expected
        );
    }
    Ok(r)
}

/// Reads CSV or TSV text whose columns are not fixed (product feeds: the columns present vary by shop).
///
/// `bytes` is the whole file (a UTF-8 byte-order mark is skipped), `delimiter` `b','` or `b'\t'`. Returns
/// the reader, positioned after the header, and the header fields trimmed. Rows of any length are read
/// (the caller compares each row's length with the header's and applies its own bad-row policy); an
/// unreadable header is an error naming `path` and line 1.
pub fn open_bytes<'a>(
    path: &Path,
    bytes: &'a [u8],
    delimiter: u8,
) -> Result<(csv::Reader<&'a [u8]>, Vec<String>)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let h = r
        .headers()
        .with_context(|| format!("{}: line 1: cannot read the header", path.display()))?;
    let header = h.iter().map(|s| s.trim().to_string()).collect();
    Ok((r, header))
}

/// The error for a row the strict policy refuses: file, line and what the CSV parser said.
pub fn row_error(path: &Path, e: csv::Error) -> anyhow::Error {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    anyhow::anyhow!("{}: line {line}: malformed CSV row: {e}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("nextclick-csv-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn strict_refuses_a_short_row_with_its_line_and_tolerant_reads_it() {
        let p = file("short.csv", "a,b\n1,2\n3\n");
        let mut r = open(&p, &["a", "b"], Policy::Strict).unwrap();
        let rows: Vec<_> = r.records().collect();
        let e = rows[1].as_ref().unwrap_err();
        let msg = format!(
            "{}",
            row_error(&p, csv::Error::from(std::io::Error::other(e.to_string())))
        );
        assert!(msg.contains("malformed CSV row"), "{msg}");
        assert!(e.position().map(|q| q.line()) == Some(3), "{e:?}");
        let mut r = open(&p, &["a", "b"], Policy::Tolerant).unwrap();
        let lens: Vec<usize> = r.records().map(|x| x.unwrap().len()).collect();
        assert_eq!(lens, vec![2, 1]);
    }

    #[test]
    fn a_wrong_header_names_the_file_and_both_headers() {
        let p = file("hdr.csv", " a ,c\n1,2\n");
        for policy in [Policy::Strict, Policy::Tolerant] {
            let e = open(&p, &["a", "b"], policy).unwrap_err().to_string();
            assert!(
                e.contains("hdr.csv: line 1: header is [\"a\", \"c\"], expected [\"a\", \"b\"]"),
                "{e}"
            );
        }
        assert!(open(&p.with_extension("missing"), &["a"], Policy::Strict).is_err());
    }
}
