//! Reads a JSON object field by field, collecting one message per bad field, so a
//! form gets every problem at once. Absent and `null` are told apart for updates.

use crate::error::{AppError, FieldErrors};
use broadnet_domain::ParseError;
use serde_json::{Map, Value};

pub struct Fields {
    map: Map<String, Value>,
    errors: FieldErrors,
    known: Vec<&'static str>,
}

/// What a field held: absent, explicit null, or a value.
pub enum Slot<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Slot<T> {
    /// For partial updates: `None` = leave alone, `Some(None)` = clear.
    pub fn patch(self) -> Option<Option<T>> {
        match self {
            Slot::Absent => None,
            Slot::Null => Some(None),
            Slot::Value(v) => Some(Some(v)),
        }
    }

    pub fn value(self) -> Option<T> {
        match self {
            Slot::Value(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Slot::Absent)
    }
}

impl Fields {
    pub fn new(body: Value) -> Result<Self, AppError> {
        match body {
            Value::Object(map) => Ok(Fields { map, errors: FieldErrors::new(), known: Vec::new() }),
            _ => Err(AppError::field("body", "must be a JSON object")),
        }
    }

    pub fn error(&mut self, field: &str, msg: impl Into<String>) {
        self.errors.entry(field.to_string()).or_default().push(msg.into());
    }

    pub fn has_error(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    pub fn raw(&mut self, name: &'static str) -> Slot<Value> {
        self.known.push(name);
        match self.map.get(name) {
            None => Slot::Absent,
            Some(Value::Null) => Slot::Null,
            Some(v) => Slot::Value(v.clone()),
        }
    }

    /// A string field; numbers and booleans are accepted as their text. Empty
    /// strings count as null.
    pub fn text(&mut self, name: &'static str, max_len: usize) -> Slot<String> {
        match self.raw(name) {
            Slot::Absent => Slot::Absent,
            Slot::Null => Slot::Null,
            Slot::Value(v) => {
                let s = match v {
                    Value::String(s) => s.trim().to_string(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        self.error(name, "must be a string");
                        return Slot::Absent;
                    }
                };
                // Windows line ends are line ends; any other control character (NUL, a
                // bare CR, escape sequences) would reach SMS, PDFs, email headers, logs
                // and router scripts, where it means something else.
                let s = s.replace("\r\n", "\n");
                if s.is_empty() {
                    Slot::Null
                } else if s.chars().count() > max_len {
                    self.error(name, format!("must be at most {max_len} characters"));
                    Slot::Absent
                } else if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                    self.error(name, "must not contain control characters");
                    Slot::Absent
                } else {
                    Slot::Value(s)
                }
            }
        }
    }

    /// Like [`Fields::text`], on one line: names, places, labels.
    pub fn line(&mut self, name: &'static str, max_len: usize) -> Slot<String> {
        match self.text(name, max_len) {
            Slot::Value(s) if s.contains(['\n', '\t']) => {
                self.error(name, "must be on one line");
                Slot::Absent
            }
            other => other,
        }
    }

    /// A text field parsed by `parse`; the parser's message becomes the field's.
    pub fn parsed<T>(&mut self, name: &'static str, parse: impl FnOnce(&str) -> Result<T, ParseError>) -> Slot<T> {
        match self.text(name, 1000) {
            Slot::Value(s) => match parse(&s) {
                Ok(v) => Slot::Value(v),
                Err(e) => {
                    self.error(name, e.0);
                    Slot::Absent
                }
            },
            Slot::Null => Slot::Null,
            Slot::Absent => Slot::Absent,
        }
    }

    pub fn int(&mut self, name: &'static str, min: i64, max: i64) -> Slot<i64> {
        match self.raw(name) {
            Slot::Absent => Slot::Absent,
            Slot::Null => Slot::Null,
            Slot::Value(v) => {
                let n = match &v {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) if s.trim().is_empty() => return Slot::Null,
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                match n {
                    Some(n) if (min..=max).contains(&n) => Slot::Value(n),
                    Some(_) => {
                        self.error(name, format!("must be between {min} and {max}"));
                        Slot::Absent
                    }
                    None => {
                        self.error(name, "must be a whole number");
                        Slot::Absent
                    }
                }
            }
        }
    }

    pub fn boolean(&mut self, name: &'static str) -> Slot<bool> {
        match self.raw(name) {
            Slot::Absent => Slot::Absent,
            Slot::Null => Slot::Null,
            Slot::Value(Value::Bool(b)) => Slot::Value(b),
            Slot::Value(Value::String(s)) if matches!(s.as_str(), "true" | "1" | "yes" | "on") => Slot::Value(true),
            Slot::Value(Value::String(s)) if matches!(s.as_str(), "false" | "0" | "no" | "off") => Slot::Value(false),
            Slot::Value(_) => {
                self.error(name, "must be true or false");
                Slot::Absent
            }
        }
    }

    /// Marks a field as required: absent or null is an error.
    pub fn required<T>(&mut self, name: &'static str, slot: Slot<T>) -> Option<T> {
        match slot {
            Slot::Value(v) => Some(v),
            Slot::Null | Slot::Absent => {
                if !self.has_error(name) {
                    self.error(name, "is required");
                }
                None
            }
        }
    }

    /// A field that may be changed but never cleared.
    pub fn not_null<T>(&mut self, name: &'static str, slot: Slot<T>) -> Option<T> {
        match slot {
            Slot::Value(v) => Some(v),
            Slot::Null => {
                self.error(name, "cannot be empty");
                None
            }
            Slot::Absent => None,
        }
    }

    /// Fails with every collected message, including one per unknown field.
    pub fn finish(mut self) -> Result<(), AppError> {
        let unknown: Vec<String> = self.map.keys().filter(|k| !self.known.contains(&k.as_str())).cloned().collect();
        for k in unknown {
            self.error(&k, "is not a known field");
        }
        if self.errors.is_empty() { Ok(()) } else { Err(AppError::Validation(self.errors)) }
    }
}

/// A `page` query value: a whole number from 1 to `MAX_PAGE` (larger ones would
/// overflow the SQL OFFSET; no list is that long anyway).
pub fn page_number(value: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(n) if (1..=broadnet_store::MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from 1 to {}", broadnet_store::MAX_PAGE)),
    }
}

/// A `per_page` query value: 1 to 500.
pub fn per_page_number(value: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(n) if (1..=500).contains(&n) => Ok(n),
        _ => Err("must be a whole number from 1 to 500".to_string()),
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
        errors.entry(key.to_string()).or_default().push(m);
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
