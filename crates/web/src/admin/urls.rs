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

/// (`Borrow`, because templates pass their values by reference.)
pub fn package_edit(id: impl Borrow<i64>) -> String {
    PACKAGE_EDIT_ROUTE.replace("{id}", &id.borrow().to_string())
}

pub fn package_delete(id: impl Borrow<i64>) -> String {
    PACKAGE_DELETE_ROUTE.replace("{id}", &id.borrow().to_string())
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
        assert_eq!(login_then("/"), "/login");
        assert_eq!(login_then("/packages/new"), "/login?next=%2Fpackages%2Fnew");
    }
}
