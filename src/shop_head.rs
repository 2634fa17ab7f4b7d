//! The shop-level head `θ₀`: an [`Adapter`] the shop learns on its server from its own order history
//! (`nextclick shop head`, no clickstream) and ships beside the catalog. Every new visitor's predictor
//! starts from it; on-device learning goes on from there (`θ' = α·θ + (1 − α)·θ₀`, [`Adapter`]).
//!
//! From format version 2 the file can also carry **intent priors**: purchase and exit heads
//! ([`Logistic`]) the shop learned from its own event history (`nextclick shop-head --events`). A new
//! visitor's intent heads start from them instead of the hand-set priors of [`crate::state`]; on-device
//! learning goes on from there as before.
//!
//! File format (little-endian), bound to one model like the catalog:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `NXCLHED\0` |
//! | 8 | 2 | format version ([`SHOP_HEAD_VERSION`]; version 1 files, without intent priors, are read too) |
//! | 10 | 2 | reserved, zero |
//! | 12 | 4 | dimension `D` (u32; equals the model's) |
//! | 16 | 32 | SHA-256 of the model (ONNX bytes) the head belongs to |
//! | 48 | 4 | customers it was learned from (u32, informative) |
//! | 52 | 4 | purchases it was learned from (u32, informative) |
//! | 56 | 8 | SGD steps taken (u64, informative) |
//! | 64 | 4·(D² + D) | weights `A` (D×D, row-major) then `b` (D), f32 |
//! | | 4 | version 2: intent input length `F + D` (u32; 0 = no intent priors) |
//! | | 4 | version 2: which priors follow (u32: bit 0 purchase, bit 1 exit; other bits zero) |
//! | | 4·(F + D + 1) each | version 2: each prior present, purchase first: weights then bias, f32 |
//! | end − 32 | 32 | SHA-256 of every byte before it |

use crate::catalog::{hex, sha256};
use crate::contract::MAX_SUPPORTED_DIM;
use crate::error::{Error, Result};
use crate::features::NUM_FEATURES;
use crate::head::{Adapter, Logistic};

/// Magic bytes of a shop head file.
pub const SHOP_HEAD_MAGIC: &[u8; 8] = b"NXCLHED\0";
/// Format version written by this build.
pub const SHOP_HEAD_VERSION: u16 = 2;
const HEADER: usize = 64;

/// A validated shop head.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopHead {
    /// The head's weights (its step count is the SGD steps it took).
    pub adapter: Adapter,
    /// SHA-256 of the model it belongs to.
    pub model_sha256: [u8; 32],
    /// Customers it was learned from.
    pub customers: u32,
    /// Purchases it was learned from.
    pub purchases: u32,
    /// Purchase-intent prior (input: the session features then the session vector), if the shop
    /// learned one.
    pub purchase: Option<Logistic>,
    /// Exit-risk prior, likewise.
    pub exit: Option<Logistic>,
}

impl ShopHead {
    /// A head that changes no recommendation (a zero adapter: the source model's), for model
    /// `model_sha256` of dimension `dim`: the file of a shop whose orders teach no head but whose event
    /// history gives intent priors (set [`ShopHead::purchase`] / [`ShopHead::exit`]).
    pub fn neutral(model_sha256: [u8; 32], dim: usize) -> ShopHead {
        ShopHead {
            adapter: Adapter::new(dim),
            model_sha256,
            customers: 0,
            purchases: 0,
            purchase: None,
            exit: None,
        }
    }

    /// Encodes the head.
    pub fn to_bytes(&self) -> Vec<u8> {
        let d = self.adapter.dim();
        let params = self.adapter.params();
        let mut out = Vec::with_capacity(HEADER + 4 * params.len() + 32);
        out.extend_from_slice(SHOP_HEAD_MAGIC);
        out.extend_from_slice(&SHOP_HEAD_VERSION.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(d as u32).to_le_bytes());
        out.extend_from_slice(&self.model_sha256);
        out.extend_from_slice(&self.customers.to_le_bytes());
        out.extend_from_slice(&self.purchases.to_le_bytes());
        out.extend_from_slice(&self.adapter.steps().to_le_bytes());
        for x in params {
            out.extend_from_slice(&x.to_le_bytes());
        }
        let priors = [&self.purchase, &self.exit];
        let len = priors
            .iter()
            .flat_map(|h| h.as_ref())
            .map(Logistic::len)
            .next()
            .unwrap_or(0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
        let flags = u32::from(self.purchase.is_some()) | (u32::from(self.exit.is_some()) << 1);
        out.extend_from_slice(&flags.to_le_bytes());
        for h in priors.into_iter().flatten() {
            for x in h.weights() {
                out.extend_from_slice(&x.to_le_bytes());
            }
            out.extend_from_slice(&h.bias().to_le_bytes());
        }
        let sum = sha256(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Decodes and validates head bytes (magic, version, sizes before allocation, checksum, finite
    /// weights). Binding to a model is checked by [`ShopHead::check_model`].
    pub fn from_bytes(bytes: &[u8]) -> Result<ShopHead> {
        let bad = |m: String| Err(Error::ShopHead(m));
        if bytes.len() < 8 || &bytes[..8] != SHOP_HEAD_MAGIC {
            return bad("not a nextclick shop head (bad magic)".into());
        }
        if bytes.len() < HEADER + 32 {
            return bad(format!("truncated: {} bytes", bytes.len()));
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version == 0 || version > SHOP_HEAD_VERSION {
            return bad(format!(
                "format version {version}, this build reads 1 to {SHOP_HEAD_VERSION}"
            ));
        }
        let d = u32_at(12) as usize;
        if d == 0 || d > MAX_SUPPORTED_DIM {
            return bad(format!("dimension {d}"));
        }
        let n = d * d + d;
        let adapter_end = HEADER + 4 * n;
        // version 2: the intent section's own header says how long it is (checked before any allocation)
        let (len, flags) = if version >= 2 {
            if bytes.len() < adapter_end + 8 + 32 {
                return bad(format!("truncated: {} bytes", bytes.len()));
            }
            (u32_at(adapter_end) as usize, u32_at(adapter_end + 4))
        } else {
            (0, 0)
        };
        if flags & !3 != 0 || (flags == 0) != (len == 0) {
            return bad(format!(
                "intent section: flags {flags:#x} for input length {len}"
            ));
        }
        if len != 0 && len != NUM_FEATURES + d {
            return bad(format!(
                "intent priors of input length {len}, a head of dimension {d} has {}",
                NUM_FEATURES + d
            ));
        }
        let priors = flags.count_ones() as usize;
        let want = adapter_end
            + if version >= 2 {
                8 + 4 * priors * (len + 1)
            } else {
                0
            }
            + 32;
        if bytes.len() != want {
            return bad(format!(
                "{} bytes, a version-{version} head of dimension {d} with {priors} intent priors has {want}",
                bytes.len()
            ));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if sha256(body) != sum {
            return bad("checksum mismatch (corrupted)".into());
        }
        let f32s = |a: usize, b: usize| -> Vec<f32> {
            body[a..b]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()
        };
        let params = f32s(HEADER, adapter_end);
        let mut at = adapter_end + 8;
        let mut prior = |bit: u32| -> Result<Option<Logistic>> {
            if flags & bit == 0 {
                return Ok(None);
            }
            let v = f32s(at, at + 4 * (len + 1));
            at += 4 * (len + 1);
            let h = Logistic::new(v[..len].to_vec(), v[len]);
            if !h.is_valid() {
                return Err(Error::ShopHead(
                    "an intent prior has non-finite weights".into(),
                ));
            }
            Ok(Some(h))
        };
        let purchase = prior(1)?;
        let exit = prior(2)?;
        let steps = u64::from_le_bytes(bytes[56..64].try_into().expect("8 bytes"));
        let mut adapter = Adapter::new(d);
        adapter
            .set_params(&params, steps)
            .map_err(Error::ShopHead)?;
        Ok(ShopHead {
            adapter,
            model_sha256: bytes[16..48].try_into().expect("32 bytes"),
            customers: u32_at(48),
            purchases: u32_at(52),
            purchase,
            exit,
        })
    }

    /// Refuses a head learned for another model (or of another dimension).
    pub fn check_model(&self, model_sha256: &[u8; 32], dim: usize) -> Result<()> {
        if &self.model_sha256 != model_sha256 {
            return Err(Error::ShopHead(format!(
                "learned for model {}, the loaded model is {}",
                hex(&self.model_sha256),
                hex(model_sha256)
            )));
        }
        if self.adapter.dim() != dim {
            return Err(Error::ShopHead(format!(
                "dimension {}, the model's is {dim}",
                self.adapter.dim()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> ShopHead {
        let mut adapter = Adapter::new(3);
        let p: Vec<f32> = (0..12).map(|i| i as f32 * 0.01).collect();
        adapter.set_params(&p, 40).unwrap();
        ShopHead {
            adapter,
            model_sha256: [7; 32],
            customers: 5,
            purchases: 9,
            purchase: None,
            exit: None,
        }
    }

    fn prior(k: f32) -> Logistic {
        Logistic::new((0..NUM_FEATURES + 3).map(|i| k * i as f32).collect(), -k)
    }

    /// `b` with its checksum recomputed (for edits that must get past it).
    fn resealed(mut b: Vec<u8>) -> Vec<u8> {
        let n = b.len();
        let sum = sha256(&b[..n - 32]);
        b[n - 32..].copy_from_slice(&sum);
        b
    }

    #[test]
    fn intent_priors_round_trip_and_version_1_files_still_load() {
        for (purchase, exit) in [
            (Some(prior(0.5)), Some(prior(-0.25))),
            (Some(prior(0.5)), None),
            (None, Some(prior(2.0))),
            (None, None),
        ] {
            let h = ShopHead {
                purchase,
                exit,
                ..head()
            };
            assert_eq!(ShopHead::from_bytes(&h.to_bytes()).unwrap(), h);
        }
        // a version-1 file (what 0.6.0 and earlier wrote): the adapter section only
        let v2 = head().to_bytes();
        let adapter_end = HEADER + 4 * 12;
        let mut v1 = v2[..adapter_end].to_vec();
        v1[8..10].copy_from_slice(&1u16.to_le_bytes());
        v1.extend_from_slice(&[0; 32]);
        let read = ShopHead::from_bytes(&resealed(v1)).unwrap();
        assert_eq!(read, head());
        // the intent section is checked: a length that is not F + D, unknown flags, a non-finite weight
        let with = ShopHead {
            purchase: Some(prior(1.0)),
            ..head()
        }
        .to_bytes();
        let mut bad_len = with.clone();
        bad_len[adapter_end..adapter_end + 4].copy_from_slice(&7u32.to_le_bytes());
        assert!(ShopHead::from_bytes(&resealed(bad_len))
            .unwrap_err()
            .to_string()
            .contains("input length"));
        let mut bad_flags = with.clone();
        bad_flags[adapter_end + 4..adapter_end + 8].copy_from_slice(&5u32.to_le_bytes());
        assert!(ShopHead::from_bytes(&resealed(bad_flags)).is_err());
        let mut nan = with.clone();
        nan[adapter_end + 8..adapter_end + 12].copy_from_slice(&f32::INFINITY.to_le_bytes());
        assert!(ShopHead::from_bytes(&resealed(nan))
            .unwrap_err()
            .to_string()
            .contains("non-finite"));
        // a huge announced length is refused before anything is allocated for it
        let mut huge = with;
        huge[adapter_end..adapter_end + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ShopHead::from_bytes(&resealed(huge)).is_err());
        // a version from the future
        let mut v9 = v2;
        v9[8..10].copy_from_slice(&9u16.to_le_bytes());
        assert!(ShopHead::from_bytes(&resealed(v9))
            .unwrap_err()
            .to_string()
            .contains("version 9"));
    }

    #[test]
    fn round_trips_and_refuses_bad_bytes() {
        let h = head();
        let b = h.to_bytes();
        assert_eq!(ShopHead::from_bytes(&b).unwrap(), h);
        let mut c = b.clone();
        c[70] ^= 1;
        assert!(ShopHead::from_bytes(&c)
            .unwrap_err()
            .to_string()
            .contains("checksum"));
        assert!(ShopHead::from_bytes(&b[..b.len() - 1]).is_err());
        assert!(ShopHead::from_bytes(b"NXCLHED\0").is_err());
        // a header announcing a huge dimension is refused before allocating
        let mut huge = b.clone();
        huge[12..16].copy_from_slice(&1_000_000u32.to_le_bytes());
        assert!(ShopHead::from_bytes(&huge).is_err());
        // non-finite weights, re-sealed
        let mut nan = b.clone();
        nan[64..68].copy_from_slice(&f32::NAN.to_le_bytes());
        let n = nan.len();
        let sum = sha256(&nan[..n - 32]);
        nan[n - 32..].copy_from_slice(&sum);
        assert!(ShopHead::from_bytes(&nan).is_err());
    }

    #[test]
    fn a_neutral_head_changes_no_recommendation_and_round_trips() {
        let h = ShopHead::neutral([7; 32], 3);
        assert!(h.adapter.params().iter().all(|&x| x == 0.0));
        assert!(h.check_model(&[7; 32], 3).is_ok());
        let with = ShopHead {
            purchase: Some(prior(1.0)),
            ..h
        };
        assert_eq!(ShopHead::from_bytes(&with.to_bytes()).unwrap(), with);
    }

    #[test]
    fn is_bound_to_its_model() {
        let h = head();
        assert!(h.check_model(&[7; 32], 3).is_ok());
        assert!(h.check_model(&[8; 32], 3).is_err());
        assert!(h.check_model(&[7; 32], 4).is_err());
    }
}
