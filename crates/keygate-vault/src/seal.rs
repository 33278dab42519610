//! AES-256-GCM sealing. Every sealed blob is `format(1) || nonce(12) || ciphertext || tag(16)`,
//! with associated data that binds it to its vault and row, so a blob moved elsewhere won't open.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroizing;

use crate::error::{Result, VaultError};
use crate::random::fill_random;

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Length of a master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;

/// The 256-bit key that seals every credential in a vault. Zeroized on drop, never shown.
pub struct MasterKey(SecretBox<[u8; MASTER_KEY_LEN]>);

impl MasterKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut key = SecretBox::new(Box::new([0u8; MASTER_KEY_LEN]));
        fill_random(secrecy::ExposeSecretMut::expose_secret_mut(&mut key))?;
        Ok(Self(key))
    }

    /// A key from its raw bytes, which must be exactly 32.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let array: [u8; MASTER_KEY_LEN] =
            bytes.try_into().map_err(|_| format!("it decodes to {} bytes, not {MASTER_KEY_LEN}", bytes.len()))?;
        let key = SecretBox::new(Box::new(array));
        let mut array = array;
        zeroize::Zeroize::zeroize(&mut array);
        Ok(Self(key))
    }

    /// A key from base64 text, as in `KEYGATE_MASTER_KEY`.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| "it is not valid base64".to_string())?);
        Self::from_bytes(&bytes)
    }

    /// The raw bytes, for storing in the OS keychain.
    pub(crate) fn bytes(&self) -> &[u8; MASTER_KEY_LEN] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// What a sealed blob is bound to. Encoded length-prefixed so no two bindings share bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Binding<'a> {
    /// The vault's key check value.
    KeyCheck { vault_id: &'a str },
    /// One version of one credential.
    Credential { vault_id: &'a str, name: &'a str, version: i64 },
    /// The original of a client config file, as kept before one write.
    ClientConfig { vault_id: &'a str, id: &'a str, client: &'a str, path: &'a str },
}

impl Binding<'_> {
    fn associated_data(&self) -> Vec<u8> {
        let mut out = b"keygate/v1".to_vec();
        let mut field = |bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(bytes);
        };
        match *self {
            Binding::KeyCheck { vault_id } => {
                field(b"key-check");
                field(vault_id.as_bytes());
            }
            Binding::Credential { vault_id, name, version } => {
                field(b"credential");
                field(vault_id.as_bytes());
                field(name.as_bytes());
                field(&version.to_be_bytes());
            }
            Binding::ClientConfig { vault_id, id, client, path } => {
                field(b"client-config");
                field(vault_id.as_bytes());
                field(id.as_bytes());
                field(client.as_bytes());
                field(path.as_bytes());
            }
        }
        out
    }
}

/// Seals and opens with one master key. Clones share one key schedule.
#[derive(Clone)]
pub(crate) struct Sealer {
    /// On the heap, and shared: the AES-256 key schedule begins with the master key itself,
    /// and a `Vault` moved by value (into the server, through async state machines) would leave
    /// a copy of it in every stack frame or task it passed through; a second connection to the
    /// same vault (`Vault::open_another`) shares it rather than holding the key again.
    cipher: std::sync::Arc<Aes256Gcm>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    pub(crate) fn new(key: &MasterKey) -> Self {
        let cipher = std::sync::Arc::new(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.bytes())));
        Self { cipher }
    }

    /// Seal `plaintext` under a fresh random nonce.
    pub(crate) fn seal(&self, binding: Binding<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let aad = binding.associated_data();
        let payload = Payload { msg: plaintext, aad: &aad };
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| VaultError::Random("AES-GCM refused to seal".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Open a sealed blob; `None` if it is malformed, altered, moved, or sealed with another key.
    pub(crate) fn open(&self, binding: Binding<'_>, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (&format, rest) = sealed.split_first()?;
        if format != FORMAT_V1 || rest.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = binding.associated_data();
        let payload = Payload { msg: ciphertext, aad: &aad };
        self.cipher.decrypt(Nonce::from_slice(nonce), payload).ok().map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(&MasterKey::generate().expect("random"))
    }

    fn cred<'a>(name: &'a str, version: i64) -> Binding<'a> {
        Binding::Credential { vault_id: "v1", name, version }
    }

    #[test]
    fn round_trip() {
        let s = sealer();
        let sealed = s.seal(cred("a", 1), b"sk-live-123").expect("seal");
        assert_eq!(s.open(cred("a", 1), &sealed).expect("open").as_slice(), b"sk-live-123");
        assert!(!sealed.windows(11).any(|w| w == b"sk-live-123"), "plaintext visible in blob");
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = sealer().seal(cred("a", 1), b"x").expect("seal");
        assert!(sealer().open(cred("a", 1), &sealed).is_none());
    }

    #[test]
    fn wrong_associated_data_fails() {
        let s = sealer();
        let sealed = s.seal(cred("a", 1), b"x").expect("seal");
        assert!(s.open(cred("b", 1), &sealed).is_none(), "other name");
        assert!(s.open(cred("a", 2), &sealed).is_none(), "other version");
        let other_vault = Binding::Credential { vault_id: "v2", name: "a", version: 1 };
        assert!(s.open(other_vault, &sealed).is_none(), "other vault");
        assert!(s.open(Binding::KeyCheck { vault_id: "v1" }, &sealed).is_none(), "other purpose");
        let config = |id| Binding::ClientConfig { vault_id: "v1", id, client: "cursor", path: "/h/.cursor/mcp.json" };
        let sealed = s.seal(config("a1"), b"{}").expect("seal");
        assert!(s.open(config("a1"), &sealed).is_some());
        assert!(s.open(config("a2"), &sealed).is_none(), "other row");
        let moved = Binding::ClientConfig { vault_id: "v1", id: "a1", client: "cursor", path: "/h/other.json" };
        assert!(s.open(moved, &sealed).is_none(), "other file");
    }

    #[test]
    fn every_flipped_byte_fails() {
        let s = sealer();
        let sealed = s.seal(cred("a", 1), b"secret value").expect("seal");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(s.open(cred("a", 1), &bad).is_none(), "flip at {i} opened");
        }
    }

    #[test]
    fn truncated_and_extended_fail() {
        let s = sealer();
        let sealed = s.seal(cred("a", 1), b"secret value").expect("seal");
        for len in 0..sealed.len() {
            assert!(s.open(cred("a", 1), &sealed[..len]).is_none(), "truncated to {len} opened");
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(s.open(cred("a", 1), &longer).is_none(), "trailing byte opened");
    }

    #[test]
    fn nonces_never_repeat() {
        let s = sealer();
        let nonces: HashSet<Vec<u8>> =
            (0..10_000).map(|_| s.seal(cred("a", 1), b"x").expect("seal")[1..1 + NONCE_LEN].to_vec()).collect();
        assert_eq!(nonces.len(), 10_000);
    }

    #[test]
    fn master_key_from_base64_checks_length() {
        assert!(MasterKey::from_base64(&STANDARD.encode([7u8; 32])).is_ok());
        let err = MasterKey::from_base64(&STANDARD.encode([7u8; 16])).expect_err("short key");
        assert!(err.contains("16 bytes"), "{err}");
        assert!(MasterKey::from_base64("not base64!!").is_err());
    }

    #[test]
    fn debug_never_shows_key() {
        let key = MasterKey::from_bytes(&[0xAB; 32]).expect("key");
        let shown = format!("{key:?} {:?}", Sealer::new(&key));
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
    }
}
