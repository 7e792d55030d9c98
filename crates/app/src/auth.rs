//! Admin authentication: argon2id password hashes, HS256 tokens, and the login
//! rate limiter (per IP and per username).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Mutex;

pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Refuses passwords an attacker would try first.
pub fn check_password_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < 8 {
        return Err("must be at least 8 characters".into());
    }
    if password.len() > 256 {
        return Err("must be at most 256 characters".into());
    }
    let lower = password.to_ascii_lowercase();
    if ["password", "12345678", "admin123", "qwertyui", "changeme"].iter().any(|w| lower.starts_with(w)) {
        return Err("is too easy to guess".into());
    }
    Ok(())
}

/// A random password of letters and digits without look-alikes (0/O, 1/l/I).
pub fn random_password(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Admin id.
    pub sub: i64,
    pub usr: String,
    /// The admin's session epoch at issue; a password change or deactivation bumps it.
    pub epoch: i64,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad token signature")]
    Signature,
    #[error("token expired")]
    Expired,
}

/// Signs and checks HS256 JSON Web Tokens with JWT_SECRET.
#[derive(Clone)]
pub struct TokenKey {
    secret: Vec<u8>,
    pub lifetime: Duration,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey").field("secret", &"****").field("lifetime", &self.lifetime).finish()
    }
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

impl TokenKey {
    pub fn new(secret: &[u8], lifetime: Duration) -> Self {
        TokenKey { secret: secret.to_vec(), lifetime }
    }

    /// A stable secret for `label`, derived from the signing key (e.g. the path token
    /// of the unsigned C2B callback URLs).
    pub fn derive(&self, label: &str) -> String {
        let mut mac = self.mac();
        mac.update(b"broadnet-derive:");
        mac.update(label.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..12])
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!())
    }

    pub fn issue(&self, admin_id: i64, username: &str, epoch: i64, now: DateTime<Utc>) -> (String, Claims) {
        let mut jti = [0u8; 16];
        rand::thread_rng().fill(&mut jti);
        let claims = Claims {
            sub: admin_id,
            usr: username.to_string(),
            epoch,
            iat: now.timestamp(),
            exp: (now + self.lifetime).timestamp(),
            jti: hex::encode(jti),
        };
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let signing_input = format!("{}.{}", B64.encode(HEADER), B64.encode(payload));
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        (format!("{signing_input}.{sig}"), claims)
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        let header: serde_json::Value = serde_json::from_slice(&B64.decode(h).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
        // Only HS256: never let the token choose "none" or another algorithm.
        if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return Err(TokenError::Malformed);
        }
        let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(p.as_bytes());
        mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
        let claims: Claims = serde_json::from_slice(&B64.decode(p).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Limits for the login rate limiter.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    pub window: Duration,
    /// Failed attempts per username within the window.
    pub per_username: u32,
    /// Attempts (failed or not) per client IP within the window.
    pub per_ip: u32,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits { window: Duration::minutes(15), per_username: 5, per_ip: 20 }
    }
}

/// Counts login attempts in fixed windows, in memory. Each node counts its own; with
/// several nodes behind a balancer the limit per node still stops brute force.
pub struct LoginLimiter {
    limits: LoginLimits,
    state: Mutex<HashMap<String, (DateTime<Utc>, u32)>>,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        LoginLimiter { limits, state: Mutex::new(HashMap::new()) }
    }

    fn seconds_blocked(&self, key: &str, limit: u32, now: DateTime<Utc>) -> Option<u64> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.get(key) {
            Some((start, n)) if *n >= limit && now < *start + self.limits.window => {
                Some((*start + self.limits.window - now).num_seconds().max(1) as u64)
            }
            _ => None,
        }
    }

    fn bump(&self, key: String, now: DateTime<Utc>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.len() > 100_000 {
            let window = self.limits.window;
            state.retain(|_, (start, _)| now < *start + window);
        }
        let entry = state.entry(key).or_insert((now, 0));
        if now >= entry.0 + self.limits.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    /// Called before checking a password: counts the attempt against the IP and says
    /// how long to wait if either limit is reached.
    pub fn check(&self, ip: &str, username: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let ip_key = format!("ip:{ip}");
        let user_key = format!("user:{}", username.to_ascii_lowercase());
        if let Some(s) = self.seconds_blocked(&ip_key, self.limits.per_ip, now) {
            return Err(s);
        }
        if let Some(s) = self.seconds_blocked(&user_key, self.limits.per_username, now) {
            return Err(s);
        }
        self.bump(ip_key, now);
        Ok(())
    }

    pub fn failed(&self, username: &str, now: DateTime<Utc>) {
        self.bump(format!("user:{}", username.to_ascii_lowercase()), now);
    }

    pub fn succeeded(&self, username: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.remove(&format!("user:{}", username.to_ascii_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let key = TokenKey::new(b"0123456789abcdef0123456789abcdef", Duration::days(7));
        let (tok, claims) = key.issue(7, "alice", 0, t0());
        assert_eq!(key.verify(&tok, t0()).unwrap(), claims);
        assert_eq!(key.verify(&tok, t0() + Duration::days(7)), Err(TokenError::Expired));
        let other = TokenKey::new(b"another secret of enough length!", Duration::days(7));
        assert_eq!(other.verify(&tok, t0()), Err(TokenError::Signature));
        let mut parts: Vec<&str> = tok.split('.').collect();
        let forged_payload = B64.encode(br#"{"sub":1,"usr":"root","iat":0,"exp":9999999999,"jti":"x"}"#);
        parts[1] = &forged_payload;
        assert_eq!(key.verify(&parts.join("."), t0()), Err(TokenError::Signature));
        let none_header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let p: Vec<&str> = tok.split('.').collect();
        assert_eq!(key.verify(&format!("{none_header}.{}.", p[1]), t0()), Err(TokenError::Malformed));
        assert_eq!(key.verify("garbage", t0()), Err(TokenError::Malformed));
    }

    #[test]
    fn limiter_blocks_per_username_and_per_ip() {
        let l = LoginLimiter::new(LoginLimits { window: Duration::minutes(15), per_username: 3, per_ip: 5 });
        let now = t0();
        for _ in 0..3 {
            assert!(l.check("1.1.1.1", "bob", now).is_ok());
            l.failed("bob", now);
        }
        let wait = l.check("2.2.2.2", "BOB", now).unwrap_err();
        assert_eq!(wait, 900);
        assert!(l.check("1.1.1.1", "carol", now).is_ok());
        assert!(l.check("1.1.1.1", "dave", now).is_ok());
        assert!(l.check("1.1.1.1", "erin", now).is_err(), "sixth attempt from one IP");
        assert!(l.check("3.3.3.3", "bob", now + Duration::minutes(16)).is_ok());
    }

    #[test]
    fn password_rules() {
        assert!(check_password_strength("short").is_err());
        assert!(check_password_strength("password123").is_err());
        assert!(check_password_strength("tY7#kq9!pz").is_ok());
        assert_eq!(random_password(20).len(), 20);
    }
}
