//! The consent form's CSRF token: HMAC-SHA256 of the consent request's id under a key made
//! at server start. It is bound to that one request, needs no storage, and a page on another
//! origin can neither read it (same-origin policy) nor compute it.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

const BLOCK: usize = 64;

/// The server's CSRF key (random per start: pages from before a restart must be reloaded).
pub(crate) struct CsrfKey(Zeroizing<[u8; 32]>);

impl CsrfKey {
    pub(crate) fn generate() -> Result<Self, crate::McpError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice()).map_err(|e| crate::McpError::Random(e.to_string()))?;
        Ok(Self(key))
    }

    /// The token for the consent request `request_id`.
    pub(crate) fn token_for(&self, request_id: &str) -> String {
        hex::encode(hmac_sha256(self.0.as_slice(), format!("consent:{request_id}").as_bytes()))
    }

    /// Whether `token` is the one for `request_id` (constant time).
    pub(crate) fn verify(&self, request_id: &str, token: &str) -> bool {
        bool::from(self.token_for(request_id).as_bytes().ct_eq(token.as_bytes()))
    }
}

/// HMAC (RFC 2104) over SHA-256 with a key shorter than the block.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut padded = Zeroizing::new([0u8; BLOCK]);
    padded[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| Zeroizing::new(padded.map(|k| k ^ byte));
    let inner = Sha256::new().chain_update(pad(0x36).as_slice()).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c).as_slice()).chain_update(inner).finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_token_is_bound_to_its_request_and_key() {
        let key = CsrfKey::generate().expect("random");
        let token = key.token_for("abc");
        assert!(key.verify("abc", &token));
        assert!(!key.verify("abd", &token));
        assert!(!key.verify("abc", ""));
        assert!(!CsrfKey::generate().expect("random").verify("abc", &token));
    }
}
