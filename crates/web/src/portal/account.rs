//! "My account" at `/hotspot/account`: a customer logs in with their username and
//! password or a code sent by SMS, and sees their package, time and data left,
//! devices, payments and invoices, and renews. The login is a sealed cookie for
//! two hours; the pages only draw what the use cases in `portal_account` answer.

use super::{PackageCard, Visit, bytes_text, field_message, left_text, read_form, see_other, value_of};
use crate::AppState;
use crate::extract::cookie_value;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use broadnet_app::AppError;
use broadnet_app::portal_account::{
    AccountChoice, AccountLogin, AccountRenew, CodeOutcome, CodeRequest, CodeVerify, DeviceRelease, MyAccount,
    SESSION_HOURS,
};
use broadnet_domain::{CustomerStatus, PaymentStatus, Phone};
use chrono::Duration;

const ACCOUNT: &str = "/hotspot/account";
const LOGIN: &str = "/hotspot/account/login";
const ME_COOKIE: &str = "bn_hs_me";
const ME_LABEL: &str = "hs-me";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(ACCOUNT, get(account_page))
        .route(LOGIN, get(login_page).post(login))
        .route("/hotspot/account/code", post(send_code))
        .route("/hotspot/account/code/verify", post(verify_code))
        .route("/hotspot/account/renew", post(renew))
        .route("/hotspot/account/devices/release", post(release))
        .route("/hotspot/account/invoices/{number}", get(invoice))
        .route("/hotspot/account/logout", post(logout))
}

/// The customer this browser is logged in as.
fn session(st: &AppState, headers: &HeaderMap) -> Option<i64> {
    cookie_value(headers, ME_COOKIE).and_then(|c| st.app.portal_open(ME_LABEL, &c)).and_then(|v| v.parse().ok())
}

/// To My account, logged in as `customer_id`.
fn logged_in(st: &AppState, v: &Visit, customer_id: i64) -> Response {
    let mut r = see_other(ACCOUNT);
    let sealed = st.app.portal_seal(ME_LABEL, &customer_id.to_string(), Duration::hours(SESSION_HOURS));
    v.add_cookie(r.headers_mut(), ME_COOKIE, &sealed, SESSION_HOURS * 3600);
    r
}

#[derive(Template)]
#[template(path = "portal/account_login.html")]
struct LoginPage<'a> {
    v: &'a Visit,
    /// `password` or `code`
    by: &'a str,
    message: Option<String>,
    username: String,
    phone: String,
}

#[derive(Template)]
#[template(path = "portal/account_code.html")]
struct CodePage<'a> {
    v: &'a Visit,
    phone: String,
    phone_masked: String,
    message: Option<String>,
    /// A right code, kept for the pick among the number's accounts.
    code: String,
    choices: Vec<AccountChoice>,
}

#[derive(Template)]
#[template(path = "portal/account.html")]
struct AccountPage<'a> {
    v: &'a Visit,
    a: AccountView,
    message: Option<String>,
    notice: Option<&'static str>,
    phone: String,
}

/// My account, ready to draw.
struct AccountView {
    username: String,
    name: String,
    status: &'static str,
    active: bool,
    package: Option<PackageCard>,
    expires: String,
    time_left: String,
    data: Option<(String, String)>,
    is_hotspot: bool,
    devices: Vec<DeviceRow>,
    max_devices: u32,
    phone_masked: String,
    payments: Vec<PaymentRow>,
    invoices: Vec<InvoiceRow>,
}

struct DeviceRow {
    mac: String,
    since: String,
}

struct PaymentRow {
    amount: String,
    receipt: String,
    date: String,
    status: &'static str,
    paid: bool,
}

struct InvoiceRow {
    number: String,
    amount: String,
    date: String,
}

fn status_key(s: CustomerStatus) -> &'static str {
    match s {
        CustomerStatus::Active => "st_active",
        CustomerStatus::Expired => "st_expired",
        CustomerStatus::AwaitingPayment => "st_awaiting",
        CustomerStatus::Suspended => "st_suspended",
        CustomerStatus::Disabled => "st_disabled",
    }
}

fn payment_key(s: PaymentStatus) -> &'static str {
    match s {
        PaymentStatus::Completed => "pay_completed",
        PaymentStatus::Pending => "pay_pending",
        PaymentStatus::Failed => "pay_failed",
        PaymentStatus::Cancelled => "pay_cancelled",
        PaymentStatus::Expired => "pay_expired",
    }
}

async fn account_view(st: &AppState, v: &Visit, m: MyAccount) -> AccountView {
    let when = |t| async move { st.app.format_time(t).await.unwrap_or_default() };
    let mut devices = Vec::new();
    for d in &m.status.devices {
        devices.push(DeviceRow { mac: d.mac.to_string(), since: when(d.last_seen_at.unwrap_or(d.created_at)).await });
    }
    let mut payments = Vec::new();
    for p in &m.payments {
        payments.push(PaymentRow {
            amount: format!("{} {}", p.currency, p.amount),
            receipt: p.provider_receipt.clone().unwrap_or_default(),
            date: when(p.completed_at.unwrap_or(p.created_at)).await,
            status: v.t(payment_key(p.status)),
            paid: p.status == PaymentStatus::Completed,
        });
    }
    let mut invoices = Vec::new();
    for i in &m.invoices {
        invoices.push(InvoiceRow {
            number: i.number.clone(),
            amount: format!("{} {}", i.currency, i.amount),
            date: when(i.issued_at).await,
        });
    }
    let expires = match m.status.expires_at {
        Some(t) => when(t).await,
        None => String::new(),
    };
    AccountView {
        username: m.customer.username.to_string(),
        name: m.customer.full_name.clone(),
        status: v.t(status_key(m.customer.status)),
        active: m.status.active,
        package: m.status.package.as_ref().map(|p| PackageCard::of(v.l, p)),
        expires,
        time_left: left_text(v.l, m.status.seconds_left),
        data: m.status.data.as_ref().map(|d| (bytes_text(d.used), bytes_text(d.left()))),
        is_hotspot: m.is_hotspot,
        devices,
        max_devices: m.status.max_devices,
        phone_masked: m.phone_masked,
        payments,
        invoices,
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct LoginQuery {
    by: Option<String>,
}

async fn login_page(State(st): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let v = Visit::of(&st, &headers).await;
    if session(&st, &headers).is_some() {
        return see_other(ACCOUNT);
    }
    let by = if q.by.as_deref() == Some("code") { "code" } else { "password" };
    v.page(StatusCode::OK, &LoginPage { v: &v, by, message: None, username: String::new(), phone: String::new() })
}

async fn login(State(st): State<AppState>, req: Request) -> Response {
    let (v, ip, pairs) = read_form(&st, req).await;
    let pairs = match pairs {
        Ok(p) => p,
        Err(e) => return v.error(&e),
    };
    let data: AccountLogin = match broadnet_app::input::from_pairs(pairs.clone()) {
        Ok(d) => d,
        Err(e) => return v.error(&e),
    };
    match st.app.account_login(&ip, data).await {
        Ok(id) => logged_in(&st, &v, id),
        Err(e) => match field_message(&v, &e) {
            Some(m) => {
                let page = LoginPage {
                    v: &v,
                    by: "password",
                    message: Some(m),
                    username: value_of(&pairs, "username"),
                    phone: String::new(),
                };
                v.page(StatusCode::UNPROCESSABLE_ENTITY, &page)
            }
            None => v.error(&e),
        },
    }
}

async fn send_code(State(st): State<AppState>, req: Request) -> Response {
    let (v, ip, pairs) = read_form(&st, req).await;
    let pairs = match pairs {
        Ok(p) => p,
        Err(e) => return v.error(&e),
    };
    let data: CodeRequest = match broadnet_app::input::from_pairs(pairs.clone()) {
        Ok(d) => d,
        Err(e) => return v.error(&e),
    };
    match st.app.account_send_code(&ip, data).await {
        Ok(phone) => code_page(&v, &phone, None, String::new(), Vec::new(), StatusCode::OK),
        Err(e) => match field_message(&v, &e) {
            Some(m) => {
                let page = LoginPage {
                    v: &v,
                    by: "code",
                    message: Some(m),
                    username: String::new(),
                    phone: value_of(&pairs, "phone"),
                };
                v.page(StatusCode::UNPROCESSABLE_ENTITY, &page)
            }
            None => v.error(&e),
        },
    }
}

fn code_page(
    v: &Visit,
    phone: &Phone,
    message: Option<String>,
    code: String,
    choices: Vec<AccountChoice>,
    status: StatusCode,
) -> Response {
    let page = CodePage {
        v,
        phone: phone.local(),
        phone_masked: broadnet_app::portal::mask_phone(phone),
        message,
        code,
        choices,
    };
    v.page(status, &page)
}

async fn verify_code(State(st): State<AppState>, req: Request) -> Response {
    let (v, ip, pairs) = read_form(&st, req).await;
    let pairs = match pairs {
        Ok(p) => p,
        Err(e) => return v.error(&e),
    };
    let data: CodeVerify = match broadnet_app::input::from_pairs(pairs.clone()) {
        Ok(d) => d,
        Err(e) => return v.error(&e),
    };
    let Ok(phone) = Phone::parse(&value_of(&pairs, "phone")) else {
        return v.error(&AppError::field("phone", "must be a Kenyan mobile number"));
    };
    match st.app.account_verify_code(&ip, data).await {
        Ok(CodeOutcome::LoggedIn(id)) => logged_in(&st, &v, id),
        Ok(CodeOutcome::Choose(choices)) => {
            code_page(&v, &phone, None, value_of(&pairs, "code"), choices, StatusCode::OK)
        }
        Err(e) => match field_message(&v, &e) {
            Some(m) => code_page(&v, &phone, Some(m), String::new(), Vec::new(), StatusCode::UNPROCESSABLE_ENTITY),
            None => v.error(&e),
        },
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct AccountQuery {
    done: Option<String>,
}

async fn account_page(State(st): State<AppState>, headers: HeaderMap, Query(q): Query<AccountQuery>) -> Response {
    let v = Visit::of(&st, &headers).await;
    let Some(id) = session(&st, &headers) else { return see_other(LOGIN) };
    let notice = match q.done.as_deref() {
        Some("released") => Some("device_released"),
        _ => None,
    };
    render_account(&st, &v, id, None, notice, String::new(), StatusCode::OK).await
}

async fn render_account(
    st: &AppState,
    v: &Visit,
    id: i64,
    message: Option<String>,
    notice: Option<&'static str>,
    phone: String,
    status: StatusCode,
) -> Response {
    match st.app.my_account(id).await {
        Ok(m) => {
            let a = account_view(st, v, m).await;
            v.page(status, &AccountPage { v, a, message, notice, phone })
        }
        // The customer was deleted since: log in again.
        Err(AppError::NotFound(_)) => signed_out(v),
        Err(e) => v.error(&e),
    }
}

fn signed_out(v: &Visit) -> Response {
    let mut r = see_other(LOGIN);
    v.add_cookie(r.headers_mut(), ME_COOKIE, "", 0);
    r
}

async fn renew(State(st): State<AppState>, req: Request) -> Response {
    let me = session(&st, req.headers());
    let (v, ip, pairs) = read_form(&st, req).await;
    let pairs = match pairs {
        Ok(p) => p,
        Err(e) => return v.error(&e),
    };
    let Some(id) = me else { return see_other(LOGIN) };
    let data: AccountRenew = match broadnet_app::input::from_pairs(pairs.clone()) {
        Ok(d) => d,
        Err(e) => return v.error(&e),
    };
    match st.app.account_renew(&v.ctx, &ip, id, data).await {
        Ok(order) => see_other(&format!("/hotspot/order/{}", order.token)),
        Err(e) => match field_message(&v, &e) {
            Some(m) => {
                let phone = value_of(&pairs, "phone");
                render_account(&st, &v, id, Some(m), None, phone, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => v.error(&e),
        },
    }
}

async fn release(State(st): State<AppState>, req: Request) -> Response {
    let me = session(&st, req.headers());
    let (v, _ip, pairs) = read_form(&st, req).await;
    let pairs = match pairs {
        Ok(p) => p,
        Err(e) => return v.error(&e),
    };
    let Some(id) = me else { return see_other(LOGIN) };
    let data: DeviceRelease = match broadnet_app::input::from_pairs(pairs) {
        Ok(d) => d,
        Err(e) => return v.error(&e),
    };
    match st.app.account_release_device(id, data).await {
        Ok(()) => see_other("/hotspot/account?done=released"),
        Err(e) => match field_message(&v, &e) {
            Some(m) => {
                render_account(&st, &v, id, Some(m), None, String::new(), StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => v.error(&e),
        },
    }
}

async fn invoice(State(st): State<AppState>, headers: HeaderMap, Path(number): Path<String>) -> Response {
    let v = Visit::of(&st, &headers).await;
    let Some(id) = session(&st, &headers) else { return see_other(LOGIN) };
    match st.app.account_invoice_pdf(id, &number).await {
        Ok((number, pdf)) => {
            let mut r = pdf.into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            let safe: String = number.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            if let Ok(d) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}.pdf\"")) {
                h.insert(header::CONTENT_DISPOSITION, d);
            }
            r
        }
        Err(AppError::NotFound(_)) => {
            v.page(StatusCode::NOT_FOUND, &super::ErrorPage { v: &v, message: v.t("invoice_missing").to_string() })
        }
        Err(e) => v.error(&e),
    }
}

async fn logout(State(st): State<AppState>, req: Request) -> Response {
    let (v, _ip, pairs) = read_form(&st, req).await;
    if let Err(e) = pairs {
        return v.error(&e);
    }
    signed_out(&v)
}
