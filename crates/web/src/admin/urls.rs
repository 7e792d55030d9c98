//! Every admin page's path, spelled once: the routers, the redirects and the
//! templates (`{{ crate::admin::urls::PACKAGES }}`) all read them from here.

use std::borrow::Borrow;

pub const HOME: &str = "/";
pub const LOGIN: &str = "/login";
pub const LOGOUT: &str = "/logout";
pub const PACKAGES: &str = "/packages";
pub const PACKAGE_NEW: &str = "/packages/new";
/// Route patterns (axum `{id}`) of the paths built by the functions below.
pub const PACKAGE_EDIT_ROUTE: &str = "/packages/{id}/edit";
pub const PACKAGE_DELETE_ROUTE: &str = "/packages/{id}/delete";

pub const ACCOUNT_PASSWORD: &str = "/account/password";

pub const CUSTOMERS: &str = "/customers";
pub const CUSTOMER_NEW: &str = "/customers/new";
pub const CUSTOMER_ROUTE: &str = "/customers/{id}";
pub const CUSTOMER_EDIT_ROUTE: &str = "/customers/{id}/edit";
/// `POST /customers/{id}/{action}`: collect, cash, suspend, resume, package,
/// disconnect, activate, welcome, delete.
pub const CUSTOMER_ACTION_ROUTE: &str = "/customers/{id}/{action}";

pub const ROUTERS: &str = "/routers";
pub const ROUTER_NEW: &str = "/routers/new";
pub const ROUTER_ROUTE: &str = "/routers/{id}";
pub const ROUTER_EDIT_ROUTE: &str = "/routers/{id}/edit";
/// `GET /routers/{id}/state`; `POST /routers/{id}/{command|configure|health|delete}`.
pub const ROUTER_ACTION_ROUTE: &str = "/routers/{id}/{action}";

pub const PAYMENTS: &str = "/payments";
pub const PAYMENT_ROUTE: &str = "/payments/{id}";
/// The Collect Payment box's status (polled by htmx).
pub const PAYMENT_STATUS_ROUTE: &str = "/payments/{id}/status";
pub const PAYMENT_INVOICE_ROUTE: &str = "/payments/{id}/invoice.pdf";
pub const UNMATCHED: &str = "/payments/unmatched";
pub const UNMATCHED_ROUTE: &str = "/payments/unmatched/{id}";
pub const UNMATCHED_ASSIGN_ROUTE: &str = "/payments/unmatched/{id}/assign";

pub const INVOICES: &str = "/invoices";
pub const INVOICE_RESEND_ROUTE: &str = "/invoices/{number}/resend";

pub const SESSIONS: &str = "/sessions";
pub const SESSIONS_HISTORY: &str = "/sessions/history";
pub const SESSION_DISCONNECT_ROUTE: &str = "/sessions/{id}/disconnect";
pub const AUTH_LOG: &str = "/radius/auth-log";

pub const NOTIFICATIONS: &str = "/notifications";
pub const NOTIFICATION_RETRY_ROUTE: &str = "/notifications/{id}/retry";

pub const SETTINGS: &str = "/settings";
/// `GET/POST /settings/{category}`, `POST /settings/{category}/test`.
pub const SETTINGS_CATEGORY_ROUTE: &str = "/settings/{category}";
pub const SETTINGS_PAYMENTS_ACTIVE: &str = "/settings/payments/active";
pub const FREERADIUS_SETUP: &str = "/settings/freeradius-setup.sh";

pub const ADMINS: &str = "/admins";
pub const ADMIN_NEW: &str = "/admins/new";
pub const ADMIN_EDIT_ROUTE: &str = "/admins/{id}/edit";
pub const ADMIN_DELETE_ROUTE: &str = "/admins/{id}/delete";
pub const AUDIT: &str = "/audit";
pub const SYSTEM: &str = "/system";

pub const VOUCHERS: &str = "/vouchers";
pub const VOUCHER_NEW: &str = "/vouchers/new";
pub const VOUCHER_BATCH_ROUTE: &str = "/vouchers/batches/{id}";
/// `GET` the confirmation with its reason field, `POST` to revoke.
pub const VOUCHER_BATCH_REVOKE_ROUTE: &str = "/vouchers/batches/{id}/revoke";
pub const VOUCHER_BATCH_CSV_ROUTE: &str = "/vouchers/batches/{id}/export.csv";
/// `?layout=a4|58mm|80mm&page=N`
pub const VOUCHER_BATCH_PRINT_ROUTE: &str = "/vouchers/batches/{id}/print";
/// `?layout=…&ids=1&ids=2`: chosen vouchers (the batch page's checkboxes).
pub const VOUCHER_PRINT: &str = "/vouchers/print";
pub const VOUCHER_REVOKE_ROUTE: &str = "/vouchers/{id}/revoke";

/// A route pattern with its `{id}` filled: `with_id(CUSTOMER_ROUTE, 7)`.
pub fn with_id(route: &str, id: impl Borrow<i64>) -> String {
    route.replace("{id}", &id.borrow().to_string())
}

/// A `…/{id}/{action}` route filled: `action(CUSTOMER_ACTION_ROUTE, 7, "suspend")`.
pub fn action(route: &str, id: impl Borrow<i64>, action: &str) -> String {
    with_id(route, id).replace("{action}", action)
}

pub fn customer(id: impl Borrow<i64>) -> String {
    with_id(CUSTOMER_ROUTE, id)
}

pub fn router(id: impl Borrow<i64>) -> String {
    with_id(ROUTER_ROUTE, id)
}

pub fn payment(id: impl Borrow<i64>) -> String {
    with_id(PAYMENT_ROUTE, id)
}

/// (`Borrow`, because templates pass their values by reference.)
pub fn package_edit(id: impl Borrow<i64>) -> String {
    PACKAGE_EDIT_ROUTE.replace("{id}", &id.borrow().to_string())
}

pub fn package_delete(id: impl Borrow<i64>) -> String {
    PACKAGE_DELETE_ROUTE.replace("{id}", &id.borrow().to_string())
}

pub fn voucher_batch(id: impl Borrow<i64>) -> String {
    with_id(VOUCHER_BATCH_ROUTE, id)
}

/// A batch's print page in `layout` (`a4`, `58mm`, `80mm`).
pub fn voucher_batch_print(id: impl Borrow<i64>, layout: &str) -> String {
    format!("{}?layout={layout}", with_id(VOUCHER_BATCH_PRINT_ROUTE, id))
}

/// One voucher's card in `layout`.
pub fn voucher_print(id: impl Borrow<i64>, layout: &str) -> String {
    format!("{VOUCHER_PRINT}?layout={layout}&ids={}", id.borrow())
}

/// The login page, coming back to `next` (a path of this site) afterwards.
pub fn login_then(next: &str) -> String {
    if next == HOME || !next.starts_with('/') {
        LOGIN.to_string()
    } else {
        format!("{LOGIN}?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(package_edit(7), "/packages/7/edit");
        assert_eq!(package_delete(7), "/packages/7/delete");
        assert_eq!(customer(7), "/customers/7");
        assert_eq!(action(CUSTOMER_ACTION_ROUTE, 7, "suspend"), "/customers/7/suspend");
        assert_eq!(with_id(UNMATCHED_ASSIGN_ROUTE, 3), "/payments/unmatched/3/assign");
        assert_eq!(voucher_batch_print(4, "a4"), "/vouchers/batches/4/print?layout=a4");
        assert_eq!(voucher_print(9, "80mm"), "/vouchers/print?layout=80mm&ids=9");
        assert_eq!(login_then("/"), "/login");
        assert_eq!(login_then("/packages/new"), "/login?next=%2Fpackages%2Fnew");
    }
}
