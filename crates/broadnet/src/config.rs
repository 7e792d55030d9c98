//! Configuration from the environment and `.env`, with the seed's variable names.
//! Layers: defaults < generated secrets (`DATA_DIR/generated.env`) < `.env` <
//! environment. Validated once; every problem is reported by variable name.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub type Vars = BTreeMap<String, String>;

/// A value that never appears in logs or `Debug` output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "(not set)" } else { "****" })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
    Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub var: &'static str,
    pub message: String,
    /// Stops start-up (always for unparseable values; for missing or weak required
    /// values only in production).
    pub fatal: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.message)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub app_host: String,
    pub app_port: u16,
    pub app_env: AppEnv,
    pub app_name: String,
    pub data_dir: PathBuf,
    pub jwt_secret: Secret,
    pub jwt_expires_in: chrono::Duration,
    pub encryption_key: Secret,
    /// The key secrets were encrypted with before ENCRYPTION_KEY was set (JWT_SECRET).
    pub encryption_previous: Option<Secret>,
    pub database_url: Secret,
    /// Where the database URL came from: DATABASE_URL, DB_*, or the default SQLite file.
    pub database_source: &'static str,
    pub admin_username: String,
    pub admin_password: Secret,
    pub radius_ip: Option<IpAddr>,
    pub radius_shared_secret: Secret,
    pub radius_auth_port: u16,
    pub radius_acct_port: u16,
    /// The built-in RADIUS server (off when FreeRADIUS is used instead).
    pub radius_enabled: bool,
    /// Where routers listen for Disconnect/CoA requests (RouterOS `/radius incoming`).
    pub radius_coa_port: u16,
    pub radius_db_url: Secret,
    pub provision_base_url: Option<String>,
    pub provision_secret: Secret,
    /// ROUTER_ALLOW_LOOPBACK: a router's API address may be 127.0.0.1 (a RouterOS
    /// simulator); by default only outside production.
    pub router_allow_loopback: bool,
    pub bridge_gateway: String,
    pub dhcp_range: (IpAddr, IpAddr),
    /// APP_URL: where providers and browsers reach this server (default http://127.0.0.1:APP_PORT).
    pub app_url: String,
    /// PAYMENTS_CALLBACK_SECRET: the secret in payment callback paths.
    pub callback_secret: Secret,
    /// PAYMENTS_PLAIN_CALLBACKS: the seed's unauthenticated callback paths
    /// (`/api/payments/mpesa/callback`, `/api/payments/airtel/callback`) are served.
    /// Default: yes in development, no in production.
    pub plain_callbacks: bool,
    /// RETENTION_CALLBACK_DAYS, RETENTION_AUTH_LOG_DAYS, RETENTION_SESSIONS_MONTHS.
    pub retention: broadnet_app::retention::Retention,
    pub mpesa: Mpesa,
    pub airtel: Airtel,
    pub sms: Sms,
    pub email: Email,
    pub http: HttpLimits,
    /// TRUSTED_PROXIES: peers whose X-Forwarded-For / X-Real-IP name the client.
    pub trusted_proxies: broadnet_web::TrustedProxies,
}

/// What one client may hold of the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// HTTP_MAX_CONNECTIONS: open connections served at once; more get a quick 503.
    pub max_connections: usize,
    /// HTTP_HEADER_TIMEOUT_SECS: time to send a request's headers, and how long an
    /// idle keep-alive connection is kept.
    pub header_timeout: std::time::Duration,
    /// HTTP_REQUEST_TIMEOUT_SECS: time for a whole request, body and handler included.
    pub request_timeout: std::time::Duration,
    /// HTTP_MAX_CONNECTIONS_PER_CLIENT: open connections from one address (one /64 for
    /// IPv6), so one client cannot take every slot; trusted proxies are not counted.
    pub max_per_client: usize,
}

impl HttpLimits {
    /// Under the usual soft limit of 1,024 open files, leaving a quarter for the
    /// database pool, RADIUS sockets, router API sessions and provider calls.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 768;
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            header_timeout: std::time::Duration::from_secs(10),
            request_timeout: std::time::Duration::from_secs(30),
            max_per_client: 64,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Mpesa {
    pub consumer_key: Secret,
    pub consumer_secret: Secret,
    pub shortcode: Option<String>,
    pub passkey: Secret,
    pub callback_url: Option<String>,
    pub env: String,
    /// MPESA_BASE_URL: another Daraja address (a `broadnet simulate mpesa` elsewhere).
    pub base_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Airtel {
    pub client_id: Option<String>,
    pub client_secret: Secret,
    pub callback_url: Option<String>,
    pub env: String,
    pub country: String,
    pub currency: String,
    /// AIRTEL_CALLBACK_KEY: the callback-authentication private key from Airtel's portal.
    pub callback_key: Secret,
    pub base_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Sms {
    pub enabled: bool,
    pub at_username: Option<String>,
    pub at_api_key: Secret,
    pub at_sender_id: Option<String>,
    /// AT_ENV: sandbox, production or simulator (default: sandbox when AT_USERNAME is
    /// "sandbox", else production).
    pub env: Option<String>,
    pub base_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Email {
    pub enabled: bool,
    pub host: Option<String>,
    pub port: u16,
    pub user: Option<String>,
    pub pass: Secret,
    pub from: Option<String>,
}

/// Placeholders copied from examples; refused as secrets in production.
const WEAK: &[&str] = &["changeme", "change-me", "secret", "your_jwt_secret", "testing123", "password", "example"];

fn weak_reason(value: &str, min_len: usize) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    if WEAK.iter().any(|w| lower.contains(w)) {
        return Some("is a well-known placeholder; generate a random value (openssl rand -hex 32)".into());
    }
    if value.chars().count() < min_len {
        return Some(format!("is too short ({} characters; at least {min_len} needed)", value.chars().count()));
    }
    let distinct: std::collections::HashSet<char> = value.chars().collect();
    if distinct.len() < 6 {
        return Some("has too little variety to be random".into());
    }
    None
}

struct Reader<'a> {
    vars: &'a Vars,
    problems: Vec<Problem>,
    production: bool,
}

impl Reader<'_> {
    fn get(&self, var: &str) -> Option<String> {
        self.vars.get(var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn bad(&mut self, var: &'static str, message: impl Into<String>) {
        self.problems.push(Problem { var, message: message.into(), fatal: true });
    }

    /// A value the seed marks required: missing is fatal in production, a warning otherwise.
    fn need(&mut self, var: &'static str, why: &str) -> Option<String> {
        let v = self.get(var);
        if v.is_none() {
            let production = self.production;
            self.problems.push(Problem { var, message: format!("is not set ({why})"), fatal: production });
        }
        v
    }

    fn secret(&mut self, var: &'static str, min_len: usize, why: &str) -> Secret {
        match self.need(var, why) {
            Some(v) => {
                if let Some(reason) = weak_reason(&v, min_len) {
                    let production = self.production;
                    self.problems.push(Problem { var, message: reason, fatal: production });
                }
                Secret(v)
            }
            None => Secret::default(),
        }
    }

    fn port(&mut self, var: &'static str, default: u16) -> u16 {
        match self.get(var) {
            None => default,
            Some(v) => match v.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => {
                    self.bad(var, format!("must be a port number from 1 to 65535, not {v:?}"));
                    default
                }
            },
        }
    }

    /// A port where 0 means "any free port" (printed at start; for tests and side-by-side runs).
    fn port_or_any(&mut self, var: &'static str, default: u16) -> u16 {
        match self.get(var) {
            Some(v) if v.trim() == "0" => 0,
            _ => self.port(var, default),
        }
    }

    /// A whole number of days (or months) to keep something; 0 keeps it forever.
    fn keep(&mut self, var: &'static str, default: i64, unit_days: i64, max: i64) -> Option<chrono::Duration> {
        let n = match self.get(var) {
            None => default,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (0..=max).contains(&n) => n,
                _ => {
                    self.bad(var, format!("must be a whole number from 0 (keep forever) to {max}, not {v:?}"));
                    default
                }
            },
        };
        (n > 0).then(|| chrono::Duration::days(n * unit_days))
    }

    fn flag(&mut self, var: &'static str) -> bool {
        match self.get(var).map(|v| v.to_ascii_lowercase()) {
            None => false,
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => false,
            Some(v) => {
                self.bad(var, format!("must be true or false, not {v:?}"));
                false
            }
        }
    }

    fn choice(&mut self, var: &'static str, choices: &[&str], default: &str) -> String {
        match self.get(var) {
            None => default.to_string(),
            Some(v) if choices.contains(&v.to_ascii_lowercase().as_str()) => v.to_ascii_lowercase(),
            Some(v) => {
                self.bad(var, format!("must be one of {}, not {v:?}", choices.join(", ")));
                default.to_string()
            }
        }
    }

    fn url(&mut self, var: &'static str) -> Option<String> {
        let v = self.get(var)?;
        match url::Url::parse(&v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Some(v.trim_end_matches('/').to_string())
            }
            _ => {
                self.bad(var, format!("must be an http:// or https:// URL, not {v:?}"));
                None
            }
        }
    }

    /// A whole number from `min` to `max`.
    fn number(&mut self, var: &'static str, default: u64, min: u64, max: u64) -> u64 {
        match self.get(var) {
            None => default,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    self.bad(var, format!("must be a whole number from {min} to {max}, not {v:?}"));
                    default
                }
            },
        }
    }

    fn ip(&mut self, var: &'static str, default: &str) -> Option<IpAddr> {
        let v = self.get(var).unwrap_or_else(|| default.to_string());
        if v.is_empty() {
            return None;
        }
        match v.parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                self.bad(var, format!("must be an IP address, not {v:?}"));
                None
            }
        }
    }
}

/// `7d`, `12h`, `30m`, `45s` or a number of seconds; more than zero, at most a year.
pub fn parse_lifetime(s: &str) -> Option<chrono::Duration> {
    let d = broadnet_domain::duration::parse(s, broadnet_domain::duration::Bare::Seconds)?;
    (!d.is_zero() && d.as_secs() <= 366 * 86_400).then(|| chrono::Duration::from_std(d).ok()).flatten()
}

fn db_url_from_group(r: &mut Reader, prefix: &'static [&'static str; 6]) -> Option<String> {
    let [driver_var, host_var, port_var, name_var, user_var, pass_var] = *prefix;
    let host = r.get(host_var)?;
    let driver = r.choice(driver_var, &["mysql", "mariadb", "postgres", "postgresql"], "mysql");
    let scheme = if driver.starts_with("postgres") { "postgres" } else { "mysql" };
    let default_port = if scheme == "postgres" { 5432 } else { 3306 };
    let port = r.port(port_var, default_port);
    let name = r.need(name_var, "database name");
    let user = r.need(user_var, "database user");
    let pass = match r.get(pass_var) {
        Some(p) => p,
        None => {
            let production = r.production;
            r.problems.push(Problem {
                var: pass_var,
                message: "is not set (database password)".into(),
                fatal: production,
            });
            String::new()
        }
    };
    let mut u = url::Url::parse(&format!("{scheme}://localhost/")).ok()?;
    if u.set_host(Some(&host)).is_err() {
        r.bad(host_var, format!("is not a valid host name: {host:?}"));
        return None;
    }
    let _ = u.set_port(Some(port));
    let _ = u.set_username(&user.unwrap_or_default());
    if !pass.is_empty() {
        let _ = u.set_password(Some(&pass));
    }
    u.set_path(&name.unwrap_or_default());
    Some(u.to_string())
}

impl Config {
    /// Reads every variable; returns the configuration (with defaults where a value was
    /// bad) and every problem found.
    pub fn from_vars(vars: &Vars) -> (Config, Vec<Problem>) {
        let env_text = vars.get("APP_ENV").map(|v| v.trim().to_ascii_lowercase()).unwrap_or_default();
        let production = env_text == "production";
        let mut r = Reader { vars, problems: Vec::new(), production };
        let app_env = match env_text.as_str() {
            "" | "development" | "dev" => AppEnv::Development,
            "production" => AppEnv::Production,
            "test" => AppEnv::Test,
            other => {
                r.bad("APP_ENV", format!("must be development, production or test, not {other:?}"));
                AppEnv::Development
            }
        };
        let app_port = r.port("APP_PORT", 3000);
        let app_host = r.get("APP_HOST").unwrap_or_else(|| "0.0.0.0".into());
        if app_host.parse::<IpAddr>().is_err() && app_host != "localhost" {
            r.bad("APP_HOST", format!("must be an IP address to listen on, not {app_host:?}"));
        }
        let app_name = r.get("APP_NAME").unwrap_or_else(|| "ISP Billing".into());
        let data_dir = PathBuf::from(r.get("DATA_DIR").unwrap_or_else(|| "./data".into()));

        let jwt_secret = r.secret("JWT_SECRET", 32, "signs admin sessions; generate with: openssl rand -hex 32");
        let jwt_expires_in = match r.get("JWT_EXPIRES_IN") {
            None => chrono::Duration::days(7),
            Some(v) => parse_lifetime(&v).unwrap_or_else(|| {
                r.bad(
                    "JWT_EXPIRES_IN",
                    format!("must be a duration such as 7d, 12h or 3600 (at most 366d), not {v:?}"),
                );
                chrono::Duration::days(7)
            }),
        };
        let (encryption_key, encryption_previous) = match r.get("ENCRYPTION_KEY") {
            Some(k) => {
                if let Some(reason) = weak_reason(&k, 32) {
                    r.bad("ENCRYPTION_KEY", reason);
                }
                // Secrets stored before ENCRYPTION_KEY was set were encrypted with the
                // key derived from JWT_SECRET: still read, and moved at start.
                let previous = (!jwt_secret.is_empty() && jwt_secret.expose() != k).then(|| jwt_secret.clone());
                (Secret(k), previous)
            }
            // Derived from JWT_SECRET (with a domain label) when not set separately;
            // outside production it is generated on first start instead.
            None => {
                if production {
                    r.problems.push(Problem {
                        var: "ENCRYPTION_KEY",
                        message: "is not set: stored provider keys and router passwords are encrypted with a key derived from JWT_SECRET, so rotating JWT_SECRET would make them unreadable; set ENCRYPTION_KEY (openssl rand -hex 32) and they are moved to it at the next start".into(),
                        fatal: false,
                    });
                }
                (jwt_secret.clone(), None)
            }
        };

        let (database_url, database_source) = if let Some(u) = r.get("DATABASE_URL") {
            if !(u.starts_with("sqlite:")
                || u.starts_with("postgres://")
                || u.starts_with("postgresql://")
                || u.starts_with("mysql://")
                || u.starts_with("mariadb://"))
            {
                r.bad("DATABASE_URL", "must start with sqlite:, postgres:// or mysql://");
            }
            (u.replacen("mariadb://", "mysql://", 1), "DATABASE_URL")
        } else if let Some(u) =
            db_url_from_group(&mut r, &["DB_DRIVER", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"])
        {
            (u, "DB_*")
        } else {
            if production {
                r.problems.push(Problem {
                    var: "DB_HOST",
                    message: "is not set: in production name the database explicitly (DB_HOST, DB_NAME, DB_USER, DB_PASSWORD, or DATABASE_URL; DATABASE_URL=sqlite://… for the embedded database)".into(),
                    fatal: true,
                });
            }
            let path = data_dir.join("broadnet.db");
            (format!("sqlite://{}", path.display()), "default")
        };
        let radius_db_url = db_url_from_group(
            &mut r,
            &[
                "RADIUS_DB_DRIVER",
                "RADIUS_DB_HOST",
                "RADIUS_DB_PORT",
                "RADIUS_DB_NAME",
                "RADIUS_DB_USER",
                "RADIUS_DB_PASSWORD",
            ],
        )
        .unwrap_or_else(|| database_url.clone());

        let radius_ip = match r.need("RADIUS_IP", "the address routers send RADIUS to") {
            Some(v) => match v.parse() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    r.bad("RADIUS_IP", format!("must be an IP address, not {v:?}"));
                    None
                }
            },
            None => None,
        };
        let radius_shared_secret = r.secret("RADIUS_SHARED_SECRET", 12, "default RADIUS secret for new routers");
        let radius_auth_port = r.port_or_any("RADIUS_AUTH_PORT", 1812);
        let radius_acct_port = r.port_or_any("RADIUS_ACCT_PORT", 1813);
        let radius_coa_port = r.port("RADIUS_COA_PORT", 3799);
        let radius_enabled = r.get("RADIUS_ENABLED").is_none() || r.flag("RADIUS_ENABLED");

        let provision_base_url = if r.get("PROVISION_BASE_URL").is_none() {
            r.need("PROVISION_BASE_URL", "public URL routers fetch their provisioning script from");
            None
        } else {
            r.url("PROVISION_BASE_URL")
        };
        if production && provision_base_url.as_deref().is_some_and(|u| u.starts_with("http://")) {
            r.problems.push(Problem {
                var: "PROVISION_BASE_URL",
                message: "is http://: the provisioning script carries the password of a full-rights RouterOS user, so anyone on the path can read it; serve it over https://".into(),
                fatal: false,
            });
        }
        let provision_secret = r.secret("PROVISION_SECRET", 32, "signs router provisioning tokens");
        let router_allow_loopback = if r.get("ROUTER_ALLOW_LOOPBACK").is_some() {
            r.flag("ROUTER_ALLOW_LOOPBACK")
        } else {
            app_env != AppEnv::Production
        };
        let bridge_gateway = r.get("BRIDGE_GATEWAY").unwrap_or_else(|| "10.10.10.1/24".into());
        match bridge_gateway.split_once('/') {
            Some((ip, prefix))
                if ip.parse::<std::net::Ipv4Addr>().is_ok()
                    && prefix.parse::<u8>().is_ok_and(|p| (8..=30).contains(&p)) => {}
            _ => r.bad(
                "BRIDGE_GATEWAY",
                format!("must be an IPv4 address with prefix such as 10.10.10.1/24, not {bridge_gateway:?}"),
            ),
        }
        let dhcp_start = r.ip("DHCP_RANGE_START", "10.10.10.10");
        let dhcp_end = r.ip("DHCP_RANGE_END", "10.10.10.254");
        let default_range = (IpAddr::from([10, 10, 10, 10]), IpAddr::from([10, 10, 10, 254]));
        let dhcp_range = match (dhcp_start, dhcp_end) {
            (Some(a), Some(b)) if a <= b => (a, b),
            (Some(_), Some(_)) => {
                r.bad("DHCP_RANGE_END", "must not be below DHCP_RANGE_START");
                default_range
            }
            _ => default_range,
        };

        const ENVS: &[&str] = &["sandbox", "production", "simulator"];
        let mpesa = Mpesa {
            consumer_key: Secret(r.get("MPESA_CONSUMER_KEY").unwrap_or_default()),
            consumer_secret: Secret(r.get("MPESA_CONSUMER_SECRET").unwrap_or_default()),
            shortcode: r.get("MPESA_SHORTCODE"),
            passkey: Secret(r.get("MPESA_PASSKEY").unwrap_or_default()),
            callback_url: r.url("MPESA_CALLBACK_URL"),
            env: r.choice("MPESA_ENV", ENVS, "sandbox"),
            base_url: r.url("MPESA_BASE_URL"),
        };
        let airtel = Airtel {
            client_id: r.get("AIRTEL_CLIENT_ID"),
            client_secret: Secret(r.get("AIRTEL_CLIENT_SECRET").unwrap_or_default()),
            callback_url: r.url("AIRTEL_CALLBACK_URL"),
            env: r.choice("AIRTEL_ENV", ENVS, "sandbox"),
            country: r.get("AIRTEL_COUNTRY").unwrap_or_else(|| "KE".into()),
            currency: r.get("AIRTEL_CURRENCY").unwrap_or_else(|| "KES".into()),
            callback_key: Secret(r.get("AIRTEL_CALLBACK_KEY").unwrap_or_default()),
            base_url: r.url("AIRTEL_BASE_URL"),
        };
        let sms = Sms {
            enabled: r.flag("SMS_ENABLED"),
            at_username: r.get("AT_USERNAME"),
            at_api_key: Secret(r.get("AT_API_KEY").unwrap_or_default()),
            at_sender_id: r.get("AT_SENDER_ID"),
            env: r.get("AT_ENV").map(|_| r.choice("AT_ENV", ENVS, "production")),
            base_url: r.url("AT_BASE_URL"),
        };
        if sms.at_sender_id.as_ref().is_some_and(|s| s.chars().count() > 11) {
            r.bad("AT_SENDER_ID", "must be at most 11 characters");
        }
        if sms.enabled && (sms.at_username.is_none() || sms.at_api_key.is_empty()) {
            r.problems.push(Problem {
                var: "SMS_ENABLED",
                message: "is true but AT_USERNAME or AT_API_KEY is not set".into(),
                fatal: false,
            });
        }
        let email = Email {
            enabled: r.flag("EMAIL_ENABLED"),
            host: r.get("EMAIL_HOST"),
            port: r.port("EMAIL_PORT", 587),
            user: r.get("EMAIL_USER"),
            pass: Secret(r.get("EMAIL_PASS").unwrap_or_default()),
            from: r.get("EMAIL_FROM"),
        };
        if email.enabled && email.host.is_none() {
            r.problems.push(Problem {
                var: "EMAIL_ENABLED",
                message: "is true but EMAIL_HOST is not set".into(),
                fatal: false,
            });
        }

        let admin_username = r.get("ADMIN_USERNAME").unwrap_or_else(|| "admin".into());
        if broadnet_domain::Username::parse(&admin_username).is_err() {
            r.bad("ADMIN_USERNAME", "may contain only letters, digits and . _ - @ (2 to 64 characters)");
        }
        let admin_password = Secret(r.get("ADMIN_PASSWORD").unwrap_or_default());
        if !admin_password.is_empty()
            && let Err(e) = broadnet_app::auth::check_password_strength(admin_password.expose())
        {
            let production = r.production;
            r.problems.push(Problem { var: "ADMIN_PASSWORD", message: e.0, fatal: production });
        }

        let app_url = r
            .url("APP_URL")
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://127.0.0.1:{app_port}"));
        let callback_secret = Secret(r.get("PAYMENTS_CALLBACK_SECRET").unwrap_or_default());
        if !callback_secret.is_empty() && callback_secret.expose().len() < 16 {
            r.bad(
                "PAYMENTS_CALLBACK_SECRET",
                "must be at least 16 characters (it is what keeps callbacks unguessable)",
            );
        }
        if callback_secret.expose().chars().any(|c| !c.is_ascii_alphanumeric() && c != '-' && c != '_') {
            r.bad("PAYMENTS_CALLBACK_SECRET", "may contain only letters, digits, - and _ (it goes into a URL path)");
        }

        let plain_callbacks = match r.get("PAYMENTS_PLAIN_CALLBACKS") {
            Some(_) => r.flag("PAYMENTS_PLAIN_CALLBACKS"),
            None => !production,
        };
        if r.get("PAYMENTS_PLAIN_CALLBACKS").is_some() && plain_callbacks && !callback_secret.is_empty() {
            r.problems.push(Problem {
                var: "PAYMENTS_PLAIN_CALLBACKS",
                message: "is ignored: with PAYMENTS_CALLBACK_SECRET set only the secret paths are served".into(),
                fatal: false,
            });
        }

        let retention = broadnet_app::retention::Retention {
            flagged_callbacks: r.keep("RETENTION_CALLBACK_DAYS", 90, 1, 36_500),
            post_auth: r.keep("RETENTION_AUTH_LOG_DAYS", 90, 1, 36_500),
            // Months of 31 days: a row is never removed before the month it belongs to
            // has been kept whole.
            sessions: r.keep("RETENTION_SESSIONS_MONTHS", 12, 31, 1200),
        };

        let defaults = HttpLimits::default();
        let http = HttpLimits {
            max_connections: r.number("HTTP_MAX_CONNECTIONS", defaults.max_connections as u64, 1, 1_000_000) as usize,
            header_timeout: std::time::Duration::from_secs(r.number(
                "HTTP_HEADER_TIMEOUT_SECS",
                defaults.header_timeout.as_secs(),
                1,
                300,
            )),
            request_timeout: std::time::Duration::from_secs(r.number(
                "HTTP_REQUEST_TIMEOUT_SECS",
                defaults.request_timeout.as_secs(),
                1,
                3600,
            )),
            max_per_client: r.number("HTTP_MAX_CONNECTIONS_PER_CLIENT", defaults.max_per_client as u64, 1, 1_000_000)
                as usize,
        };
        let trusted_proxies = match broadnet_web::TrustedProxies::parse(
            &r.get("TRUSTED_PROXIES").unwrap_or_else(|| broadnet_web::TrustedProxies::DEFAULT.to_string()),
        ) {
            Ok(t) => t,
            Err(e) => {
                r.bad(
                    "TRUSTED_PROXIES",
                    format!("must be IP addresses or CIDR blocks separated by commas (or none): {e}"),
                );
                broadnet_web::TrustedProxies::default()
            }
        };
        let trusted_proxies =
            match broadnet_web::proxies::ForwardedHeader::parse(&r.get("TRUSTED_PROXY_HEADER").unwrap_or_default()) {
                Ok(h) => trusted_proxies.with_header(h),
                Err(e) => {
                    r.bad("TRUSTED_PROXY_HEADER", e.0);
                    trusted_proxies
                }
            };

        let cfg = Config {
            app_host,
            app_port,
            app_env,
            app_name,
            data_dir,
            jwt_secret,
            jwt_expires_in,
            encryption_key,
            encryption_previous,
            database_url: Secret(database_url),
            database_source,
            admin_username,
            admin_password,
            radius_ip,
            radius_shared_secret,
            radius_auth_port,
            radius_acct_port,
            radius_coa_port,
            radius_enabled,
            radius_db_url: Secret(radius_db_url),
            provision_base_url,
            provision_secret,
            router_allow_loopback,
            bridge_gateway,
            dhcp_range,
            app_url,
            callback_secret,
            plain_callbacks,
            retention,
            mpesa,
            airtel,
            sms,
            email,
            http,
            trusted_proxies,
        };
        (cfg, r.problems)
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// The effective configuration as `NAME=value` lines, secrets redacted.
    pub fn redacted(&self) -> Vec<(String, String)> {
        let s = |v: &Secret| format!("{v:?}");
        let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not set)".into());
        vec![
            ("APP_ENV".into(), format!("{:?}", self.app_env).to_ascii_lowercase()),
            ("APP_HOST".into(), self.app_host.clone()),
            ("APP_PORT".into(), self.app_port.to_string()),
            ("APP_NAME".into(), self.app_name.clone()),
            ("DATA_DIR".into(), self.data_dir.display().to_string()),
            ("JWT_SECRET".into(), s(&self.jwt_secret)),
            ("JWT_EXPIRES_IN".into(), format!("{}s", self.jwt_expires_in.num_seconds())),
            ("ENCRYPTION_KEY".into(), s(&self.encryption_key)),
            (
                format!("database ({})", self.database_source),
                broadnet_store_sql::redact_url(self.database_url.expose()),
            ),
            ("RADIUS database".into(), broadnet_store_sql::redact_url(self.radius_db_url.expose())),
            ("RADIUS_IP".into(), self.radius_ip.map(|i| i.to_string()).unwrap_or_else(|| "(not set)".into())),
            ("RADIUS_SHARED_SECRET".into(), s(&self.radius_shared_secret)),
            ("RADIUS_AUTH_PORT".into(), self.radius_auth_port.to_string()),
            ("RADIUS_ACCT_PORT".into(), self.radius_acct_port.to_string()),
            ("RADIUS_COA_PORT".into(), self.radius_coa_port.to_string()),
            ("RADIUS_ENABLED".into(), self.radius_enabled.to_string()),
            ("PROVISION_BASE_URL".into(), o(&self.provision_base_url)),
            ("PROVISION_SECRET".into(), s(&self.provision_secret)),
            ("ROUTER_ALLOW_LOOPBACK".into(), self.router_allow_loopback.to_string()),
            ("BRIDGE_GATEWAY".into(), self.bridge_gateway.clone()),
            ("DHCP_RANGE".into(), format!("{} - {}", self.dhcp_range.0, self.dhcp_range.1)),
            ("APP_URL".into(), self.app_url.clone()),
            ("PAYMENTS_CALLBACK_SECRET".into(), s(&self.callback_secret)),
            ("PAYMENTS_PLAIN_CALLBACKS".into(), self.plain_callbacks.to_string()),
            ("RETENTION (callbacks, auth log, sessions)".into(), {
                let d = |k: Option<chrono::Duration>| k.map_or("forever".into(), |k| format!("{}d", k.num_days()));
                let r = &self.retention;
                format!("{}, {}, {}", d(r.flagged_callbacks), d(r.post_auth), d(r.sessions))
            }),
            ("MPESA_ENV".into(), self.mpesa.env.clone()),
            ("MPESA_CONSUMER_KEY".into(), s(&self.mpesa.consumer_key)),
            ("MPESA_CONSUMER_SECRET".into(), s(&self.mpesa.consumer_secret)),
            ("MPESA_SHORTCODE".into(), o(&self.mpesa.shortcode)),
            ("MPESA_PASSKEY".into(), s(&self.mpesa.passkey)),
            ("MPESA_CALLBACK_URL".into(), o(&self.mpesa.callback_url)),
            ("MPESA_BASE_URL".into(), o(&self.mpesa.base_url)),
            ("AIRTEL_ENV".into(), self.airtel.env.clone()),
            ("AIRTEL_CLIENT_ID".into(), o(&self.airtel.client_id)),
            ("AIRTEL_CLIENT_SECRET".into(), s(&self.airtel.client_secret)),
            ("AIRTEL_CALLBACK_URL".into(), o(&self.airtel.callback_url)),
            ("AIRTEL_COUNTRY".into(), self.airtel.country.clone()),
            ("AIRTEL_CURRENCY".into(), self.airtel.currency.clone()),
            ("AIRTEL_CALLBACK_KEY".into(), s(&self.airtel.callback_key)),
            ("AIRTEL_BASE_URL".into(), o(&self.airtel.base_url)),
            ("SMS_ENABLED".into(), self.sms.enabled.to_string()),
            ("AT_USERNAME".into(), o(&self.sms.at_username)),
            ("AT_API_KEY".into(), s(&self.sms.at_api_key)),
            ("AT_SENDER_ID".into(), o(&self.sms.at_sender_id)),
            ("AT_ENV".into(), o(&self.sms.env)),
            ("AT_BASE_URL".into(), o(&self.sms.base_url)),
            ("EMAIL_ENABLED".into(), self.email.enabled.to_string()),
            ("EMAIL_HOST".into(), o(&self.email.host)),
            ("EMAIL_PORT".into(), self.email.port.to_string()),
            ("EMAIL_USER".into(), o(&self.email.user)),
            ("EMAIL_PASS".into(), s(&self.email.pass)),
            ("EMAIL_FROM".into(), o(&self.email.from)),
            ("ADMIN_USERNAME".into(), self.admin_username.clone()),
            ("ADMIN_PASSWORD".into(), s(&self.admin_password)),
            ("HTTP_MAX_CONNECTIONS".into(), self.http.max_connections.to_string()),
            ("HTTP_HEADER_TIMEOUT_SECS".into(), self.http.header_timeout.as_secs().to_string()),
            ("HTTP_REQUEST_TIMEOUT_SECS".into(), self.http.request_timeout.as_secs().to_string()),
            ("TRUSTED_PROXIES".into(), self.trusted_proxies.to_string()),
        ]
    }
}

/// Reads `.env` (if present) and overlays the process environment.
pub fn gather_vars(env_file: &Path) -> anyhow::Result<Vars> {
    let mut vars = Vars::new();
    if env_file.exists() {
        for item in dotenvy::from_path_iter(env_file)? {
            let (k, v) = item.map_err(|e| anyhow::anyhow!("{}: {e}", env_file.display()))?;
            vars.insert(k, v);
        }
    }
    for (k, v) in std::env::vars() {
        vars.insert(k, v);
    }
    Ok(vars)
}

/// Outside production, a missing JWT_SECRET is generated once and kept in
/// `DATA_DIR/generated.env`, so sessions survive restarts with zero configuration.
pub fn fill_generated_secrets(vars: &mut Vars) -> anyhow::Result<Option<PathBuf>> {
    let production = vars.get("APP_ENV").is_some_and(|v| v.trim().eq_ignore_ascii_case("production"));
    let missing = |k: &str, vars: &Vars| vars.get(k).is_none_or(|v| v.trim().is_empty());
    if production || (!missing("JWT_SECRET", vars) && !missing("ENCRYPTION_KEY", vars)) {
        return Ok(None);
    }
    let dir = PathBuf::from(vars.get("DATA_DIR").cloned().unwrap_or_else(|| "./data".into()));
    let file = dir.join("generated.env");
    let mut generated = Vars::new();
    if file.exists() {
        for item in dotenvy::from_path_iter(&file)? {
            let (k, v) = item?;
            generated.insert(k, v);
        }
    }
    let absent: Vec<&str> =
        ["JWT_SECRET", "ENCRYPTION_KEY"].into_iter().filter(|k| missing(k, vars) && missing(k, &generated)).collect();
    if !absent.is_empty() {
        for k in absent {
            let mut bytes = [0u8; 32];
            rand::Rng::fill(&mut rand::thread_rng(), &mut bytes);
            generated.insert(k.into(), hex::encode(bytes));
        }
        broadnet_store_sql::private_dir(&dir)?;
        let body: String = generated.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        write_private(&file, &format!("# Generated by broadnet on first start; keep this file private.\n{body}"))?;
    }
    for (k, v) in generated {
        if missing(&k, vars) {
            vars.insert(k, v);
        }
    }
    Ok(Some(file))
}

fn write_private(path: &Path, body: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(body.as_bytes())
}

impl Config {
    /// What the payment, SMS and email clients fall back to when Settings are empty.
    pub fn gateway_env(&self) -> broadnet_app::gateway::GatewayEnv {
        use broadnet_app::gateway::*;
        let some = |s: &Secret| Some(s.expose().to_string()).filter(|v| !v.is_empty());
        GatewayEnv {
            app_name: self.app_name.clone(),
            public_url: self.app_url.clone(),
            callback_secret: some(&self.callback_secret),
            plain_callbacks_off: !self.plain_callbacks,
            mpesa: MpesaEnv {
                env: self.mpesa.env.clone(),
                consumer_key: self.mpesa.consumer_key.expose().to_string(),
                consumer_secret: self.mpesa.consumer_secret.expose().to_string(),
                shortcode: self.mpesa.shortcode.clone(),
                passkey: self.mpesa.passkey.expose().to_string(),
                callback_url: self.mpesa.callback_url.clone(),
                base_url: self.mpesa.base_url.clone(),
            },
            airtel: AirtelEnv {
                env: self.airtel.env.clone(),
                client_id: self.airtel.client_id.clone(),
                client_secret: self.airtel.client_secret.expose().to_string(),
                callback_url: self.airtel.callback_url.clone(),
                country: self.airtel.country.clone(),
                currency: self.airtel.currency.clone(),
                callback_key: some(&self.airtel.callback_key),
                base_url: self.airtel.base_url.clone(),
            },
            sms: SmsEnv {
                enabled: self.sms.enabled,
                env: self.sms.env.clone().unwrap_or_default(),
                username: self.sms.at_username.clone(),
                api_key: self.sms.at_api_key.expose().to_string(),
                sender_id: self.sms.at_sender_id.clone(),
                base_url: self.sms.base_url.clone(),
            },
            email: EmailEnv {
                enabled: self.email.enabled,
                host: self.email.host.clone(),
                port: self.email.port,
                user: self.email.user.clone(),
                pass: self.email.pass.expose().to_string(),
                from: self.email.from.clone(),
            },
        }
    }

    /// Which built-in simulators `serve` mounts under /simulator.
    pub fn simulators(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.mpesa.env == "simulator" {
            v.push("mpesa");
        }
        if self.airtel.env == "simulator" {
            v.push("airtel");
        }
        if self.sms.env.as_deref() == Some("simulator") {
            v.push("sms");
        }
        v
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn empty_configuration_runs_on_sqlite_with_only_warnings() {
        let (cfg, problems) = Config::from_vars(&vars(&[]));
        assert!(problems.iter().all(|p| !p.fatal), "{problems:?}");
        assert_eq!(cfg.database_source, "default");
        assert!(cfg.database_url.expose().starts_with("sqlite://"));
        assert_eq!(cfg.app_port, 3000);
        assert_eq!(cfg.jwt_expires_in, chrono::Duration::days(7));
    }

    #[test]
    fn production_refuses_missing_and_weak_values_by_name() {
        let (_, problems) = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "changeme"),
            ("RADIUS_SHARED_SECRET", "testing123"),
        ]));
        let fatal: Vec<&str> = problems.iter().filter(|p| p.fatal).map(|p| p.var).collect();
        for var in
            ["JWT_SECRET", "DB_HOST", "RADIUS_IP", "RADIUS_SHARED_SECRET", "PROVISION_BASE_URL", "PROVISION_SECRET"]
        {
            assert!(fatal.contains(&var), "{var} missing from {fatal:?}");
        }
    }

    #[test]
    fn production_accepts_a_complete_configuration() {
        let (cfg, problems) = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "8f3c1e0a9b7d4c2e6f1a3b5c7d9e0f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d3e"),
            ("DB_HOST", "127.0.0.1"),
            ("DB_NAME", "isp_billing"),
            ("DB_USER", "billing"),
            ("DB_PASSWORD", "p@ss/word#1"),
            ("RADIUS_IP", "127.0.0.1"),
            ("RADIUS_SHARED_SECRET", "Xk29dmQp01zr"),
            ("PROVISION_BASE_URL", "https://billing.isp.co.ke/provision/"),
            ("PROVISION_SECRET", "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6"),
        ]));
        assert!(problems.iter().all(|p| !p.fatal), "{problems:?}");
        assert_eq!(cfg.database_url.expose(), "mysql://billing:p%40ss%2Fword%231@127.0.0.1:3306/isp_billing");
        assert_eq!(cfg.provision_base_url.as_deref(), Some("https://billing.isp.co.ke/provision"));
        // The unauthenticated seed callback paths are off in production by default.
        assert!(!cfg.plain_callbacks);
        assert!(cfg.gateway_env().plain_callbacks_off);
        assert!(problems.iter().any(|p| p.var == "ENCRYPTION_KEY" && !p.fatal), "{problems:?}");
    }

    #[test]
    fn production_warns_about_a_provisioning_script_in_clear() {
        let (_, problems) = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("PROVISION_BASE_URL", "http://billing.isp.co.ke/provision"),
        ]));
        assert!(problems.iter().any(|p| p.var == "PROVISION_BASE_URL" && !p.fatal), "{problems:?}");
        let (_, problems) = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("PROVISION_BASE_URL", "https://billing.isp.co.ke/provision"),
        ]));
        assert!(!problems.iter().any(|p| p.var == "PROVISION_BASE_URL"), "{problems:?}");
    }

    #[test]
    fn plain_callback_paths_and_retention_are_configurable() {
        let (cfg, _) = Config::from_vars(&vars(&[]));
        assert!(cfg.plain_callbacks, "on in development, for the seed's URLs");
        assert_eq!(cfg.retention, broadnet_app::retention::Retention::default());
        let (cfg, problems) = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("PAYMENTS_PLAIN_CALLBACKS", "true"),
            ("RETENTION_CALLBACK_DAYS", "0"),
            ("RETENTION_AUTH_LOG_DAYS", "30"),
            ("RETENTION_SESSIONS_MONTHS", "24"),
        ]));
        assert!(cfg.plain_callbacks, "an operator may opt in");
        assert_eq!(cfg.retention.flagged_callbacks, None, "0 keeps forever");
        assert_eq!(cfg.retention.post_auth, Some(chrono::Duration::days(30)));
        assert_eq!(cfg.retention.sessions, Some(chrono::Duration::days(24 * 31)));
        let (_, problems2) = Config::from_vars(&vars(&[("RETENTION_AUTH_LOG_DAYS", "soon")]));
        assert!(problems2.iter().any(|p| p.var == "RETENTION_AUTH_LOG_DAYS" && p.fatal), "{problems2:?}");
        let _ = problems;
    }

    #[test]
    fn unparseable_values_are_fatal_everywhere() {
        let (_, problems) = Config::from_vars(&vars(&[
            ("APP_PORT", "eighty"),
            ("JWT_EXPIRES_IN", "forever"),
            ("SMS_ENABLED", "maybe"),
            ("MPESA_ENV", "live"),
        ]));
        let fatal: Vec<&str> = problems.iter().filter(|p| p.fatal).map(|p| p.var).collect();
        assert_eq!(fatal, vec!["APP_PORT", "JWT_EXPIRES_IN", "MPESA_ENV", "SMS_ENABLED"]);
    }

    #[test]
    fn http_limits_and_trusted_proxies() {
        let (cfg, problems) = Config::from_vars(&vars(&[]));
        assert!(problems.iter().all(|p| !p.var.starts_with("HTTP") && p.var != "TRUSTED_PROXIES"), "{problems:?}");
        assert_eq!(cfg.http, HttpLimits::default());
        assert!(cfg.http.max_connections < 1024, "must fit under the default open-file limit");
        assert_eq!(cfg.trusted_proxies.to_string(), "127.0.0.0/8,::1/128");

        let (cfg, problems) = Config::from_vars(&vars(&[
            ("HTTP_MAX_CONNECTIONS", "20"),
            ("HTTP_HEADER_TIMEOUT_SECS", "2"),
            ("HTTP_REQUEST_TIMEOUT_SECS", "60"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7"),
        ]));
        assert!(problems.iter().all(|p| !p.fatal), "{problems:?}");
        assert_eq!(cfg.http.max_connections, 20);
        assert_eq!(cfg.http.header_timeout, std::time::Duration::from_secs(2));
        assert_eq!(cfg.http.request_timeout, std::time::Duration::from_secs(60));
        assert!(cfg.trusted_proxies.contains("192.0.2.7".parse().unwrap()));
        assert!(!cfg.trusted_proxies.contains("127.0.0.1".parse().unwrap()));

        let (_, problems) = Config::from_vars(&vars(&[
            ("HTTP_MAX_CONNECTIONS", "0"),
            ("HTTP_HEADER_TIMEOUT_SECS", "ten"),
            ("HTTP_REQUEST_TIMEOUT_SECS", "-1"),
            ("TRUSTED_PROXIES", "10.0.0.0/40"),
        ]));
        let fatal: Vec<&str> = problems.iter().filter(|p| p.fatal).map(|p| p.var).collect();
        assert_eq!(
            fatal,
            vec!["HTTP_MAX_CONNECTIONS", "HTTP_HEADER_TIMEOUT_SECS", "HTTP_REQUEST_TIMEOUT_SECS", "TRUSTED_PROXIES"]
        );
    }

    #[test]
    fn lifetimes() {
        assert_eq!(parse_lifetime("7d"), Some(chrono::Duration::days(7)));
        assert_eq!(parse_lifetime("12h"), Some(chrono::Duration::hours(12)));
        assert_eq!(parse_lifetime("3600"), Some(chrono::Duration::seconds(3600)));
        assert_eq!(parse_lifetime("0"), None);
        assert_eq!(parse_lifetime("2y"), None);
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let (cfg, _) = Config::from_vars(&vars(&[("JWT_SECRET", "super-private-value-1234567890abcdef")]));
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("super-private-value"));
        assert!(cfg.redacted().iter().all(|(_, v)| !v.contains("super-private-value")));
    }
}
