//! Helpers for what comes from outside: list paging parameters, and capped excerpts
//! of text for storing or logging. Request fields are checked in [`crate::input`].

use crate::error::FieldErrors;
use broadnet_domain::ParseError;

/// A `page` query value: a whole number from 1 to `MAX_PAGE` (larger ones would
/// overflow the SQL OFFSET; no list is that long anyway).
pub fn page_number(value: &str) -> Result<u64, ParseError> {
    match value.trim().parse::<u64>() {
        Ok(n) if (1..=broadnet_store::MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(ParseError(format!("must be a whole number from 1 to {}", broadnet_store::MAX_PAGE))),
    }
}

/// A `per_page` query value: 1 to 500.
pub fn per_page_number(value: &str) -> Result<u64, ParseError> {
    match value.trim().parse::<u64>() {
        Ok(n) if (1..=500).contains(&n) => Ok(n),
        _ => Err(ParseError::new("must be a whole number from 1 to 500")),
    }
}

/// Reads `page` (1 to `MAX_PAGE`) or `per_page` (1 to 500) from a list's query string
/// into `paging`; false for any other key. A bad value is a field error.
pub fn page_param(errors: &mut FieldErrors, key: &str, value: &str, paging: (&mut u64, &mut u64)) -> bool {
    let (page, per_page) = paging;
    let parsed = match key {
        "page" => page_number(value).map(|n| *page = n),
        "per_page" => per_page_number(value).map(|n| *per_page = n),
        _ => return false,
    };
    if let Err(m) = parsed {
        errors.entry(key.to_string()).or_default().push(m.0);
    }
    true
}

/// At most `max` bytes of `s` (cut at a character boundary), with an ellipsis when
/// cut: for storing or logging text that came from outside.
pub fn excerpt(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut at = max;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    format!("{}…", &s[..at])
}
