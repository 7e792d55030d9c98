//! BroadNet Billing use cases. Handlers in `broadnet_web` are thin and call these;
//! everything here works through the `broadnet_store` traits and a passed-in clock.

pub mod admins;
pub mod airtel_callbacks;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod callbacks;
pub mod checks;
pub mod collect;
pub mod crypto;
pub mod customers;
pub mod dashboard;
pub mod error;
pub mod fields;
pub mod freeradius;
pub mod gateway;
pub mod input;
pub mod invoices;
pub mod mpesa_callbacks;
pub mod notify;
pub mod packages;
pub mod portal;
pub mod portal_account;
pub mod reconcile;
pub mod retention;
pub mod routers;
pub mod sessions;
pub mod settings;
pub mod system;
pub mod vouchers;

pub use error::{AppError, AppResult, FieldErrors};

use auth::{LoginLimiter, LoginLimits, TokenKey};
use broadnet_domain::{Clock, Role};
use broadnet_store::{Actor, Admin, DynStore, StoreError};
use chrono::{DateTime, Utc};
use crypto::SecretBox;
use std::sync::Arc;

/// Everything a use case needs, built once at start-up and shared.
#[derive(Clone)]
pub struct App {
    pub store: DynStore,
    pub clock: Arc<dyn Clock>,
    pub tokens: TokenKey,
    pub secrets: SecretBox,
    pub limiter: Arc<LoginLimiter>,
    /// Where argon2 runs: off the async workers, a bounded number at a time.
    pub passwords: Arc<auth::PasswordWork>,
    /// Reaches routers to end or change sessions (the RADIUS CoA client); absent in
    /// tools that have no network side.
    pub nas: Option<Arc<dyn sessions::NasControl>>,
    /// The database FreeRADIUS should read (for its setup script).
    pub freeradius_db: Option<String>,
    /// Payment, SMS and email providers.
    pub gateway: Arc<gateway::Gateway>,
    /// Wakes the outbox delivery job when something was queued.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// The router wizard's settings from the environment.
    pub router_env: Arc<routers::RouterEnv>,
    /// Live logs of router configuration runs.
    pub config_log: Arc<routers::ConfigLog>,
    /// Caps how many unmatched payment callbacks are recorded per minute.
    pub flag_limiter: Arc<callbacks::FlagLimiter>,
    /// The captive portal's limits (prompts, code and voucher attempts).
    pub portal: Arc<portal::PortalGuard>,
    /// Bounds the provider status queries that callbacks prompt (a forged callback
    /// flood must not become a request flood to Safaricom or Airtel).
    pub enquiries: Arc<tokio::sync::Semaphore>,
    /// How long growing records are kept.
    pub retention: retention::Retention,
    /// One provider status query per payment per interval, whatever callbacks ask.
    pub query_gate: Arc<callbacks::QueryGate>,
}

/// An authenticated admin making a request.
#[derive(Debug, Clone)]
pub struct Session {
    pub admin: Admin,
    pub jti: String,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
}

impl Session {
    pub fn actor(&self, at: DateTime<Utc>) -> Actor {
        Actor { admin_id: Some(self.admin.id), username: self.admin.username.clone(), ip: self.ip.clone(), at }
    }

    pub fn require_write(&self) -> AppResult<()> {
        if self.admin.role.can_write() { Ok(()) } else { Err(AppError::Forbidden("viewers have read-only access")) }
    }

    pub fn require_superadmin(&self) -> AppResult<()> {
        if self.admin.role == Role::Superadmin {
            Ok(())
        } else {
            Err(AppError::Forbidden("only a superadmin may do this"))
        }
    }
}

/// What a successful login returns.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub admin: Admin,
}

impl App {
    pub fn new(store: DynStore, clock: Arc<dyn Clock>, tokens: TokenKey, secrets: SecretBox) -> Self {
        App {
            store,
            clock,
            tokens,
            secrets,
            limiter: Arc::new(LoginLimiter::new(LoginLimits::default())),
            passwords: Arc::new(auth::PasswordWork::for_this_machine()),
            nas: None,
            freeradius_db: None,
            gateway: Arc::new(gateway::Gateway::new(gateway::GatewayEnv {
                app_name: "ISP Billing".into(),
                public_url: "http://127.0.0.1:3000".into(),
                ..Default::default()
            })),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            router_env: Arc::new(routers::RouterEnv {
                bridge_gateway: "10.10.10.1/24".into(),
                dhcp_range: ("10.10.10.10".into(), "10.10.10.254".into()),
                coa_port: 3799,
                auth_port: 1812,
                acct_port: 1813,
                ..Default::default()
            }),
            config_log: Arc::new(routers::ConfigLog::default()),
            flag_limiter: Arc::new(callbacks::FlagLimiter::new(60, 600)),
            portal: Arc::new(portal::PortalGuard::default()),
            enquiries: Arc::new(tokio::sync::Semaphore::new(8)),
            retention: retention::Retention::default(),
            query_gate: Arc::new(callbacks::QueryGate::default()),
        }
    }

    pub fn with_retention(mut self, retention: retention::Retention) -> Self {
        self.retention = retention;
        self
    }

    pub fn with_router_env(mut self, env: routers::RouterEnv) -> Self {
        self.router_env = Arc::new(env);
        self
    }

    pub fn with_gateway(mut self, env: gateway::GatewayEnv) -> Self {
        self.gateway = Arc::new(gateway::Gateway::new(env));
        self
    }

    pub fn with_freeradius_db(mut self, url: impl Into<String>) -> Self {
        self.freeradius_db = Some(url.into());
        self
    }

    pub fn with_nas(mut self, nas: Arc<dyn sessions::NasControl>) -> Self {
        self.nas = Some(nas);
        self
    }

    pub fn with_login_limits(mut self, limits: LoginLimits) -> Self {
        self.limiter = Arc::new(LoginLimiter::new(limits));
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Logs an admin in. The username is normalised once ([`auth::login_key`]), and
    /// that one key is what the limiter checks and counts and what the store looks
    /// up, so padding or changing case can neither dodge the limit nor reach
    /// another account.
    pub async fn login(&self, username: &str, password: &str, ip: &str) -> AppResult<LoginOutcome> {
        let now = self.now();
        let key = auth::login_key(username);
        self.limiter.check(ip, &key, now).map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
        let found = match self.store.get_admin_by_username(&key).await {
            Ok(a) => Some(a),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Verify against a fixed hash when the user is unknown, so timing does not
        // reveal which usernames exist.
        let hash = found.as_ref().map(|a| a.password_hash.as_str()).unwrap_or(DUMMY_HASH);
        let ok = match self.passwords.verify(password, hash).await {
            Ok(ok) => ok,
            Err(e) => {
                self.limiter.not_checked(ip, &key, now);
                return Err(e);
            }
        };
        match found {
            Some(admin) if ok && admin.active => {
                self.limiter.succeeded(ip, &key, now);
                self.store.record_login(admin.id, now).await?;
                let (token, claims) = self.tokens.issue(admin.id, &admin.username, admin.session_epoch, now);
                tracing::info!(admin = ?admin.username, ip, "admin logged in");
                Ok(LoginOutcome { token, expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(now), admin })
            }
            _ => {
                self.limiter.failed(ip, &key, now);
                tracing::warn!(username = ?username, ip, "failed admin login");
                Err(AppError::Unauthorized("wrong username or password"))
            }
        }
    }

    /// Checks a token from a Bearer header or the session cookie.
    pub async fn authenticate(&self, token: &str, ip: Option<String>) -> AppResult<Session> {
        let now = self.now();
        let claims = self
            .tokens
            .verify(token, now)
            .map_err(|_| AppError::Unauthorized("invalid or expired session; log in again"))?;
        let admin = match self.store.get_admin(claims.sub).await {
            Ok(a) => a,
            Err(StoreError::NotFound) => return Err(AppError::Unauthorized("account no longer exists")),
            Err(e) => return Err(e.into()),
        };
        if !admin.active {
            return Err(AppError::Unauthorized("account is disabled"));
        }
        if claims.epoch != admin.session_epoch {
            return Err(AppError::Unauthorized("session ended by a password change; log in again"));
        }
        if self.store.is_token_revoked(&claims.jti).await? {
            return Err(AppError::Unauthorized("logged out; log in again"));
        }
        Ok(Session { admin, jti: claims.jti, expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(now), ip })
    }

    /// The token every state-changing admin-page form carries (`_csrf`).
    pub fn csrf_token(&self, s: &Session) -> String {
        self.tokens.csrf(&s.jti)
    }

    /// Refuses a form whose CSRF token is not this session's (constant-time compare).
    pub fn check_csrf(&self, s: &Session, sent: &str) -> AppResult<()> {
        use subtle::ConstantTimeEq;
        let want = self.tokens.csrf(&s.jti);
        if bool::from(want.as_bytes().ct_eq(sent.trim().as_bytes())) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "the form has expired or did not come from this site; reload the page and try again",
            ))
        }
    }

    /// A fresh login-form nonce (for a cookie) and its proof (for the form).
    pub fn login_nonce(&self) -> (String, String) {
        use rand::Rng;
        let nonce = hex::encode(rand::thread_rng().r#gen::<[u8; 16]>());
        let proof = self.tokens.login_proof(&nonce);
        (nonce, proof)
    }

    /// Refuses a login form whose proof does not match its nonce cookie (login CSRF:
    /// another site logging the browser into an account of its choosing).
    pub fn check_login_proof(&self, nonce: &str, proof: &str) -> AppResult<()> {
        use subtle::ConstantTimeEq;
        let want = self.tokens.login_proof(nonce);
        if !nonce.is_empty() && bool::from(want.as_bytes().ct_eq(proof.trim().as_bytes())) {
            Ok(())
        } else {
            Err(AppError::Forbidden("the login form has expired; try again"))
        }
    }

    pub async fn logout(&self, session: &Session) -> AppResult<()> {
        self.store.revoke_token(&session.jti, session.expires_at).await?;
        let _ = self.store.purge_revoked_tokens(self.now()).await;
        Ok(())
    }
}

/// An argon2id hash of a random string nobody knows.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Oy2XfGZy8mRgWQYlC4p0dcYyWmXhxq0uO4v0kG6zYw";
