//! The hotspot captive portal at `/hotspot`: what a phone on the Wi-Fi sees. The
//! router's login page hands the phone over (a POST or GET with the router's
//! variables), the portal keeps them in a signed cookie, and every way of getting
//! online (paying, an M-Pesa code, a voucher, coming back) ends with the router's
//! login form filled in and sent by the page itself.
//!
//! Pages are small (no library; one CSS and one JS file), work in the captive
//! mini-browser, in English and Kiswahili, and without JavaScript (a form to tap).
//! Forms carry a proof of this browser's nonce cookie (double submit) and must be
//! same-origin; the hand-off from the router is the only cross-site form accepted,
//! and it can only set the router context.

pub(crate) mod account;
pub(crate) mod i18n;

use crate::AppState;
use crate::admin::assets::asset;
use crate::extract::{check_same_origin, cookie_value};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use broadnet_app::AppError;
use broadnet_app::portal::{
    AccountStatus, HotspotLogin, OrderView, PortalBuy, PortalClaim, PortalVoucher, RouterContext,
};
use broadnet_domain::billing::StkOutcome;
use broadnet_store::Package;
use chrono::Duration;
use i18n::{LANG_COOKIE, Lang};

pub const HOME: &str = "/hotspot";
const CTX_COOKIE: &str = "bn_hs";
const NONCE_COOKIE: &str = "bn_hs_n";
const ACCOUNT_COOKIE: &str = "bn_hs_a";
const PROOF_FIELD: &str = "_proof";
const FORM_LIMIT: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(HOME, get(home).post(handoff))
        .route("/hotspot/", get(|| async { Redirect::to(HOME) }))
        .route("/hotspot/buy", post(buy))
        .route("/hotspot/voucher", post(voucher))
        .route("/hotspot/claim", post(claim))
        .route("/hotspot/order/{token}", get(order_page))
        .route("/hotspot/order/{token}/status", get(order_fragment))
        .route("/hotspot/order/{token}/retry", post(retry))
        .route("/hotspot/status", get(status_page))
        .route("/hotspot/lang/{code}", get(set_lang))
        .merge(account::router())
        .layer(axum::middleware::from_fn(crate::admin::gzip::gzip_html))
}

/// What every portal page knows: the language, the ISP's name, the router context,
/// and the form proof.
pub(crate) struct Visit {
    pub l: Lang,
    pub isp: String,
    pub ctx: RouterContext,
    pub proof: String,
    /// A nonce cookie to set (the browser had none).
    new_nonce: Option<String>,
    secure: bool,
}

impl Visit {
    pub(crate) async fn of(st: &AppState, headers: &HeaderMap) -> Visit {
        let mut v = Visit::bare(st, headers);
        v.isp = st.app.isp_name().await.unwrap_or_else(|_| "Wi-Fi".into());
        v
    }

    /// Without the ISP's name (a database read): for the waiting screen's poll, whose
    /// box does not show it.
    pub(crate) fn bare(st: &AppState, headers: &HeaderMap) -> Visit {
        let ctx = cookie_value(headers, CTX_COOKIE)
            .and_then(|c| st.app.portal_open("hs-ctx", &c))
            .and_then(|v| B64.decode(v).ok())
            .and_then(|b| serde_json::from_slice::<RouterContext>(&b).ok())
            .unwrap_or_default();
        let nonce =
            cookie_value(headers, NONCE_COOKIE).filter(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()));
        let (nonce, new_nonce) = match nonce {
            Some(n) => (n, None),
            None => {
                let n = broadnet_app::portal::new_token();
                (n.clone(), Some(n))
            }
        };
        Visit {
            l: Lang::of(headers),
            isp: String::new(),
            ctx,
            proof: st.app.tokens.sign("portal-form", &nonce),
            new_nonce,
            secure: st.secure_cookies,
        }
    }

    pub(crate) fn t(&self, key: &str) -> &'static str {
        self.l.t(key)
    }

    pub(crate) fn css(&self) -> String {
        asset("/portal.css")
    }

    pub(crate) fn js(&self) -> String {
        asset("/portal.js")
    }

    /// The page, with the nonce cookie when new, never cached, and a CSP whose
    /// `form-action` lets the login form go to the router.
    pub(crate) fn page(&self, status: StatusCode, t: &impl Template) -> Response {
        let mut r = match t.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "portal page: template failed to render");
                return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            }
        };
        let h = r.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::VARY, HeaderValue::from_static("Accept-Language, Cookie"));
        let router = self
            .ctx
            .link_login_only
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let csp = format!(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self' {router}"
        );
        if let Ok(v) = HeaderValue::from_str(csp.trim_end()) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        if let Some(n) = &self.new_nonce {
            self.add_cookie(h, NONCE_COOKIE, n, 86_400);
        }
        r
    }

    pub(crate) fn add_cookie(&self, h: &mut HeaderMap, name: &str, value: &str, max_age: i64) {
        let secure = if self.secure { "; Secure" } else { "" };
        let c = format!("{name}={value}; Path=/hotspot; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }

    /// An error as a page: the use case's words in this language, what to do next.
    pub(crate) fn error(&self, e: &AppError) -> Response {
        let (status, message) = match e {
            AppError::RateLimited { retry_after_secs } => {
                (StatusCode::TOO_MANY_REQUESTS, format!("{} ({retry_after_secs} s)", self.t("too_many")))
            }
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, self.t("form_expired").to_string()),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, self.t("order_missing").to_string()),
            AppError::Validation(errs) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                errs.values().flatten().map(|m| self.l.msg(m)).collect::<Vec<_>>().join(" "),
            ),
            AppError::InUse(m) | AppError::Upstream(m) => (StatusCode::CONFLICT, self.l.msg(m)),
            other => {
                tracing::error!(error = %other, "portal: request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, self.t("error_title").to_string())
            }
        };
        let mut r = self.page(status, &ErrorPage { v: self, message });
        if let AppError::RateLimited { retry_after_secs } = e
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }

    /// `Some(fields)` when a portal form is ours: same origin and this browser's proof.
    fn check(&self, headers: &HeaderMap, pairs: &mut Vec<(String, String)>) -> Result<(), AppError> {
        let sent = pairs.iter().find(|(k, _)| k == PROOF_FIELD).map(|(_, v)| v.clone()).unwrap_or_default();
        pairs.retain(|(k, _)| k != PROOF_FIELD);
        let nonce = cookie_value(headers, NONCE_COOKIE).unwrap_or_default();
        use subtle::ConstantTimeEq;
        if self.new_nonce.is_some() || !bool::from(self.proof.as_bytes().ct_eq(sent.as_bytes())) || nonce.is_empty() {
            return Err(AppError::Forbidden("portal form proof"));
        }
        Ok(())
    }
}

/// A portal form: urlencoded, same origin, with this browser's proof.
pub(crate) async fn read_form(st: &AppState, req: Request) -> (Visit, String, Result<Vec<(String, String)>, AppError>) {
    let (parts, body) = req.into_parts();
    let v = Visit::of(st, &parts.headers).await;
    let ip = crate::extract::client_ip(&parts, &st.trusted_proxies);
    if check_same_origin(&parts, &st.app.gateway_env().public_url).is_err() {
        return (v, ip, Err(AppError::Forbidden("cross-site form")));
    }
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return (v, ip, Err(AppError::field("form", "the form is too large")));
    };
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let checked = v.check(&parts.headers, &mut pairs).map(|()| pairs);
    (v, ip, checked)
}

fn minutes_text(l: Lang, minutes: i64) -> String {
    if minutes % 1440 == 0 {
        let d = minutes / 1440;
        format!("{d} {}", if d == 1 { l.t("day") } else { l.t("days") })
    } else if minutes % 60 == 0 {
        format!("{} {}", minutes / 60, l.t("hours"))
    } else {
        format!("{minutes} {}", l.t("minutes"))
    }
}

pub(crate) fn left_text(l: Lang, secs: i64) -> String {
    let m = secs.max(0) / 60;
    if m >= 1440 {
        let d = m / 1440;
        format!("{d} {} {} {}", if d == 1 { l.t("day") } else { l.t("days") }, (m % 1440) / 60, l.t("hours"))
    } else if m >= 60 {
        format!("{} {} {} {}", m / 60, l.t("hours"), m % 60, l.t("minutes"))
    } else {
        format!("{m} {}", l.t("minutes"))
    }
}

fn speed_text(bps: u64) -> String {
    if bps >= 1_000_000 && bps.is_multiple_of(1_000_000) {
        format!("{} Mbps", bps / 1_000_000)
    } else if bps >= 1_000_000 {
        format!("{:.1} Mbps", bps as f64 / 1e6)
    } else {
        format!("{} kbps", bps / 1000)
    }
}

pub(crate) fn bytes_text(b: u64) -> String {
    if b >= 1_000_000_000 { format!("{:.1} GB", b as f64 / 1e9) } else { format!("{} MB", b / 1_000_000) }
}

/// A package as a card shows it.
pub(crate) struct PackageCard {
    pub id: i64,
    pub name: String,
    pub price: String,
    pub validity: String,
    pub speed: String,
    pub data: String,
    pub devices: i32,
}

impl PackageCard {
    pub(crate) fn of(l: Lang, p: &Package) -> Self {
        PackageCard {
            id: p.id,
            name: p.name.clone(),
            price: format!("KES {}", p.price),
            validity: minutes_text(l, p.duration_minutes),
            speed: speed_text(p.download_bps),
            data: match p.data_limit_mb {
                Some(mb) => bytes_text(u64::try_from(mb).unwrap_or(0) * 1_000_000),
                None => l.t("unlimited").to_string(),
            },
            devices: p.shared_users.max(1),
        }
    }
}

/// The router's login form, filled in (the page sends it by itself).
pub(crate) struct LoginForm {
    pub action: String,
    pub username: String,
    pub password: String,
    pub chap_id: String,
    pub chap_challenge: String,
    pub dst: String,
}

impl LoginForm {
    pub(crate) fn of(st: &AppState, ctx: &RouterContext, login: &HotspotLogin) -> Option<LoginForm> {
        let action = ctx.link_login_only.clone()?;
        Some(LoginForm {
            action,
            username: login.username.clone(),
            password: login.password.clone(),
            chap_id: ctx.chap_id.clone().unwrap_or_default(),
            chap_challenge: ctx.chap_challenge.clone().unwrap_or_default(),
            dst: format!("{}/hotspot/status", st.app.gateway_env().public_url.trim_end_matches('/')),
        })
    }
}

#[derive(Template)]
#[template(path = "portal/error.html")]
struct ErrorPage<'a> {
    v: &'a Visit,
    message: String,
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage<'a> {
    v: &'a Visit,
    tab: &'a str,
    packages: Vec<PackageCard>,
    chosen: Option<PackageCard>,
    airtel: bool,
    voucher: String,
    router_error: Option<String>,
    message: Option<String>,
    phone: String,
    /// The M-Pesa code as typed, shown again with its error.
    code: String,
    /// A device coming back with time left: logged in at once.
    returning: Option<LoginForm>,
}

#[derive(Template)]
#[template(path = "portal/wait.html")]
struct WaitPage<'a> {
    v: &'a Visit,
    o: WaitView,
}

#[derive(Template)]
#[template(path = "portal/wait_box.html")]
struct WaitBox<'a> {
    v: &'a Visit,
    o: WaitView,
}

#[derive(Template)]
#[template(path = "portal/login.html")]
struct LoginPage<'a> {
    v: &'a Visit,
    form: Option<LoginForm>,
    username: String,
    password: String,
    show_password: bool,
}

#[derive(Template)]
#[template(path = "portal/status.html")]
struct StatusPage<'a> {
    v: &'a Visit,
    a: Option<StatusView>,
    continue_to: Option<String>,
}

/// The waiting screen's state, ready to draw.
pub(crate) struct WaitView {
    pub token: String,
    pub package: PackageCard,
    pub amount: String,
    pub phone: String,
    /// waiting | paid | cancelled | timed_out | insufficient | failed
    pub state: &'static str,
    pub provider_message: Option<String>,
    pub receipt: Option<String>,
    pub seconds_left: i64,
    pub paybill: Option<(String, String)>,
    pub login: Option<LoginForm>,
    pub username: String,
    pub password: String,
    pub airtel: bool,
    pub kind: String,
}

impl WaitView {
    fn of(st: &AppState, v: &Visit, o: OrderView) -> Self {
        let airtel = o.provider == broadnet_domain::PaymentProvider::Airtel;
        let state = match o.outcome {
            StkOutcome::Waiting => "waiting",
            StkOutcome::Paid => "paid",
            StkOutcome::Cancelled => "cancelled",
            StkOutcome::TimedOut => "timed_out",
            StkOutcome::InsufficientFunds => "insufficient",
            StkOutcome::Failed => "failed",
        };
        let (username, password) =
            o.login.as_ref().map(|l| (l.username.clone(), l.password.clone())).unwrap_or_default();
        WaitView {
            package: PackageCard::of(v.l, &o.package),
            amount: format!("KES {}", o.amount),
            phone: o.phone_masked,
            state,
            provider_message: o.provider_message,
            receipt: o.receipt,
            seconds_left: o.seconds_left,
            paybill: o.paybill,
            login: o.login.as_ref().and_then(|l| LoginForm::of(st, &v.ctx, l)).filter(|_| o.kind == "purchase"),
            username,
            password,
            airtel,
            kind: o.kind,
            token: o.token,
        }
    }
}

/// The status page's account, ready to draw.
pub(crate) struct StatusView {
    pub username: String,
    pub package: Option<PackageCard>,
    pub active: bool,
    pub time_left: String,
    pub expires: String,
    pub data_left: Option<String>,
    /// "1 of 2"
    pub devices: String,
}

async fn status_view(st: &AppState, l: Lang, a: AccountStatus) -> StatusView {
    let expires = match a.expires_at {
        Some(t) => st.app.format_time(t).await.unwrap_or_default(),
        None => String::new(),
    };
    StatusView {
        data_left: a.data.as_ref().map(|d| format!("{} / {}", bytes_text(d.left()), bytes_text(d.limit))),
        devices: format!("{} / {}", a.devices.len(), a.max_devices),
        username: a.username,
        package: a.package.as_ref().map(|p| PackageCard::of(l, p)),
        active: a.active,
        time_left: left_text(l, a.seconds_left),
        expires,
    }
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The router context from the hand-off's fields, sealed into the cookie.
fn set_context(st: &AppState, v: &Visit, h: &mut HeaderMap, ctx: &RouterContext) {
    if let Ok(json) = serde_json::to_vec(ctx) {
        let sealed = st.app.portal_seal("hs-ctx", &B64.encode(json), Duration::days(1));
        v.add_cookie(h, CTX_COOKIE, &sealed, 86_400);
    }
}

fn has_router_fields(pairs: &[(String, String)]) -> bool {
    pairs.iter().any(|(k, _)| matches!(k.as_str(), "mac" | "link-login-only" | "link_login_only" | "chap-id"))
}

/// The hand-off from the router's login page (a cross-site POST): keep the router's
/// variables, then show the portal.
async fn handoff(State(st): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let v = Visit::of(&st, &headers).await;
    // A router's hand-off is a few hundred bytes: anything far larger is not one, and
    // is ignored whole rather than cut in the middle of a field.
    let body: &[u8] = if body.len() <= FORM_LIMIT { &body } else { &[] };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let ctx = RouterContext::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut r = see_other(HOME);
    set_context(&st, &v, r.headers_mut(), &ctx);
    r
}

/// What the phone typed into a form that came back with an error.
#[derive(Default)]
struct Typed {
    phone: String,
    code: String,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct HomeQuery {
    tab: Option<String>,
    package: Option<String>,
    voucher: Option<String>,
}

async fn home(
    State(st): State<AppState>,
    headers: HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let v = Visit::of(&st, &headers).await;
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    if has_router_fields(&pairs) {
        // The hand-off as a GET: keep the context, drop it from the address bar.
        let ctx = RouterContext::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut r = see_other(HOME);
        set_context(&st, &v, r.headers_mut(), &ctx);
        return r;
    }
    let q: HomeQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    render_home(&st, &v, q, None, Typed::default()).await
}

async fn render_home(st: &AppState, v: &Visit, q: HomeQuery, message: Option<String>, typed: Typed) -> Response {
    let packages = match st.app.portal_packages().await {
        Ok(p) => p,
        Err(e) => return v.error(&e),
    };
    let chosen = q
        .package
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .and_then(|id| packages.iter().find(|p| p.id == id))
        .map(|p| PackageCard::of(v.l, p));
    let voucher = q.voucher.as_deref().and_then(broadnet_domain::hotspot::normalise_voucher_code).unwrap_or_default();
    let tab = match q.tab.as_deref() {
        Some("voucher") => "voucher",
        Some("paid") => "paid",
        _ if !voucher.is_empty() => "voucher",
        _ => "buy",
    };
    let airtel = st.app.active_provider().await.is_ok_and(|p| p == broadnet_domain::PaymentProvider::Airtel);
    let returning = match st.app.portal_returning(&v.ctx).await {
        Ok(Some(login)) => LoginForm::of(st, &v.ctx, &login),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "portal: returning-device check failed");
            None
        }
    };
    let page = HomePage {
        v,
        tab,
        packages: packages.iter().map(|p| PackageCard::of(v.l, p)).collect(),
        chosen,
        airtel,
        voucher,
        router_error: match v.ctx.error.as_deref() {
            Some(e) => Some(v.l.msg(e)),
            None => st.app.portal_device_note(&v.ctx).await.ok().flatten().map(|m| v.l.msg(&m)),
        },
        message,
        phone: typed.phone,
        code: typed.code,
        returning,
    };
    let status = if page.message.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    v.page(status, &page)
}

fn field_message(v: &Visit, e: &AppError) -> Option<String> {
    match e {
        AppError::Validation(errs) => Some(errs.values().flatten().map(|m| v.l.msg(m)).collect::<Vec<_>>().join(" ")),
        AppError::InUse(m) | AppError::Upstream(m) => Some(v.l.msg(m)),
        _ => None,
    }
}

fn value_of(pairs: &[(String, String)], key: &str) -> String {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
}

async fn buy(State(st): State<AppState>, req: Request) -> Response {
    let (v, ip, pairs) = read_form(&st, req).await;
    let pairs = match pairs {
        Ok(p) => p,
        Err(e) => return v.error(&e),
    };
    let data: PortalBuy = match broadnet_app::input::from_pairs(pairs.clone()) {
        Ok(d) => d,
        Err(e) => return v.error(&e),
    };
    match st.app.portal_buy(&v.ctx, &ip, data).await {
        Ok(order) => see_other(&format!("/hotspot/order/{}", order.token)),
        Err(e) => match field_message(&v, &e) {
            Some(m) => {
                let q = HomeQuery { package: Some(value_of(&pairs, "package_id")), ..Default::default() };
                let typed = Typed { phone: value_of(&pairs, "phone"), ..Default::default() };
                render_home(&st, &v, q, Some(m), typed).await
            }
            None => v.error(&e),
        },
    }
}

/// Credentials to log in with: the page that sends the router's form, or (no router
/// context) the credentials to type.
fn login_page(st: &AppState, v: &Visit, login: &HotspotLogin, show_password: bool) -> Response {
    let page = LoginPage {
        v,
        form: LoginForm::of(st, &v.ctx, login),
        username: login.username.clone(),
        password: login.password.clone(),
        show_password,
    };
    let mut r = v.page(StatusCode::OK, &page);
    remember_account(st, v, r.headers_mut(), &login.username);
    r
}

/// The account this browser logged in with, for its status page.
fn remember_account(st: &AppState, v: &Visit, h: &mut HeaderMap, username: &str) {
    let sealed = st.app.portal_seal("hs-account", username, Duration::days(30));
    v.add_cookie(h, ACCOUNT_COOKIE, &sealed, 30 * 86_400);
}

async fn voucher(State(st): State<AppState>, req: Request) -> Response {
    let (v, ip, pairs) = read_form(&st, req).await;
    let pairs = match pairs {
        Ok(p) => p,
        Err(e) => return v.error(&e),
    };
    let data: PortalVoucher = match broadnet_app::input::from_pairs(pairs.clone()) {
        Ok(d) => d,
        Err(e) => return v.error(&e),
    };
    match st.app.portal_voucher(&v.ctx, &ip, data).await {
        Ok(login) => login_page(&st, &v, &login, false),
        Err(e) => match field_message(&v, &e) {
            Some(m) => {
                let q = HomeQuery {
                    tab: Some("voucher".into()),
                    voucher: Some(value_of(&pairs, "code")),
                    ..Default::default()
                };
                render_home(&st, &v, q, Some(m), Typed::default()).await
            }
            None => v.error(&e),
        },
    }
}

async fn claim(State(st): State<AppState>, req: Request) -> Response {
    let (v, ip, pairs) = read_form(&st, req).await;
    let pairs = match pairs {
        Ok(p) => p,
        Err(e) => return v.error(&e),
    };
    let data: PortalClaim = match broadnet_app::input::from_pairs(pairs.clone()) {
        Ok(d) => d,
        Err(e) => return v.error(&e),
    };
    match st.app.portal_claim(&v.ctx, &ip, data).await {
        Ok(login) => login_page(&st, &v, &login, true),
        Err(e) => match field_message(&v, &e) {
            Some(m) => {
                let q = HomeQuery { tab: Some("paid".into()), ..Default::default() };
                let typed = Typed { phone: value_of(&pairs, "phone"), code: value_of(&pairs, "code") };
                render_home(&st, &v, q, Some(m), typed).await
            }
            None => v.error(&e),
        },
    }
}

async fn wait_view(st: &AppState, v: &Visit, token: &str) -> Result<WaitView, AppError> {
    let o = st.app.portal_order(token).await?;
    Ok(WaitView::of(st, v, o))
}

async fn order_page(State(st): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let v = Visit::of(&st, &headers).await;
    match wait_view(&st, &v, &token).await {
        Ok(o) => {
            let paid = (o.state == "paid").then(|| o.username.clone());
            let mut r = v.page(StatusCode::OK, &WaitPage { v: &v, o });
            if let Some(u) = paid {
                remember_account(&st, &v, r.headers_mut(), &u);
            }
            r
        }
        Err(e) => v.error(&e),
    }
}

/// The waiting screen's poll: only the box, small and quick.
async fn order_fragment(State(st): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let v = Visit::bare(&st, &headers);
    match wait_view(&st, &v, &token).await {
        Ok(o) => {
            let paid = (o.state == "paid").then(|| o.username.clone());
            let mut r = v.page(StatusCode::OK, &WaitBox { v: &v, o });
            if let Some(u) = paid {
                remember_account(&st, &v, r.headers_mut(), &u);
            }
            r
        }
        Err(e) => v.error(&e),
    }
}

async fn retry(State(st): State<AppState>, Path(token): Path<String>, req: Request) -> Response {
    let (v, ip, pairs) = read_form(&st, req).await;
    if let Err(e) = pairs {
        return v.error(&e);
    }
    match st.app.portal_retry(&token, &v.ctx, &ip).await {
        Ok(order) => see_other(&format!("/hotspot/order/{}", order.token)),
        Err(e) => v.error(&e),
    }
}

async fn status_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let v = Visit::of(&st, &headers).await;
    let username = cookie_value(&headers, ACCOUNT_COOKIE).and_then(|c| st.app.portal_open("hs-account", &c));
    let username = match username {
        Some(u) => Some(u),
        None => st.app.portal_device_account(&v.ctx).await.ok().flatten(),
    };
    let a = match username {
        Some(u) => match st.app.hotspot_account(&u).await {
            Ok(a) => Some(status_view(&st, v.l, a).await),
            Err(AppError::NotFound(_)) => None,
            Err(e) => return v.error(&e),
        },
        None => None,
    };
    let continue_to = v.ctx.link_orig.clone().filter(|u| !u.contains("/hotspot"));
    v.page(StatusCode::OK, &StatusPage { v: &v, a, continue_to })
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Back {
    back: Option<String>,
}

/// The language switch: remembered for a year, back to the page it was on.
async fn set_lang(State(st): State<AppState>, Path(code): Path<String>, Query(q): Query<Back>) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::En);
    let back = q.back.filter(|b| b.starts_with("/hotspot") && !b.starts_with("//")).unwrap_or_else(|| HOME.into());
    let mut r = see_other(&back);
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    if let Ok(v) =
        HeaderValue::from_str(&format!("{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000{secure}", lang.code()))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}
