//! Admin authentication: argon2id password hashes, HS256 tokens, and the login
//! rate limiter (per IP and per username).

use crate::{AppError, AppResult};
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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Runs argon2 (19 MiB and tens of milliseconds of CPU per call) on tokio's
/// blocking pool, at most `slots` at a time, so a burst of logins can neither stall
/// the async workers that also answer RADIUS and `/health`, nor pile up threads
/// and memory: past `max_waiting` queued checks the caller is told to come back
/// (`AppError::Busy`) at once.
pub struct PasswordWork {
    slots: Arc<Semaphore>,
    max_waiting: usize,
    waiting: AtomicUsize,
}

/// Decrements the waiting count however the wait ends (including the request
/// being dropped when its client goes away).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordWork {
    pub fn new(slots: usize, max_waiting: usize) -> Self {
        PasswordWork { slots: Arc::new(Semaphore::new(slots.max(1))), max_waiting, waiting: AtomicUsize::new(0) }
    }

    /// One slot per core: argon2 is pure CPU, more in parallel only adds memory.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        PasswordWork::new(cores, 16 * cores)
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let _waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            return Err(AppError::Busy("too many password checks at once; try again in a moment"));
        }
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AppError::Internal("password worker closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| AppError::Internal(format!("password worker failed: {e}")))
    }

    pub async fn verify(&self, password: &str, hash: &str) -> AppResult<bool> {
        let (password, hash) = (password.to_string(), hash.to_string());
        self.run(move || verify_password(&password, &hash)).await
    }

    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let password = password.to_string();
        self.run(move || hash_password(&password))
            .await?
            .map_err(|e| AppError::Internal(format!("password hashing: {e}")))
    }
}

/// Refuses passwords an attacker would try first.
pub fn check_password_strength(password: &str) -> Result<(), broadnet_domain::ParseError> {
    use broadnet_domain::ParseError;
    if password.chars().count() < 8 {
        return Err(ParseError::new("must be at least 8 characters"));
    }
    if password.len() > 256 {
        return Err(ParseError::new("must be at most 256 characters"));
    }
    let lower = password.to_ascii_lowercase();
    if ["password", "12345678", "admin123", "qwertyui", "changeme"].iter().any(|w| lower.starts_with(w)) {
        return Err(ParseError::new("is too easy to guess"));
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

    /// The CSRF token of one session: stateless (any node can check it), new at each
    /// login, dead with the session (its jti is revoked at logout).
    pub fn csrf(&self, jti: &str) -> String {
        let mut mac = self.mac();
        mac.update(b"broadnet-csrf:");
        mac.update(jti.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The login form's proof for its nonce cookie (double submit: there is no
    /// session yet to tie a token to).
    pub fn login_proof(&self, nonce: &str) -> String {
        let mut mac = self.mac();
        mac.update(b"broadnet-login:");
        mac.update(nonce.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// An HMAC of `msg` under `label`, hex (for values a browser keeps and gives
    /// back: the portal's cookies and its forms' proofs).
    pub fn sign(&self, label: &str, msg: &str) -> String {
        let mut mac = self.mac();
        mac.update(b"broadnet-sign:");
        mac.update(label.as_bytes());
        mac.update(b"\0");
        mac.update(msg.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
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
    /// Failed attempts for one username from one client IP within the window; then
    /// that client may not try that username again until the window ends.
    pub per_username: u32,
    /// Attempts (failed or not) per client IP within the window.
    pub per_ip: u32,
    /// Unsuccessful attempts for one username from all clients within the window
    /// after which that username is slowed down: one attempt per short, growing
    /// delay. Not a lock, so nobody on the internet can shut the real admin out.
    pub slowdown_after: u32,
    /// The longest delay the slowdown imposes between two attempts.
    pub max_delay: Duration,
    /// How long an address the user has logged in from stays exempt from that
    /// user's slowdown (its own per-address limit still applies).
    pub remember_success: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            window: Duration::minutes(15),
            per_username: 5,
            per_ip: 20,
            slowdown_after: 10,
            max_delay: Duration::seconds(8),
            remember_success: Duration::days(30),
        }
    }
}

/// Admin usernames as the limiter and the lookup see them: surrounding white space
/// dropped and case folded, so `" root"`, `"ROOT"` and `"root"` are one account and
/// one counter. The store indexes the same key (`broadnet_store::admin_username_key`).
pub fn login_key(username: &str) -> String {
    broadnet_store::admin_username_key(username)
}

/// Fixed-window counters, the slowdown's next free slot per username, and the
/// (username, address) pairs that logged in successfully.
#[derive(Default)]
struct LimiterState {
    counts: HashMap<String, (DateTime<Utc>, u32)>,
    next_slot: HashMap<String, DateTime<Utc>>,
    good: HashMap<String, DateTime<Utc>>,
}

/// Entries kept before expired ones are swept; bounds memory under a spray of
/// usernames or (IPv6) addresses.
const LIMITER_SWEEP_AT: usize = 100_000;

/// Counts login attempts in fixed windows, in memory. Each node counts its own; with
/// several nodes behind a balancer the limit per node still stops brute force.
///
/// Three rules, all keyed on [`login_key`]:
/// - per client IP: `per_ip` attempts per window (hard);
/// - per (username, client IP): `per_username` failures per window (hard), so an
///   attacker's address is locked out of that account without locking anyone else;
/// - per username, from every address: after `slowdown_after` unsuccessful attempts
///   each further attempt needs a free slot, 1, 2, 4… up to `max_delay` seconds
///   after the previous one; a refused attempt is told to retry in a few seconds.
///   Addresses the user logged in from before skip the slowdown.
pub struct LoginLimiter {
    limits: LoginLimits,
    state: Mutex<LimiterState>,
}

/// An IPv6 client usually holds a whole /64: it is one client to the limiter.
fn ip_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => format!("ip:{}", v6.to_canonical()),
        _ => format!("ip:{ip}"),
    }
}

fn user_key(user: &str) -> String {
    format!("user:{user}")
}

fn pair_key(user: &str, ip: &str) -> String {
    format!("pair:{user}\u{0}{ip}")
}

fn ceil_secs(d: Duration) -> u64 {
    let ms = d.num_milliseconds().max(1);
    ((ms + 999) / 1000) as u64
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        LoginLimiter { limits, state: Mutex::new(LimiterState::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, st: &LimiterState, key: &str, now: DateTime<Utc>) -> u32 {
        match st.counts.get(key) {
            Some((start, n)) if now < *start + self.limits.window => *n,
            _ => 0,
        }
    }

    fn seconds_blocked(&self, st: &LimiterState, key: &str, limit: u32, now: DateTime<Utc>) -> Option<u64> {
        match st.counts.get(key) {
            Some((start, n)) if *n >= limit && now < *start + self.limits.window => {
                Some(ceil_secs(*start + self.limits.window - now))
            }
            _ => None,
        }
    }

    fn bump(&self, st: &mut LimiterState, key: String, now: DateTime<Utc>) {
        let window = self.limits.window;
        if st.counts.len() > LIMITER_SWEEP_AT {
            st.counts.retain(|_, (start, _)| now < *start + window);
        }
        let entry = st.counts.entry(key).or_insert((now, 0));
        if now >= entry.0 + window {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    /// The slowdown's delay after `n` unsuccessful attempts.
    fn delay(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(self.limits.slowdown_after).min(16);
        Duration::seconds(1i64 << doublings).min(self.limits.max_delay)
    }

    /// Called before checking a password, with the username already passed through
    /// [`login_key`]: counts the attempt and says how many seconds to wait if a
    /// limit applies.
    pub fn check(&self, ip: &str, user: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let mut st = self.lock();
        let (ip_k, user_k, pair_k) = (ip_key(ip), user_key(user), pair_key(user, ip));
        if let Some(s) = self.seconds_blocked(&st, &ip_k, self.limits.per_ip, now) {
            return Err(s);
        }
        if let Some(s) = self.seconds_blocked(&st, &pair_k, self.limits.per_username, now) {
            return Err(s);
        }
        let known = st.good.get(&pair_k).is_some_and(|at| now < *at + self.limits.remember_success);
        let n = self.count(&st, &user_k, now);
        if !known && n >= self.limits.slowdown_after {
            if let Some(slot) = st.next_slot.get(&user_k)
                && now < *slot
            {
                return Err(ceil_secs(*slot - now));
            }
            if st.next_slot.len() > LIMITER_SWEEP_AT {
                st.next_slot.retain(|_, slot| now < *slot);
            }
            // Taken now, not when the password turns out wrong, so a burst of
            // parallel attempts gets one slot, not one each.
            st.next_slot.insert(user_k.clone(), now + self.delay(n));
        }
        self.bump(&mut st, ip_k, now);
        // Unsuccessful until it succeeds: parallel attempts count at once.
        self.bump(&mut st, user_k, now);
        Ok(())
    }

    /// An attempt that [`LoginLimiter::check`] let through but whose password was never
    /// checked (the server was too busy): it does not count against anyone, or a flood
    /// would use up the real admin's own attempts while they retry.
    pub fn not_checked(&self, ip: &str, user: &str, now: DateTime<Utc>) {
        let mut st = self.lock();
        let window = self.limits.window;
        for key in [ip_key(ip), user_key(user)] {
            if let Some((start, n)) = st.counts.get_mut(&key)
                && now < *start + window
            {
                *n = n.saturating_sub(1);
            }
        }
    }

    pub fn failed(&self, ip: &str, user: &str, now: DateTime<Utc>) {
        let mut st = self.lock();
        self.bump(&mut st, pair_key(user, ip), now);
    }

    pub fn succeeded(&self, ip: &str, user: &str, now: DateTime<Utc>) {
        let mut st = self.lock();
        let pair_k = pair_key(user, ip);
        st.counts.remove(&pair_k);
        if let Some((_, n)) = st.counts.get_mut(&user_key(user)) {
            *n = n.saturating_sub(1);
        }
        if st.good.len() > LIMITER_SWEEP_AT {
            let keep = self.limits.remember_success;
            st.good.retain(|_, at| now < *at + keep);
        }
        st.good.insert(pair_k, now);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn busy_answers_do_not_count_and_an_ipv6_client_is_its_64() {
        let l = LoginLimiter::new(LoginLimits::default());
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        // Retrying through a flood (503 Busy each time) uses up nothing.
        for _ in 0..100 {
            assert!(l.check("198.51.100.5", "root", now).is_ok());
            l.not_checked("198.51.100.5", "root", now);
        }
        assert!(l.check("198.51.100.5", "root", now).is_ok());
        // Addresses inside one /64 share the per-address limit.
        let mut limited = false;
        for i in 0..40 {
            limited |= l.check(&format!("2001:db8:5:6::{i:x}"), &format!("u{i}"), now).is_err();
        }
        assert!(limited, "rotating addresses inside a /64 is one client");
        assert_eq!(ip_key("2001:db8:5:6::1"), ip_key("2001:db8:5:6:ffff::9"));
        assert_ne!(ip_key("2001:db8:5:6::1"), ip_key("2001:db8:5:7::1"));
        assert_eq!(ip_key("::ffff:10.0.0.1"), "ip:10.0.0.1");
    }

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
    fn csrf_tokens_belong_to_one_session_and_one_key() {
        let key = TokenKey::new(b"0123456789abcdef0123456789abcdef", Duration::days(7));
        let other = TokenKey::new(b"another secret of enough length!", Duration::days(7));
        assert_eq!(key.csrf("jti-1"), key.csrf("jti-1"));
        assert_eq!(key.csrf("jti-1").len(), 32);
        assert_ne!(key.csrf("jti-1"), key.csrf("jti-2"));
        assert_ne!(key.csrf("jti-1"), other.csrf("jti-1"));
        assert_ne!(key.csrf("jti-1"), key.derive("jti-1"));
        assert_ne!(key.csrf("n"), key.login_proof("n"), "the labels keep the two apart");
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

    fn limits() -> LoginLimits {
        LoginLimits { per_username: 3, per_ip: 5, slowdown_after: 6, ..LoginLimits::default() }
    }

    #[test]
    fn limiter_locks_a_username_per_address_and_limits_each_address() {
        let l = LoginLimiter::new(limits());
        let now = t0();
        for _ in 0..3 {
            assert!(l.check("1.1.1.1", "bob", now).is_ok());
            l.failed("1.1.1.1", "bob", now);
        }
        assert_eq!(l.check("1.1.1.1", "bob", now), Err(900), "this address is locked out of bob");
        assert!(l.check("2.2.2.2", "bob", now).is_ok(), "bob from elsewhere is not");
        assert!(l.check("1.1.1.1", "carol", now).is_ok());
        assert!(l.check("1.1.1.1", "dave", now).is_ok());
        assert!(l.check("1.1.1.1", "erin", now).is_err(), "sixth attempt from one IP");
        assert!(l.check("1.1.1.1", "bob", now + Duration::minutes(16)).is_ok());
    }

    #[test]
    fn padded_and_case_variants_share_one_key() {
        for v in [" root", "root ", "\troot", "ROOT", "Root\n", "\u{a0}root"] {
            assert_eq!(login_key(v), "root", "{v:?}");
        }
        let l = LoginLimiter::new(limits());
        for v in [" root", "root ", "\troot"] {
            assert!(l.check("1.1.1.1", &login_key(v), t0()).is_ok());
            l.failed("1.1.1.1", &login_key(v), t0());
        }
        assert!(l.check("1.1.1.1", &login_key("ROOT"), t0()).is_err());
    }

    #[test]
    fn many_addresses_slow_a_username_down_but_never_lock_its_owner_out() {
        let l = LoginLimiter::new(limits());
        let now = t0();
        // The owner logs in from home once.
        assert!(l.check("10.0.0.1", "root", now).is_ok());
        l.succeeded("10.0.0.1", "root", now);
        // Six addresses, one wrong guess each: no address reaches its own limit.
        for i in 0..6 {
            let ip = format!("203.0.113.{i}");
            assert!(l.check(&ip, "root", now).is_ok());
            l.failed(&ip, "root", now);
        }
        // Now each attempt needs a slot: the first takes it, the next waits a second.
        assert!(l.check("203.0.113.50", "root", now).is_ok());
        l.failed("203.0.113.50", "root", now);
        assert_eq!(l.check("203.0.113.51", "root", now), Err(1));
        let later = now + Duration::seconds(1);
        assert!(l.check("203.0.113.52", "root", later).is_ok());
        l.failed("203.0.113.52", "root", later);
        // The delay grows (2 s now), but stays short.
        assert_eq!(l.check("203.0.113.53", "root", later), Err(2));
        for i in 0..40 {
            let t = later + Duration::seconds(10 * i);
            if l.check("203.0.113.54", "root", t).is_ok() {
                l.failed("203.0.113.54", "root", t);
            }
        }
        let t = later + Duration::seconds(400);
        if let Err(s) = l.check("203.0.113.99", "root", t + Duration::milliseconds(1)) {
            assert!(s <= 8, "a few seconds at most, not {s}");
        }
        // The owner's own address skips the slowdown, with the right password at once.
        assert!(l.check("10.0.0.1", "root", t).is_ok());
        l.succeeded("10.0.0.1", "root", t);
        // From a new address the owner waits at most a few seconds, then gets a slot.
        let t = t + Duration::milliseconds(1);
        let wait = l.check("198.51.100.1", "root", t).err().unwrap_or(0);
        assert!(wait <= 8, "{wait}");
        assert!(l.check("198.51.100.1", "root", t + Duration::seconds(wait as i64)).is_ok());
    }

    #[tokio::test]
    async fn password_work_runs_off_the_runtime_and_refuses_past_its_queue() {
        let w = Arc::new(PasswordWork::new(1, 2));
        let h = w.hash("correct horse").await.unwrap();
        assert!(w.verify("correct horse", &h).await.unwrap());
        assert!(!w.verify("wrong horse", &h).await.unwrap());
        // Two may wait; a third is told to come back, at once.
        let slow = |w: Arc<PasswordWork>, h: String| tokio::spawn(async move { w.verify("x", &h).await });
        let a = slow(w.clone(), h.clone());
        let b = slow(w.clone(), h.clone());
        while w.waiting.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(w.verify("x", &h).await, Err(AppError::Busy(_))));
        assert!(!a.await.unwrap().unwrap());
        assert!(!b.await.unwrap().unwrap());
        assert_eq!(w.waiting.load(Ordering::Acquire), 0);
    }

    #[test]
    fn password_rules() {
        assert!(check_password_strength("short").is_err());
        assert!(check_password_strength("password123").is_err());
        assert!(check_password_strength("tY7#kq9!pz").is_ok());
        assert_eq!(random_password(20).len(), 20);
    }
}
