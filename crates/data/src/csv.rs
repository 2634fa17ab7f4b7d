//! The one CSV reader of the canonical layout, with its two bad-input policies.
//!
//! | policy | reader | a malformed row |
//! |---|---|---|
//! | [`Policy::Strict`] (training: [`crate::platform`]) | every row must have the header's field count | an error naming the file and line ([`row_error`]) |
//! | [`Policy::Tolerant`] (replay: [`crate::replay`]) | rows of any length are read | the caller counts it and skips the row |
//!
//! Under both policies an unreadable file or a header other than the expected one is an error naming the
//! file, and header fields are compared after trimming white space.
//!
//! Every reader reads through [`LfReader`], which turns CRLF line ends into LF: the `csv` crate counts
//! the lines of CRLF text one short (BurntSushi/rust-csv#395, open), and a line number in an error must
//! be the line an editor shows.

use std::fs::File;
use std::io::{self, Read};
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

/// A reader of text with every CRLF line end turned into LF (a lone CR is kept; quoted fields too see
/// LF for CRLF). Streams in 64 KiB blocks; a CR at a block's end is held until the next byte is known.
pub struct LfReader<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// A CR held back from the end of the last block.
    cr: bool,
    eof: bool,
}

impl<R> std::fmt::Debug for LfReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LfReader")
            .field("buffered", &(self.end - self.start))
            .field("cr", &self.cr)
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl<R: Read> LfReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        LfReader {
            inner,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            start: 0,
            end: 0,
            cr: false,
            eof: false,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let off = usize::from(self.cr);
        if self.cr {
            self.buf[0] = b'\r';
            self.cr = false;
        }
        let n = if self.eof {
            0
        } else {
            loop {
                match self.inner.read(&mut self.buf[off..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        };
        self.eof |= n == 0;
        let mut len = off + n;
        if !self.eof && self.buf[len - 1] == b'\r' {
            self.cr = true;
            len -= 1;
        }
        let mut w = 0;
        for i in 0..len {
            let b = self.buf[i];
            if b == b'\r' && i + 1 < len && self.buf[i + 1] == b'\n' {
                continue;
            }
            self.buf[w] = b;
            w += 1;
        }
        (self.start, self.end) = (0, w);
        Ok(())
    }
}

impl<R: Read> Read for LfReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.start == self.end {
            if self.eof && !self.cr {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

/// Opens `path` as CSV with a header row that must equal `expected` (fields trimmed).
pub fn open(path: &Path, expected: &[&str], policy: Policy) -> Result<csv::Reader<LfReader<File>>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(policy == Policy::Tolerant)
        .from_reader(LfReader::new(f));
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

/// A CSV reader over bytes in memory (a product feed), through [`LfReader`].
pub type BytesReader<'a> = csv::Reader<LfReader<&'a [u8]>>;

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
) -> Result<(BytesReader<'a>, Vec<String>)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(LfReader::new(bytes));
    let h = r
        .headers()
        .with_context(|| format!("{}: line 1: cannot read the header", path.display()))?;
    let header = h.iter().map(|s| s.trim().to_string()).collect();
    Ok((r, header))
}

/// The error for a row the strict policy refuses: file, line and what is wrong with it.
pub fn row_error(path: &Path, e: csv::Error) -> anyhow::Error {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    if let csv::ErrorKind::UnequalLengths {
        expected_len, len, ..
    } = e.kind()
    {
        return anyhow::anyhow!(
            "{}: line {line}: malformed CSV row: {len} fields, the header has {expected_len} \
             (a field holding a comma or a quote must be quoted: \"a, b\", \"say \"\"hi\"\"\")",
            path.display()
        );
    }
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
    fn line_numbers_are_the_editors_with_crlf_and_mixed_line_ends() {
        // the 6-field row is on line 4 whatever the line ends before it
        for (name, text) in [
            ("lf.csv", "a,b\n1,2\n3,4\n5,6,7\n"),
            ("crlf.csv", "a,b\r\n1,2\r\n3,4\r\n5,6,7\r\n"),
            ("mixed.csv", "a,b\r\n1,2\n3,4\r\n5,6,7\n"),
            ("quoted.csv", "a,b\r\n\"x\r\ny\",2\r\n5,6,7\r\n"),
        ] {
            let want = 4;
            let p = file(name, text);
            let mut r = open(&p, &["a", "b"], Policy::Strict).unwrap();
            let mut rows = r.records();
            let bad = rows.find_map(|x| x.err()).expect("a bad row");
            let msg = row_error(&p, bad).to_string();
            assert!(
                msg.contains(&format!(
                    "line {want}: malformed CSV row: 3 fields, the header has 2"
                )),
                "{name}: {msg}"
            );
            // and the rows before it read as written (a quoted CRLF reads as LF)
            let mut r = open(&p, &["a", "b"], Policy::Tolerant).unwrap();
            let first: Vec<String> = r
                .records()
                .next()
                .unwrap()
                .unwrap()
                .iter()
                .map(String::from)
                .collect();
            let want_first = if name == "quoted.csv" {
                vec!["x\ny", "2"]
            } else {
                vec!["1", "2"]
            };
            assert_eq!(first, want_first, "{name}");
        }
    }

    #[test]
    fn lf_reader_turns_crlf_into_lf_across_any_read_sizes() {
        let text: Vec<u8> = (0..70_000u32)
            .flat_map(|i| match i % 5 {
                0 => b"ab\r\n".to_vec(),
                1 => b"\r".to_vec(),
                2 => b"c\n".to_vec(),
                3 => b"\r\r\n".to_vec(),
                _ => b"d".to_vec(),
            })
            .collect();
        let want: Vec<u8> = String::from_utf8(text.clone())
            .unwrap()
            .replace("\r\n", "\n")
            .into_bytes();
        for chunk in [1usize, 2, 3, 7, 4096, 65_536, 200_000] {
            let mut r = LfReader::new(&text[..]);
            let (mut got, mut b) = (Vec::new(), vec![0u8; chunk]);
            loop {
                let n = r.read(&mut b).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&b[..n]);
            }
            assert_eq!(got, want, "read size {chunk}");
        }
        // a CR at the very end is kept
        let mut out = Vec::new();
        LfReader::new(&b"x\r"[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"x\r");
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
