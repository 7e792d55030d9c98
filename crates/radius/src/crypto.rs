//! User-Password hiding (RFC 2865 §5.2), CHAP (RFC 1994, RFC 2865 §5.3) and the
//! salted cipher of MS-MPPE-Send/Recv-Key (RFC 2548 §2.4.2).

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("hidden value must be 16 to 128 octets in whole 16-octet blocks")]
    BadLength,
    #[error("value too long to hide (at most 128 octets for a password, 239 for a key)")]
    TooLong,
    #[error("decrypted key length is inconsistent (wrong shared secret?)")]
    BadKey,
}

fn md5_2(a: &[u8], b: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(a);
    h.update(b);
    h.finalize().into()
}

fn md5_3(a: &[u8], b: &[u8], c: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(a);
    h.update(b);
    h.update(c);
    h.finalize().into()
}

/// The chained MD5 stream cipher shared by User-Password and the MPPE keys:
/// first block keyed by `first` (MD5 of secret ‖ authenticator [‖ salt]), then
/// each block by MD5(secret ‖ previous ciphertext block).
fn chain(data: &[u8], secret: &[u8], first: [u8; 16], encrypt: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut key = first;
    for block in data.chunks(16) {
        let start = out.len();
        for (i, b) in block.iter().enumerate() {
            out.push(b ^ key[i]);
        }
        let cipher_block = if encrypt { &out[start..] } else { block };
        key = md5_2(secret, cipher_block);
    }
    out
}

/// Hides a User-Password (also MS-CHAP-MPPE-Keys): padded with NULs to 16-octet blocks.
pub fn hide_password(password: &[u8], secret: &[u8], request_authenticator: &[u8; 16]) -> Result<Vec<u8>, CipherError> {
    if password.len() > 128 {
        return Err(CipherError::TooLong);
    }
    let mut padded = password.to_vec();
    let blocks = padded.len().div_ceil(16).max(1);
    padded.resize(blocks * 16, 0);
    Ok(chain(&padded, secret, md5_2(secret, request_authenticator), true))
}

/// Reveals a User-Password, trailing NULs removed.
pub fn unhide_password(hidden: &[u8], secret: &[u8], request_authenticator: &[u8; 16]) -> Result<Vec<u8>, CipherError> {
    if hidden.is_empty() || hidden.len() > 128 || !hidden.len().is_multiple_of(16) {
        return Err(CipherError::BadLength);
    }
    let mut plain = chain(hidden, secret, md5_2(secret, request_authenticator), false);
    while plain.last() == Some(&0) {
        plain.pop();
    }
    Ok(plain)
}

/// Reveals a hidden value without stripping anything (MS-CHAP-MPPE-Keys).
pub fn unhide_raw(hidden: &[u8], secret: &[u8], request_authenticator: &[u8; 16]) -> Result<Vec<u8>, CipherError> {
    if hidden.is_empty() || !hidden.len().is_multiple_of(16) {
        return Err(CipherError::BadLength);
    }
    Ok(chain(hidden, secret, md5_2(secret, request_authenticator), false))
}

/// CHAP response: MD5(ident ‖ password ‖ challenge).
pub fn chap_response(ident: u8, password: &[u8], challenge: &[u8]) -> [u8; 16] {
    md5_3(&[ident], password, challenge)
}

/// Checks a CHAP-Password value (ident ‖ 16-octet response) in constant time.
pub fn chap_verify(chap_password: &[u8], challenge: &[u8], password: &[u8]) -> bool {
    if chap_password.len() != 17 {
        return false;
    }
    let expect = chap_response(chap_password[0], password, challenge);
    bool::from(expect.ct_eq(&chap_password[1..]))
}

/// MS-MPPE-Send/Recv-Key value: salt ‖ encrypted(len ‖ key ‖ padding).
/// The salt's high bit must be set and each salt in a packet must differ.
pub fn salt_encrypt(
    key: &[u8],
    secret: &[u8],
    request_authenticator: &[u8; 16],
    salt: [u8; 2],
) -> Result<Vec<u8>, CipherError> {
    if key.len() > 239 {
        return Err(CipherError::TooLong);
    }
    let salt = [salt[0] | 0x80, salt[1]];
    let mut p = Vec::with_capacity(key.len() + 16);
    p.push(key.len() as u8);
    p.extend_from_slice(key);
    let blocks = p.len().div_ceil(16);
    p.resize(blocks * 16, 0);
    let mut out = salt.to_vec();
    out.extend(chain(&p, secret, md5_3(secret, request_authenticator, &salt), true));
    Ok(out)
}

/// Reverses [`salt_encrypt`].
pub fn salt_decrypt(value: &[u8], secret: &[u8], request_authenticator: &[u8; 16]) -> Result<Vec<u8>, CipherError> {
    if value.len() < 18 || !(value.len() - 2).is_multiple_of(16) {
        return Err(CipherError::BadLength);
    }
    let (salt, body) = value.split_at(2);
    let plain = chain(body, secret, md5_3(secret, request_authenticator, salt), false);
    let len = plain[0] as usize;
    if len + 1 > plain.len() {
        return Err(CipherError::BadKey);
    }
    Ok(plain[1..=len].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    const SECRET: &[u8] = b"testing123";

    fn ra() -> [u8; 16] {
        std::array::from_fn(|i| i as u8)
    }

    #[test]
    fn user_password_vectors() {
        let hidden = hide_password(b"hello", SECRET, &ra()).unwrap();
        assert_eq!(hidden, h("fe8b65a61bfd7a1a104607240014828b"));
        assert_eq!(unhide_password(&hidden, SECRET, &ra()).unwrap(), b"hello");
        let hidden = hide_password(b"correct horse battery", SECRET, &ra()).unwrap();
        assert_eq!(hidden, h("f5817bb8119e0e3a782975576534e0ea7f1fcca02b5b95a136db4829fdfb22ce"));
        assert_eq!(unhide_password(&hidden, SECRET, &ra()).unwrap(), b"correct horse battery");
        assert_ne!(unhide_password(&hidden, b"other", &ra()).unwrap(), b"correct horse battery");
        assert_eq!(hide_password(b"", SECRET, &ra()).unwrap().len(), 16);
        assert_eq!(hide_password(&[b'x'; 129], SECRET, &ra()), Err(CipherError::TooLong));
        assert_eq!(unhide_password(&[0; 15], SECRET, &ra()), Err(CipherError::BadLength));
        assert_eq!(unhide_password(&[], SECRET, &ra()), Err(CipherError::BadLength));
    }

    #[test]
    fn chap_vectors() {
        assert_eq!(chap_response(7, b"hello", &ra()).to_vec(), h("5694f06ba6105ba5775fe81fab295965"));
        let challenge = h("0f0e0d0c0b0a09080706050403020100");
        assert_eq!(chap_response(7, b"hello", &challenge).to_vec(), h("d4de9ac3407cb72de95f601797b91377"));
        let mut value = vec![7];
        value.extend(h("5694f06ba6105ba5775fe81fab295965"));
        assert!(chap_verify(&value, &ra(), b"hello"));
        assert!(!chap_verify(&value, &ra(), b"hellO"));
        assert!(!chap_verify(&value[..16], &ra(), b"hello"));
    }

    #[test]
    fn mppe_salt_vectors() {
        let send = h("8B7CDC149B993A1BA118CB153F56DCCB");
        let recv = h("D5F0E9521E3EA9589645E86051C82226");
        let s = salt_encrypt(&send, SECRET, &ra(), [0x80, 0x01]).unwrap();
        assert_eq!(s, h("8001222f78911e81bc02d486a8a0a785432f23e948690cf7b68255e9483cdb57bb05"));
        let r = salt_encrypt(&recv, SECRET, &ra(), [0x80, 0x02]).unwrap();
        assert_eq!(r, h("8002079eced7be05a21b6a76b65390a2fa26897891980ea648fb09e7e96fef919a30"));
        assert_eq!(salt_decrypt(&s, SECRET, &ra()).unwrap(), send);
        assert_eq!(salt_decrypt(&r, SECRET, &ra()).unwrap(), recv);
        assert_eq!(salt_decrypt(&s[..17], SECRET, &ra()), Err(CipherError::BadLength));
    }
}
