//! Encryption at rest for secrets kept in the database (provider keys, router API
//! passwords): XChaCha20-Poly1305 with a random nonce per value.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "enc:v1:";

#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    /// Keys that encrypted values before a key change (the key once derived from
    /// JWT_SECRET): read, never written; see [`SecretBox::reencrypt`].
    previous: Vec<XChaCha20Poly1305>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(****)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("value is not an encrypted secret")]
    NotEncrypted,
    #[error("secret cannot be decrypted with this key (was ENCRYPTION_KEY or JWT_SECRET changed?)")]
    WrongKey,
}

impl SecretBox {
    /// From any key material: 64 hex digits are used as they are; anything else is
    /// hashed with a domain label so the same text never serves two purposes raw.
    pub fn from_key_material(material: &str) -> Self {
        let key: [u8; 32] = match hex::decode(material.trim()) {
            Ok(bytes) if bytes.len() == 32 => {
                let mut k = [0u8; 32];
                k.copy_from_slice(&bytes);
                k
            }
            _ => {
                Sha256::new().chain_update(b"broadnet-secrets-v1:").chain_update(material.as_bytes()).finalize().into()
            }
        };
        SecretBox { cipher: XChaCha20Poly1305::new(&key.into()), previous: Vec::new() }
    }

    /// Also reads values encrypted under `material` (an earlier key).
    pub fn with_previous(mut self, material: &str) -> Self {
        let old = SecretBox::from_key_material(material);
        self.previous.push(old.cipher);
        self
    }

    /// `Some(new value)` when `stored` was encrypted under a previous key: the same
    /// secret, encrypted under the current one. `None` when it is current already.
    pub fn reencrypt(&self, stored: &str) -> Result<Option<String>, CryptoError> {
        let (nonce, ct) = split(stored)?;
        if self.cipher.decrypt(&XNonce::from(nonce), ct.as_slice()).is_ok() {
            return Ok(None);
        }
        let plain = self.decrypt(stored)?;
        Ok(Some(self.encrypt(&plain)))
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce length cannot fail.
        let ct = self.cipher.encrypt(&XNonce::from(nonce), plaintext.as_bytes()).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{PREFIX}{}", B64.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, CryptoError> {
        let (nonce, ct) = split(stored)?;
        let nonce = XNonce::from(nonce);
        let pt = std::iter::once(&self.cipher)
            .chain(&self.previous)
            .find_map(|c| c.decrypt(&nonce, ct.as_slice()).ok())
            .ok_or(CryptoError::WrongKey)?;
        String::from_utf8(pt).map_err(|_| CryptoError::WrongKey)
    }
}

/// A stored value's nonce and ciphertext.
fn split(stored: &str) -> Result<([u8; 24], Vec<u8>), CryptoError> {
    let b64 = stored.strip_prefix(PREFIX).ok_or(CryptoError::NotEncrypted)?;
    let raw = B64.decode(b64).map_err(|_| CryptoError::NotEncrypted)?;
    if raw.len() < 24 + 16 {
        return Err(CryptoError::NotEncrypted);
    }
    let (nonce, ct) = raw.split_at(24);
    let nonce: [u8; 24] = nonce.try_into().map_err(|_| CryptoError::NotEncrypted)?;
    Ok((nonce, ct.to_vec()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_with_fresh_nonces() {
        let b = SecretBox::from_key_material("some jwt secret");
        let a = b.encrypt("Ku0dqAdnz");
        let c = b.encrypt("Ku0dqAdnz");
        assert_ne!(a, c);
        assert!(!a.contains("Ku0dqAdnz"));
        assert_eq!(b.decrypt(&a).unwrap(), "Ku0dqAdnz");
        let other = SecretBox::from_key_material(&"ab".repeat(32));
        assert_eq!(other.decrypt(&a), Err(CryptoError::WrongKey));
        assert_eq!(b.decrypt("plain"), Err(CryptoError::NotEncrypted));
        assert_eq!(b.decrypt("enc:v1:AAAA"), Err(CryptoError::NotEncrypted));
    }

    #[test]
    fn a_new_key_reads_old_values_and_reencrypts_them() {
        let old = SecretBox::from_key_material("the jwt secret of an older install");
        let stored = old.encrypt("paybill-passkey");
        let new = SecretBox::from_key_material(&"cd".repeat(32)).with_previous("the jwt secret of an older install");
        assert_eq!(new.decrypt(&stored).unwrap(), "paybill-passkey");
        let moved = new.reencrypt(&stored).unwrap().unwrap();
        assert_eq!(SecretBox::from_key_material(&"cd".repeat(32)).decrypt(&moved).unwrap(), "paybill-passkey");
        assert_eq!(new.reencrypt(&moved).unwrap(), None, "already under the current key");
        assert_eq!(old.decrypt(&moved), Err(CryptoError::WrongKey));
    }
}
