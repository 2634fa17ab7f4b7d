//! The shop-level head `θ₀`: an [`Adapter`] the shop learns on its server from its own order history
//! (`nextclick shop head`, no clickstream) and ships beside the catalog. Every new visitor's predictor
//! starts from it; on-device learning goes on from there (`θ' = α·θ + (1 − α)·θ₀`, [`Adapter`]).
//!
//! File format (little-endian), bound to one model like the catalog:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `NXCLHED\0` |
//! | 8 | 2 | format version ([`SHOP_HEAD_VERSION`]) |
//! | 10 | 2 | reserved, zero |
//! | 12 | 4 | dimension `D` (u32; equals the model's) |
//! | 16 | 32 | SHA-256 of the model (ONNX bytes) the head belongs to |
//! | 48 | 4 | customers it was learned from (u32, informative) |
//! | 52 | 4 | purchases it was learned from (u32, informative) |
//! | 56 | 8 | SGD steps taken (u64, informative) |
//! | 64 | 4·(D² + D) | weights `A` (D×D, row-major) then `b` (D), f32 |
//! | end − 32 | 32 | SHA-256 of every byte before it |

use crate::catalog::{hex, sha256};
use crate::contract::MAX_SUPPORTED_DIM;
use crate::error::{Error, Result};
use crate::head::Adapter;

/// Magic bytes of a shop head file.
pub const SHOP_HEAD_MAGIC: &[u8; 8] = b"NXCLHED\0";
/// Format version written by this build.
pub const SHOP_HEAD_VERSION: u16 = 1;
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
}

impl ShopHead {
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
        if version != SHOP_HEAD_VERSION {
            return bad(format!(
                "format version {version}, this build reads {SHOP_HEAD_VERSION}"
            ));
        }
        let d = u32_at(12) as usize;
        if d == 0 || d > MAX_SUPPORTED_DIM {
            return bad(format!("dimension {d}"));
        }
        let n = d * d + d;
        let want = HEADER + 4 * n + 32;
        if bytes.len() != want {
            return bad(format!(
                "{} bytes, a head of dimension {d} has {want}",
                bytes.len()
            ));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if sha256(body) != sum {
            return bad("checksum mismatch (corrupted)".into());
        }
        let params: Vec<f32> = body[HEADER..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
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
        }
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
    fn is_bound_to_its_model() {
        let h = head();
        assert!(h.check_model(&[7; 32], 3).is_ok());
        assert!(h.check_model(&[8; 32], 3).is_err());
        assert!(h.check_model(&[7; 32], 4).is_err());
    }
}
