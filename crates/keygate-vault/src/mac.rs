//! Keys derived from the master key, and the MACs that authenticate rows. Nothing here is
//! stored: the keys are re-derived (HKDF-SHA256, one label each) every time a vault opens, so
//! someone who can write `vault.db` but lacks the master key cannot make a MAC that verifies.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rusqlite::types::ValueRef;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::seal::MasterKey;

type HmacSha256 = Hmac<Sha256>;

/// The length of every MAC stored in the vault.
pub(crate) const MAC_LEN: usize = 32;

/// HKDF labels; changing one invalidates every MAC made under it.
const ROWS_LABEL: &str = "keygate/v1 row-mac";
const AUDIT_LABEL: &str = "keygate/v1 audit-chain";
const ROTATION_LABEL: &str = "keygate/v1 rotation-log-chain";

/// The three sub-keys, each held as an HMAC state already keyed (cloning one is a copy, so
/// a MAC on the hot path costs only its message's compression blocks).
#[derive(Clone)]
pub(crate) struct Keys {
    pub rows: RowMac,
    pub audit: RowMac,
    pub rotation: RowMac,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

impl Keys {
    /// Derive the sub-keys of `master` for the vault `vault_id` (the salt).
    pub fn derive(master: &MasterKey, vault_id: &str) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(vault_id.as_bytes()), master.bytes());
        let key = |label: &str| {
            let mut okm = zeroize::Zeroizing::new([0u8; 32]);
            // 32 bytes is far below HKDF-SHA256's limit of 255 * 32; expand cannot fail.
            let _ = hkdf.expand(label.as_bytes(), okm.as_mut_slice());
            RowMac::new(okm.as_slice())
        };
        Self { rows: key(ROWS_LABEL), audit: key(AUDIT_LABEL), rotation: key(ROTATION_LABEL) }
    }
}

/// One keyed HMAC-SHA256.
#[derive(Clone)]
pub(crate) struct RowMac(HmacSha256);

impl RowMac {
    fn new(key: &[u8]) -> Self {
        // HMAC takes a key of any length; this cannot fail.
        Self(<HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length")))
    }

    /// Start a MAC of one record of kind `domain` (`token`, `audit`, ...).
    pub fn start(&self, domain: &str) -> MacWriter {
        let mut writer = MacWriter(self.0.clone());
        writer.text(domain);
        writer
    }
}

/// Where a [`MacWriter`]'s bytes go: the HMAC itself, or a copy of the message for
/// [`RowMac::verify_remembered`].
pub(crate) trait Sink {
    fn update(&mut self, bytes: &[u8]);
}

impl Sink for HmacSha256 {
    fn update(&mut self, bytes: &[u8]) {
        Mac::update(self, bytes);
    }
}

impl Sink for Vec<u8> {
    fn update(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Feeds fields into a MAC, each tagged and length-prefixed so no two records share bytes.
pub(crate) struct MacWriter<S = HmacSha256>(S);

impl<S: Sink> MacWriter<S> {
    /// A byte string.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(b"b");
        self.0.update(&(bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
        self
    }

    /// Text.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes())
    }

    /// An integer.
    pub fn int(&mut self, value: i64) -> &mut Self {
        self.0.update(b"i");
        self.0.update(&value.to_be_bytes());
        self
    }

    /// An absent value.
    pub fn null(&mut self) -> &mut Self {
        self.0.update(b"n");
        self
    }

    /// Optional text.
    pub fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(text) => self.text(text),
            None => self.null(),
        }
    }

    /// An optional integer.
    pub fn opt_int(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    /// A column as SQLite holds it, whatever its type (a changed type is a changed value).
    pub fn value(&mut self, value: ValueRef<'_>) -> &mut Self {
        match value {
            ValueRef::Null => self.null(),
            ValueRef::Integer(v) => self.int(v),
            ValueRef::Real(v) => {
                self.0.update(b"r");
                self.0.update(&v.to_be_bytes());
                self
            }
            ValueRef::Text(t) => self.bytes(t),
            ValueRef::Blob(b) => {
                self.0.update(b"B");
                self.0.update(&(b.len() as u64).to_be_bytes());
                self.0.update(b);
                self
            }
        }
    }
}

impl MacWriter {
    /// The MAC.
    pub fn finish(self) -> [u8; MAC_LEN] {
        self.0.finalize().into_bytes().into()
    }

    /// Whether `stored` is this MAC (constant time; a missing or short one never is).
    pub fn verify(self, stored: Option<&[u8]>) -> bool {
        let mac = self.finish();
        stored.is_some_and(|stored| bool::from(mac.as_slice().ct_eq(stored)))
    }
}

/// Messages whose stored MAC was verified, by that MAC, so a row read again unchanged is not
/// hashed again (on every call's path, the token check reads the same few rows over and
/// over). Any change to a row, by this process or another, changes its message or its MAC,
/// and it is verified afresh; so is any row once the memo is full and starts over. It holds
/// only what the vault file holds in clear.
#[derive(Debug, Default)]
pub(crate) struct VerifiedMacs(RefCell<Remembered>);

#[derive(Debug, Default)]
struct Remembered {
    messages: HashMap<[u8; MAC_LEN], Vec<u8>>,
    bytes: usize,
}

/// Rows remembered at most (a token's row is a few hundred bytes); an agent uses a handful
/// of tokens.
const MAX_REMEMBERED: usize = 4096;
/// Bytes of messages remembered at most: a pin's row holds a tool's whole definitions, which
/// a fronted server chooses.
const MAX_REMEMBERED_BYTES: usize = 1 << 20;

impl RowMac {
    /// Start the message of a record of kind `domain`, to verify with [`Self::verify_remembered`].
    pub fn message(&self, domain: &str) -> MacWriter<Vec<u8>> {
        let mut writer = MacWriter(Vec::with_capacity(256));
        writer.text(domain);
        writer
    }

    /// Whether `stored` is the MAC of `message` under this key, as [`MacWriter::verify`]
    /// answers, skipping the hashing when this exact message and MAC were verified before.
    pub fn verify_remembered(&self, message: MacWriter<Vec<u8>>, stored: Option<&[u8]>, memo: &VerifiedMacs) -> bool {
        let Some(stored) = stored.and_then(|stored| <[u8; MAC_LEN]>::try_from(stored).ok()) else { return false };
        let message = message.0;
        let mut remembered = memo.0.borrow_mut();
        if remembered.messages.get(&stored) == Some(&message) {
            return true;
        }
        let mut mac = self.0.clone();
        Mac::update(&mut mac, &message);
        let verified = MacWriter(mac).verify(Some(&stored));
        if verified && message.len() <= MAX_REMEMBERED_BYTES {
            if remembered.messages.len() >= MAX_REMEMBERED || remembered.bytes + message.len() > MAX_REMEMBERED_BYTES {
                *remembered = Remembered::default();
            }
            remembered.bytes += message.len();
            if let Some(replaced) = remembered.messages.insert(stored, message) {
                remembered.bytes -= replaced.len();
            }
        }
        verified
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_give_different_keys_and_fields_do_not_run_together() {
        let master = MasterKey::from_bytes(&[7u8; 32]).expect("key");
        let keys = Keys::derive(&master, "abcd");
        let mac = |k: &RowMac| k.start("x").text("ab").text("c").clone_finish();
        assert_ne!(mac(&keys.rows), mac(&keys.audit));
        assert_ne!(mac(&keys.audit), mac(&keys.rotation));
        let split = keys.rows.start("x").text("a").text("bc").clone_finish();
        assert_ne!(mac(&keys.rows), split);
        let other_vault = Keys::derive(&master, "abce");
        assert_ne!(mac(&keys.rows), mac(&other_vault.rows));
        assert!(keys.rows.start("x").int(1).clone().verify(Some(&keys.rows.start("x").int(1).clone_finish())));
        assert!(!keys.rows.start("x").int(1).clone().verify(None));
    }

    #[test]
    fn a_remembered_verification_answers_as_a_fresh_one() {
        let keys = Keys::derive(&MasterKey::from_bytes(&[7u8; 32]).expect("key"), "abcd");
        let key = &keys.rows;
        let memo = VerifiedMacs::default();
        let message = |text: &str| {
            let mut writer = key.message("token");
            writer.text(text).int(1);
            writer
        };
        let good = key.start("token").text("row").int(1).clone_finish();
        for _ in 0..2 {
            assert!(key.verify_remembered(message("row"), Some(&good), &memo));
        }
        assert_eq!(memo.0.borrow().messages.len(), 1, "verified once, then remembered");
        // A changed row, a changed or truncated MAC, or none: never verified, never remembered.
        assert!(!key.verify_remembered(message("rox"), Some(&good), &memo));
        let mut flipped = good;
        flipped[31] ^= 1;
        assert!(!key.verify_remembered(message("row"), Some(&flipped), &memo));
        assert!(!key.verify_remembered(message("row"), Some(&good[..31]), &memo));
        assert!(!key.verify_remembered(message("row"), None, &memo));
        assert_eq!(memo.0.borrow().messages.len(), 1);
        // Another key's MAC of the same message does not verify under this one.
        let other = keys.audit.start("token").text("row").int(1).clone_finish();
        assert!(!key.verify_remembered(message("row"), Some(&other), &memo));
    }

    #[test]
    fn the_memo_starts_over_when_full() {
        let keys = Keys::derive(&MasterKey::from_bytes(&[7u8; 32]).expect("key"), "abcd");
        let memo = VerifiedMacs::default();
        for i in 0..=MAX_REMEMBERED as i64 {
            let mut message = keys.rows.message("token");
            message.int(i);
            let mac = keys.rows.start("token").int(i).clone_finish();
            assert!(keys.rows.verify_remembered(message, Some(&mac), &memo));
        }
        assert_eq!(memo.0.borrow().messages.len(), 1, "the full memo was not emptied");
    }

    #[test]
    fn the_memo_holds_a_bounded_number_of_bytes() {
        let keys = Keys::derive(&MasterKey::from_bytes(&[7u8; 32]).expect("key"), "abcd");
        let memo = VerifiedMacs::default();
        let definition = "d".repeat(100_000);
        for i in 0..30i64 {
            let mut message = keys.rows.message("tool_pin");
            message.int(i).text(&definition);
            let mac = keys.rows.start("tool_pin").int(i).text(&definition).clone_finish();
            assert!(keys.rows.verify_remembered(message, Some(&mac), &memo));
            assert!(memo.0.borrow().bytes <= MAX_REMEMBERED_BYTES);
        }
        let too_big = "d".repeat(MAX_REMEMBERED_BYTES + 1);
        let mut message = keys.rows.message("tool_pin");
        message.text(&too_big);
        let mac = keys.rows.start("tool_pin").text(&too_big).clone_finish();
        assert!(keys.rows.verify_remembered(message, Some(&mac), &memo), "verified, just not remembered");
        let remembered = memo.0.borrow();
        assert!(remembered.messages.values().all(|m| m.len() < MAX_REMEMBERED_BYTES));
        assert_eq!(remembered.bytes, remembered.messages.values().map(Vec::len).sum::<usize>());
    }

    impl MacWriter {
        fn clone_finish(&mut self) -> [u8; MAC_LEN] {
            self.clone().finish()
        }
        fn clone(&self) -> Self {
            Self(self.0.clone())
        }
    }
}
