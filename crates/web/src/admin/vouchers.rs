//! `/vouchers`: voucher batches (list with sold/used/unused counts, the "New batch"
//! form, a batch's vouchers), revoking with a reason, the CSV download, and the print
//! pages (A4 grid with cut lines, 58 mm and 80 mm thermal slips) with a QR code per
//! card drawn as inline SVG. Same use cases as `/api/vouchers`.

use super::extract::{Form, Page, PageError};
use super::form::{self, Field, FieldSpec, Kind};
use super::pager::{self, Pager};
use super::render::{Layout, html};
use super::urls;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use broadnet_app::vouchers::{
    BatchRequest, BatchView, PrintCard, PrintSelection, PrintSheet, RevokeRequest, VoucherListQuery, VoucherView,
};
use broadnet_app::{AppError, FieldErrors};
use broadnet_domain::{ServiceType, VoucherMode, VoucherValidity};
use chrono::{DateTime, FixedOffset, Utc};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(urls::VOUCHERS, get(list).post(create))
        .route(urls::VOUCHER_NEW, get(new))
        .route(urls::VOUCHER_PRINT, get(print_selected))
        .route(urls::VOUCHER_BATCH_ROUTE, get(detail))
        .route(urls::VOUCHER_BATCH_REVOKE_ROUTE, get(confirm_batch).post(revoke_batch))
        .route(urls::VOUCHER_BATCH_CSV_ROUTE, get(csv))
        .route(urls::VOUCHER_BATCH_PRINT_ROUTE, get(print_batch))
        .route(urls::VOUCHER_REVOKE_ROUTE, get(confirm_one).post(revoke_one))
}

type Params = Query<Vec<(String, String)>>;

/// `1,500.00`
fn money(minor: i64) -> String {
    super::fmt::money(minor)
}

fn count(n: u64) -> String {
    super::fmt::count(n as i64)
}

// ---------------------------------------------------------------- batch list

#[derive(Template)]
#[template(path = "vouchers/list.html")]
struct List {
    l: Layout,
    p: Pager,
    batches: Vec<BatchView>,
    zone: FixedOffset,
}

impl List {
    fn when(&self, t: &DateTime<Utc>) -> String {
        super::fmt::when(t, &self.zone)
    }
    fn money(&self, b: &BatchView) -> String {
        money(b.price_minor)
    }
    fn count(&self, n: &u64) -> String {
        count(*n)
    }
    fn qty(&self, b: &BatchView) -> String {
        count(u64::from(b.quantity))
    }
}

async fn list(State(st): State<AppState>, p: Page, Query(q): Params) -> Result<Response, PageError> {
    let q = super::payments::filled(q);
    let (zone, _) = st.app.local_zone().await?;
    let page = st.app.list_voucher_batches_query(&p.session, q.clone()).await?;
    let pager = Pager::new(urls::VOUCHERS, &q, &page);
    let l = Layout::new(&p, "Vouchers", "Vouchers");
    Ok(html(StatusCode::OK, &List { l, p: pager, batches: page.items, zone }))
}

// ---------------------------------------------------------------- new batch

const CHARSETS: &[(&str, &str)] =
    &[("digits", "Digits 2–9"), ("letters", "Letters (no I, L, O)"), ("mixed", "Digits and letters")];
const MODES: &[(&str, &str)] = &[("code", "Code only (the code is the password)"), ("pin", "Code and PIN")];
const VALIDITIES: &[(&str, &str)] =
    &[("first_use", "From first use, for the package's duration"), ("fixed", "Until a fixed date")];

/// The "New batch" form in order: `(name, label, hint, kind)`.
const FIELDS: &[FieldSpec] = &[
    ("package_id", "Package", "Hotspot packages that are active", Kind::Select(&[])),
    ("quantity", "Quantity", "How many vouchers: 1 to 10,000", Kind::Text),
    ("name", "Batch name", "Optional, for you: e.g. Market day. Default: package and date", Kind::Text),
    ("prefix", "Prefix", "Optional, up to 8 characters before each code, e.g. BN", Kind::Text),
    ("code_length", "Code length", "Characters after the prefix (default 8)", Kind::Text),
    ("charset", "Characters", "0, O, 1, I and L are never used", Kind::Select(CHARSETS)),
    ("mode", "Login with", "", Kind::Select(MODES)),
    ("pin_length", "PIN length", "For code and PIN: 4 to 6 digits", Kind::Text),
    ("validity", "Validity", "", Kind::Select(VALIDITIES)),
    ("valid_until", "Valid until", "For a fixed date: 2026-12-31 or 2026-12-31 18:00, your time zone", Kind::Text),
    ("max_devices", "Devices per voucher", "Default: the package's shared users", Kind::Text),
    ("price", "Price (KES)", "Of one voucher; default: the package's price", Kind::Text),
];

#[derive(Template)]
#[template(path = "vouchers/form.html")]
struct FormPage {
    l: Layout,
    fields: Vec<Field>,
    other_errors: Vec<String>,
    /// No hotspot package to sell yet.
    no_packages: bool,
}

async fn form_page(
    st: &AppState,
    p: &Page,
    values: &[(String, String)],
    errors: FieldErrors,
) -> Result<FormPage, PageError> {
    let packages: Vec<(String, String)> = st
        .app
        .list_packages()
        .await?
        .into_iter()
        .filter(|k| k.active && matches!(k.service_type, ServiceType::Hotspot | ServiceType::Both))
        .map(|k| (k.id.to_string(), format!("{} — KES {} · {}", k.name, money(k.price_minor), k.duration)))
        .collect();
    let (mut fields, other_errors) = form::build(FIELDS, values, errors);
    let no_packages = packages.is_empty();
    if let Some(f) = fields.iter_mut().find(|f| f.name == "package_id") {
        f.choices = packages;
    }
    Ok(FormPage { l: Layout::new(p, "New voucher batch", "Vouchers"), fields, other_errors, no_packages })
}

async fn new(State(st): State<AppState>, p: Page, Query(q): Params) -> Result<Response, PageError> {
    p.session.require_write()?;
    let mut values = form::pairs([
        ("code_length", "8".into()),
        ("charset", "digits".into()),
        ("mode", "code".into()),
        ("pin_length", "4".into()),
        ("validity", "first_use".into()),
    ]);
    // `?package_id=3` from a package's row preselects it.
    values.extend(q.into_iter().filter(|(k, _)| k == "package_id"));
    Ok(html(StatusCode::OK, &form_page(&st, &p, &values, FieldErrors::new()).await?))
}

async fn create(State(st): State<AppState>, f: Form<BatchRequest>) -> Result<Response, PageError> {
    match st.app.create_voucher_batch(&f.page.session, f.data).await {
        Ok(b) => Ok(Redirect::to(&urls::voucher_batch(b.id)).into_response()),
        Err(e) => {
            let errors = form::field_errors(e)?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&st, &f.page, &f.raw, errors).await?))
        }
    }
}

// ---------------------------------------------------------------- batch detail

const STATUSES: &[(&str, &str)] = &[
    ("", "Any status"),
    ("unused", "Unused"),
    ("active", "Active"),
    ("used_up", "Used up"),
    ("expired", "Expired"),
    ("revoked", "Revoked"),
];

const LAYOUTS: &[(&str, &str)] = &[("a4", "A4 sheet"), ("80mm", "80 mm slips"), ("58mm", "58 mm slips")];

#[derive(Template)]
#[template(path = "vouchers/detail.html")]
struct Detail {
    l: Layout,
    b: BatchView,
    vouchers: Vec<VoucherView>,
    /// The filters as typed (`status`, `code`).
    query: Vec<(String, String)>,
    path: String,
    page: u64,
    per_page: u64,
    total: u64,
    zone: FixedOffset,
    errors: Vec<String>,
    notice: Option<String>,
}

impl Detail {
    fn get(&self, key: &str) -> &str {
        self.query.iter().rev().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
    }
    fn statuses(&self) -> &'static [(&'static str, &'static str)] {
        STATUSES
    }
    fn layouts(&self) -> &'static [(&'static str, &'static str)] {
        LAYOUTS
    }
    fn when(&self, t: &Option<DateTime<Utc>>) -> String {
        super::fmt::when_opt(t, &self.zone)
    }
    fn created(&self) -> String {
        super::fmt::when(&self.b.created_at, &self.zone)
    }
    fn price(&self) -> String {
        money(self.b.price_minor)
    }
    fn count(&self, n: &u64) -> String {
        count(*n)
    }
    fn qty(&self) -> String {
        count(u64::from(self.b.quantity))
    }
    fn validity(&self) -> String {
        match (self.b.validity, self.b.valid_until) {
            (VoucherValidity::Fixed, Some(t)) => format!("until {}", super::fmt::when(&t, &self.zone)),
            _ => "from first use, for the package's duration".into(),
        }
    }
    fn format(&self) -> String {
        let chars = CHARSETS.iter().find(|(v, _)| *v == self.b.charset.as_str()).map_or("", |(_, t)| t);
        let prefix = if self.b.prefix.is_empty() { String::new() } else { format!("{} + ", self.b.prefix) };
        format!("{prefix}{} × {}", self.b.code_length, chars.to_lowercase())
    }
    fn pin_mode(&self) -> bool {
        self.b.mode == VoucherMode::Pin
    }
    /// Vouchers that could still be used, so revoking changes something.
    fn usable(&self) -> u64 {
        self.b.counts.unused + self.b.counts.active
    }
    fn act(&self, route: &str) -> String {
        urls::with_id(route, self.b.id)
    }
    fn print_href(&self, layout: &str) -> String {
        urls::voucher_batch_print(self.b.id, layout)
    }
    fn one_print(&self, v: &VoucherView) -> String {
        urls::voucher_print(v.id, "80mm")
    }
    fn one_revoke(&self, v: &VoucherView) -> String {
        urls::with_id(urls::VOUCHER_REVOKE_ROUTE, v.id)
    }
    fn first(&self) -> String {
        count(((self.page - 1) * self.per_page + 1).min(self.total))
    }
    fn last(&self) -> String {
        count((self.page * self.per_page).min(self.total))
    }
    fn total_text(&self) -> String {
        count(self.total)
    }
    fn page_href(&self, page: u64) -> String {
        let mut q: Vec<(String, String)> = self.query.clone();
        if page > 1 {
            q.push(("page".into(), page.to_string()));
        }
        pager::href(&self.path, &q)
    }
    fn prev(&self) -> Option<String> {
        (self.page > 1).then(|| self.page_href(self.page - 1))
    }
    fn next(&self) -> Option<String> {
        (self.page * self.per_page < self.total).then(|| self.page_href(self.page + 1))
    }
}

async fn detail(
    State(st): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
    Query(q): Params,
) -> Result<Response, PageError> {
    let b = st.app.get_voucher_batch(&p.session, id).await?;
    let q = super::payments::filled(q);
    let notice = q.iter().find(|(k, _)| k == "revoked").map(|(_, n)| match n.as_str() {
        "1" => "1 voucher revoked.".to_string(),
        n => format!("{n} vouchers revoked."),
    });
    let page = q.iter().rev().find(|(k, _)| k == "page").map(|(_, v)| v.clone());
    let query: Vec<(String, String)> = q.into_iter().filter(|(k, _)| k == "status" || k == "code").collect();
    let mut list_q = VoucherListQuery::from_pairs(query.clone());
    list_q.batch_id = Some(id.to_string());
    list_q.page = page;
    let (zone, _) = st.app.local_zone().await?;
    let (vouchers, errors) = match st.app.list_vouchers(&p.session, &list_q).await {
        Ok(page) => (page, Vec::new()),
        Err(AppError::Validation(e)) => {
            let lines = e.into_iter().flat_map(|(k, v)| v.into_iter().map(move |m| format!("{k}: {m}"))).collect();
            (broadnet_store::Page { items: Vec::new(), total: 0, page: 1, per_page: 50 }, lines)
        }
        Err(e) => return Err(e.into()),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let l = Layout::new(&p, b.name.clone(), "Vouchers");
    let d = Detail {
        l,
        path: urls::voucher_batch(id),
        page: vouchers.page.max(1),
        per_page: vouchers.per_page.max(1),
        total: vouchers.total,
        vouchers: vouchers.items,
        b,
        query,
        zone,
        errors,
        notice,
    };
    Ok(html(status, &d))
}

// ---------------------------------------------------------------- revoke

const REASON: &[FieldSpec] =
    &[("reason", "Reason", "Kept in the audit log, e.g. cards stolen from the shop", Kind::Text)];

#[derive(Template)]
#[template(path = "vouchers/revoke.html")]
struct Confirm {
    l: Layout,
    action: String,
    back: String,
    /// What is being revoked, in a sentence.
    what: String,
    fields: Vec<Field>,
    other_errors: Vec<String>,
}

fn batch_confirm(p: &Page, b: &BatchView, values: &[(String, String)], errors: FieldErrors) -> Confirm {
    let usable = b.counts.unused + b.counts.active;
    let what = format!(
        "{} of the {} vouchers of this batch can still be used ({} unused, {} active). Revoked, none of them logs in again, and active ones are cut off at their next login.",
        count(usable),
        count(u64::from(b.quantity)),
        count(b.counts.unused),
        count(b.counts.active)
    );
    let (fields, other_errors) = form::build(REASON, values, errors);
    Confirm {
        l: Layout::new(p, format!("Revoke batch {}?", b.name), "Vouchers"),
        action: urls::with_id(urls::VOUCHER_BATCH_REVOKE_ROUTE, b.id),
        back: urls::voucher_batch(b.id),
        what,
        fields,
        other_errors,
    }
}

async fn confirm_batch(State(st): State<AppState>, p: Page, Path(id): Path<i64>) -> Result<Response, PageError> {
    p.session.require_write()?;
    let b = st.app.get_voucher_batch(&p.session, id).await?;
    Ok(html(StatusCode::OK, &batch_confirm(&p, &b, &[], FieldErrors::new())))
}

async fn revoke_batch(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    f: Form<RevokeRequest>,
) -> Result<Response, PageError> {
    match st.app.revoke_voucher_batch(&f.page.session, id, f.data).await {
        Ok(r) => Ok(Redirect::to(&format!("{}?revoked={}", urls::voucher_batch(id), r.revoked)).into_response()),
        Err(e) => {
            let errors = form::field_errors(e)?;
            let b = st.app.get_voucher_batch(&f.page.session, id).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &batch_confirm(&f.page, &b, &f.raw, errors)))
        }
    }
}

async fn one_confirm(
    st: &AppState,
    p: &Page,
    id: i64,
    values: &[(String, String)],
    errors: FieldErrors,
) -> Result<Confirm, PageError> {
    let v = st.app.get_voucher(&p.session, id).await?;
    let back = v.batch_id.map_or_else(|| urls::VOUCHERS.to_string(), urls::voucher_batch);
    let what = format!(
        "Voucher {} is {}. Revoked, it no longer logs in{}.",
        v.code,
        v.status.as_str().replace('_', " "),
        if v.status.as_str() == "active" { ", and its devices are cut off at their next login" } else { "" }
    );
    let (fields, other_errors) = form::build(REASON, values, errors);
    Ok(Confirm {
        l: Layout::new(p, format!("Revoke voucher {}?", v.code), "Vouchers"),
        action: urls::with_id(urls::VOUCHER_REVOKE_ROUTE, id),
        back,
        what,
        fields,
        other_errors,
    })
}

async fn confirm_one(State(st): State<AppState>, p: Page, Path(id): Path<i64>) -> Result<Response, PageError> {
    p.session.require_write()?;
    Ok(html(StatusCode::OK, &one_confirm(&st, &p, id, &[], FieldErrors::new()).await?))
}

async fn revoke_one(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    f: Form<RevokeRequest>,
) -> Result<Response, PageError> {
    match st.app.revoke_voucher(&f.page.session, id, f.data).await {
        Ok(v) => {
            let back = v.batch_id.map_or_else(|| urls::VOUCHERS.to_string(), urls::voucher_batch);
            Ok(Redirect::to(&format!("{back}?revoked=1")).into_response())
        }
        Err(e) => {
            let errors = form::field_errors(e)?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &one_confirm(&st, &f.page, id, &f.raw, errors).await?))
        }
    }
}

// ---------------------------------------------------------------- CSV

async fn csv(State(st): State<AppState>, p: Page, Path(id): Path<i64>) -> Result<Response, PageError> {
    let file = st.app.export_vouchers_csv(&p.session, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", file.file_name)),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        file.body,
    )
        .into_response())
}

// ---------------------------------------------------------------- print

/// The paper a print page is laid out for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Paper {
    A4,
    Mm80,
    Mm58,
}

impl Paper {
    fn parse(q: &[(String, String)]) -> Result<Paper, AppError> {
        match q.iter().rev().find(|(k, _)| k == "layout").map(|(_, v)| v.as_str()) {
            None | Some("") | Some("a4") => Ok(Paper::A4),
            Some("80mm") => Ok(Paper::Mm80),
            Some("58mm") => Ok(Paper::Mm58),
            Some(_) => Err(AppError::field("layout", "must be a4, 80mm or 58mm")),
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Paper::A4 => "a4",
            Paper::Mm80 => "80mm",
            Paper::Mm58 => "58mm",
        }
    }
    /// Cards on one printed page: 3 × 7 on A4, one per thermal slip.
    fn per_sheet(self) -> usize {
        match self {
            Paper::A4 => 21,
            _ => 1,
        }
    }
}

/// A card with its QR code drawn.
struct CardView {
    card: PrintCard,
    qr: String,
}

#[derive(Template)]
#[template(path = "vouchers/print.html")]
struct PrintPage {
    paper: &'static str,
    title: String,
    sheet: PrintSheet,
    /// The cards cut into printed pages.
    sheets: Vec<Vec<CardView>>,
    back: String,
    /// The same vouchers in the other layouts: `(label, href, current)`.
    layouts: Vec<(&'static str, String, bool)>,
    /// For a batch printed in parts: `(label, href, current)`.
    parts: Vec<(String, String, bool)>,
    css: String,
    js: String,
}

impl PrintPage {
    fn count(&self) -> String {
        count(self.sheet.cards.len() as u64)
    }
}

fn print_page(sheet: PrintSheet, paper: Paper, back: String, href: impl Fn(&str, u64) -> String) -> PrintPage {
    let cards: Vec<CardView> =
        sheet.cards.iter().map(|c| CardView { qr: qr_svg(&c.portal_url), card: c.clone() }).collect();
    let mut sheets: Vec<Vec<CardView>> = Vec::new();
    for c in cards {
        match sheets.last_mut() {
            Some(s) if s.len() < paper.per_sheet() => s.push(c),
            _ => sheets.push(vec![c]),
        }
    }
    let layouts = LAYOUTS.iter().map(|(v, label)| (*label, href(v, sheet.page), *v == paper.as_str())).collect();
    let parts = if sheet.pages > 1 {
        (1..=sheet.pages)
            .map(|n| {
                let first = (n - 1) * broadnet_app::vouchers::PRINT_PAGE + 1;
                (format!("Part {n} (from voucher {})", count(first)), href(paper.as_str(), n), n == sheet.page)
            })
            .collect()
    } else {
        Vec::new()
    };
    PrintPage {
        paper: paper.as_str(),
        title: format!("{} vouchers", sheet.isp_name),
        sheets,
        sheet,
        back,
        layouts,
        parts,
        css: super::assets::asset("/vouchers.css"),
        js: super::assets::asset("/vouchers.js"),
    }
}

async fn print_batch(
    State(st): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
    Query(q): Params,
) -> Result<Response, PageError> {
    let paper = Paper::parse(&q)?;
    let page = match q.iter().rev().find(|(k, _)| k == "page").map(|(_, v)| v.trim()) {
        None | Some("") => 1,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| AppError::field("page", "must be a whole number from 1"))?,
    };
    let sheet = st.app.voucher_print(&p.session, PrintSelection::Batch { id, page }).await?;
    let base = urls::with_id(urls::VOUCHER_BATCH_PRINT_ROUTE, id);
    let href = |layout: &str, page: u64| {
        if page > 1 { format!("{base}?layout={layout}&page={page}") } else { format!("{base}?layout={layout}") }
    };
    Ok(html(StatusCode::OK, &print_page(sheet, paper, urls::voucher_batch(id), href)))
}

async fn print_selected(State(st): State<AppState>, p: Page, Query(q): Params) -> Result<Response, PageError> {
    let paper = Paper::parse(&q)?;
    let mut ids = Vec::new();
    for (k, v) in &q {
        if k == "ids" {
            ids.push(v.trim().parse::<i64>().map_err(|_| AppError::field("ids", "must be voucher numbers"))?);
        }
    }
    if ids.is_empty() {
        return Err(AppError::field("ids", "tick the vouchers to print first").into());
    }
    let sheet = st.app.voucher_print(&p.session, PrintSelection::Ids(ids.clone())).await?;
    // Back to the batch the vouchers came from (the batch page's form says which).
    let back = match q.iter().find(|(k, _)| k == "batch").and_then(|(_, v)| v.parse::<i64>().ok()) {
        Some(b) => urls::voucher_batch(b),
        None => urls::VOUCHERS.to_string(),
    };
    let ids_q: String = ids.iter().map(|i| format!("&ids={i}")).collect();
    let href = |layout: &str, _page: u64| format!("{}?layout={layout}{ids_q}", urls::VOUCHER_PRINT);
    Ok(html(StatusCode::OK, &print_page(sheet, paper, back, href)))
}

/// A QR code as inline SVG: one path of the dark modules (runs along each row), a
/// two-module quiet zone on white. Error correction M survives a crease or a smudge.
pub fn qr_svg(data: &str) -> String {
    use std::fmt::Write;
    let Ok(code) = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M) else {
        return String::new();
    };
    let w = code.width();
    let dark = code.to_colors();
    let quiet = 2;
    let size = w + 2 * quiet;
    let mut d = String::with_capacity(w * w);
    for y in 0..w {
        let mut x = 0;
        while x < w {
            if dark[y * w + x] == qrcode::Color::Dark {
                let start = x;
                while x < w && dark[y * w + x] == qrcode::Color::Dark {
                    x += 1;
                }
                let _ = write!(d, "M{} {}h{}v1h-{}z", start + quiet, y + quiet, x - start, x - start);
            } else {
                x += 1;
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{d}\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qr_code_is_one_svg_path_of_dark_modules() {
        let svg = qr_svg("http://127.0.0.1:3000/hotspot?voucher=23456789");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
        // 46 bytes at level M: version 4 (33 modules), plus two on each side.
        assert!(svg.contains("viewBox=\"0 0 37 37\""), "{svg}");
        // The finder pattern's top row: 7 dark modules from the quiet zone's corner.
        assert!(svg.contains("M2 2h7v1h-7z"), "{svg}");
    }
}
