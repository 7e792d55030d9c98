//! Raw input as a person or a script sent it (a JSON body or an HTML form), and the
//! field-by-field check that turns it into domain values with one message per bad field.

use crate::error::{AppError, FieldErrors};
use broadnet_domain::ParseError;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// One field of a request before it is checked. JSON can send any of these; an HTML
/// form (`application/x-www-form-urlencoded`) only `Text`, so `"1500"`, `"on"` and
/// `""` go through the same checks as `1500`, `true` and `null`. A field that was not
/// sent at all is `Absent` (the default), which updates tell apart from `Null`.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Input {
    #[default]
    Absent,
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
    List(Vec<Input>),
    /// A JSON object: never a valid field value here.
    Object,
}

impl Input {
    pub fn is_absent(&self) -> bool {
        matches!(self, Input::Absent)
    }
}

impl From<&str> for Input {
    fn from(s: &str) -> Self {
        Input::Text(s.to_string())
    }
}

impl From<String> for Input {
    fn from(s: String) -> Self {
        Input::Text(s)
    }
}

impl From<bool> for Input {
    fn from(b: bool) -> Self {
        Input::Bool(b)
    }
}

impl From<i64> for Input {
    fn from(n: i64) -> Self {
        Input::Number(n.into())
    }
}

impl<T: Into<Input>> From<Option<T>> for Input {
    /// `None` is an explicit null (clears a field in an update).
    fn from(v: Option<T>) -> Self {
        v.map_or(Input::Null, Into::into)
    }
}

impl<T: Into<Input>> From<Vec<T>> for Input {
    fn from(v: Vec<T>) -> Self {
        Input::List(v.into_iter().map(Into::into).collect())
    }
}

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = Input;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Input, E> {
        Ok(Input::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Input, E> {
        Ok(Input::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Input, E> {
        Ok(Input::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Input, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Input::Object, Input::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Input, E> {
        Ok(Input::Text(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Input, E> {
        Ok(Input::Text(v))
    }

    fn visit_unit<E>(self) -> Result<Input, E> {
        Ok(Input::Null)
    }

    fn visit_none<E>(self) -> Result<Input, E> {
        Ok(Input::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Input, D::Error> {
        Input::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Input, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Input>()? {
            items.push(item);
        }
        Ok(Input::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Input, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Input::Object)
    }
}

/// A request from an HTML form body (`application/x-www-form-urlencoded`). A field
/// sent more than once counts as its last value, so the usual checkbox pattern works:
/// `<input type=hidden name=active value=off>` followed by
/// `<input type=checkbox name=active value=on>` sends `off` alone when unticked and
/// `on` last when ticked (a bare unticked checkbox sends nothing, which an update reads
/// as "leave alone" and a create as the default).
pub fn from_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    from_pairs(url::form_urlencoded::parse(body).into_owned())
}

/// Like [`from_form`], from pairs already parsed (the admin pages take `_csrf` out
/// first). The last value of a repeated key wins.
pub fn from_pairs<T: serde::de::DeserializeOwned>(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<T, AppError> {
    let fields: BTreeMap<String, String> = pairs.into_iter().collect();
    T::deserialize(serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(fields.into_iter()))
        .map_err(|e| AppError::field("body", e.to_string()))
}

/// The fields of a request that no use case reads (`#[serde(flatten)]` into every
/// request struct): each is reported as "is not a known field", so a typo in a
/// field name is an error rather than silently ignored.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(transparent)]
pub struct Unknown(BTreeMap<String, IgnoredAny>);

impl Unknown {
    /// Marks `name` as sent but unknown (for requests built in code).
    pub fn with(mut self, name: &str) -> Self {
        self.0.insert(name.to_string(), IgnoredAny);
        self
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
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

/// Checks a request's fields one by one, collecting every message; [`Fields::finish`]
/// fails with all of them (422 with a message list per field).
pub struct Fields {
    errors: FieldErrors,
    unknown: Vec<String>,
}

impl Fields {
    /// `unknown`: the fields that were sent but that this request does not have.
    pub fn new(unknown: &Unknown) -> Self {
        Fields { errors: FieldErrors::new(), unknown: unknown.names().map(str::to_string).collect() }
    }

    pub fn error(&mut self, field: &str, msg: impl Into<String>) {
        self.errors.entry(field.to_string()).or_default().push(msg.into());
    }

    pub fn has_error(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    /// A string field; numbers and booleans are accepted as their text. Empty
    /// strings count as null.
    pub fn text(&mut self, name: &str, input: &Input, max_len: usize) -> Slot<String> {
        let s = match input {
            Input::Absent => return Slot::Absent,
            Input::Null => return Slot::Null,
            Input::Text(s) => s.trim().to_string(),
            Input::Number(n) => n.to_string(),
            Input::Bool(b) => b.to_string(),
            Input::List(_) | Input::Object => {
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

    /// Like [`Fields::text`], on one line: names, places, labels.
    pub fn line(&mut self, name: &str, input: &Input, max_len: usize) -> Slot<String> {
        match self.text(name, input, max_len) {
            Slot::Value(s) if s.contains(['\n', '\t']) => {
                self.error(name, "must be on one line");
                Slot::Absent
            }
            other => other,
        }
    }

    /// A text field parsed by `parse`; the parser's message becomes the field's.
    pub fn parsed<T>(
        &mut self,
        name: &str,
        input: &Input,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Slot<T> {
        match self.text(name, input, 1000) {
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

    pub fn int(&mut self, name: &str, input: &Input, min: i64, max: i64) -> Slot<i64> {
        let n = match input {
            Input::Absent => return Slot::Absent,
            Input::Null => return Slot::Null,
            Input::Number(n) => n.as_i64(),
            Input::Text(s) if s.trim().is_empty() => return Slot::Null,
            Input::Text(s) => s.trim().parse().ok(),
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

    /// `true`/`false`, or as a form sends it: `on`, `yes`, `1` (and their opposites).
    pub fn boolean(&mut self, name: &str, input: &Input) -> Slot<bool> {
        match input {
            Input::Absent => Slot::Absent,
            Input::Null => Slot::Null,
            Input::Bool(b) => Slot::Value(*b),
            Input::Text(s) if matches!(s.as_str(), "true" | "1" | "yes" | "on") => Slot::Value(true),
            Input::Text(s) if matches!(s.as_str(), "false" | "0" | "no" | "off") => Slot::Value(false),
            _ => {
                self.error(name, "must be true or false");
                Slot::Absent
            }
        }
    }

    /// Marks a field as required: absent or null is an error.
    pub fn required<T>(&mut self, name: &str, slot: Slot<T>) -> Option<T> {
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
    pub fn not_null<T>(&mut self, name: &str, slot: Slot<T>) -> Option<T> {
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
        for k in std::mem::take(&mut self.unknown) {
            self.error(&k, "is not a known field");
        }
        if self.errors.is_empty() { Ok(()) } else { Err(AppError::Validation(self.errors)) }
    }
}

impl Fields {
    /// A write-only field (a secret, a new password): `""` from a form means "leave it
    /// as it is", since the form never shows the stored value; only an explicit JSON
    /// `null` clears it.
    pub fn write_only(&mut self, name: &str, input: &Input, max_len: usize) -> Slot<String> {
        match input {
            Input::Text(s) if s.trim().is_empty() => Slot::Absent,
            _ => self.text(name, input, max_len),
        }
    }
}

/// [`Fields::write_only`] for inputs checked by another helper: `""` becomes absent.
pub fn write_only(input: &Input) -> &Input {
    static ABSENT: Input = Input::Absent;
    match input {
        Input::Text(s) if s.trim().is_empty() => &ABSENT,
        i => i,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct Probe {
        n: Input,
        b: Input,
        t: Input,
        l: Input,
        #[serde(flatten)]
        unknown: Unknown,
    }

    #[test]
    fn pairs_read_like_a_form_and_the_last_value_wins() {
        let pairs = [("n", "1"), ("t", "x"), ("n", "2")].map(|(k, v)| (k.to_string(), v.to_string()));
        let p: Probe = from_pairs(pairs).unwrap();
        assert_eq!(p.n, Input::Text("2".into()));
        assert_eq!(p.t, Input::Text("x".into()));
        let p: Probe = from_pairs([("_csrf".to_string(), "t".to_string())]).unwrap();
        assert_eq!(p.unknown.names().collect::<Vec<_>>(), ["_csrf"], "a field nobody took out is unknown");
    }

    #[test]
    fn json_keeps_absent_null_and_types_apart() {
        let p: Probe = serde_json::from_str(r#"{"n": 1500, "b": null, "l": ["a", 2], "x": {"y": 1}}"#).unwrap();
        assert_eq!(p.n, Input::Number(1500.into()));
        assert_eq!(p.b, Input::Null);
        assert_eq!(p.t, Input::Absent);
        assert_eq!(p.l, Input::List(vec!["a".into(), 2.into()]));
        assert_eq!(p.unknown.names().collect::<Vec<_>>(), ["x"]);
        let p: Probe = serde_json::from_str(r#"{"n": 1500.0, "t": {"a": [1]}}"#).unwrap();
        let mut f = Fields::new(&p.unknown);
        assert_eq!(f.text("n", &p.n, 10).value().as_deref(), Some("1500.0"));
        assert!(f.text("t", &p.t, 10).is_absent());
        assert!(f.finish().is_err());
    }

    #[test]
    fn a_forms_last_value_wins() {
        let p: Probe = from_form(b"b=off&b=on&t=a+b&n=").unwrap();
        let mut f = Fields::new(&p.unknown);
        assert_eq!(f.boolean("b", &p.b).value(), Some(true), "hidden off, then the ticked checkbox");
        assert_eq!(f.text("t", &p.t, 10).value().as_deref(), Some("a b"));
        assert!(matches!(f.int("n", &p.n, 0, 9), Slot::Null));
        assert!(p.l.is_absent());
        let p: Probe = from_form(b"b=off&stray=1").unwrap();
        let mut f = Fields::new(&p.unknown);
        assert_eq!(f.boolean("b", &p.b).value(), Some(false), "the hidden field alone");
        assert!(f.finish().is_err(), "unknown fields are still refused");
    }

    #[test]
    fn a_form_reads_like_json() {
        let p: Probe = serde_urlencoded::from_str("n=1500&b=on&t=&stray=1").unwrap();
        assert_eq!(p.n, Input::Text("1500".into()));
        let mut f = Fields::new(&p.unknown);
        assert_eq!(f.int("n", &p.n, 0, 10_000).value(), Some(1500));
        assert_eq!(f.boolean("b", &p.b).value(), Some(true));
        assert!(matches!(f.text("t", &p.t, 10), Slot::Null), "an empty form field is null");
        assert!(f.boolean("l", &p.l).is_absent());
        let AppError::Validation(e) = f.finish().unwrap_err() else { panic!() };
        assert_eq!(e["stray"], ["is not a known field"]);
        let p: Probe = serde_urlencoded::from_str("b=off&n=12x").unwrap();
        let mut f = Fields::new(&p.unknown);
        assert_eq!(f.boolean("b", &p.b).value(), Some(false));
        assert!(f.int("n", &p.n, 0, 10).is_absent());
        let AppError::Validation(e) = f.finish().unwrap_err() else { panic!() };
        assert_eq!(e["n"], ["must be a whole number"]);
    }

    #[test]
    fn a_write_only_field_left_empty_is_unchanged_and_null_clears_it() {
        let mut f = Fields::new(&Unknown::default());
        assert!(f.write_only("k", &Input::Text("  ".into()), 10).is_absent(), "an empty form field");
        assert!(f.write_only("k", &Input::Absent, 10).is_absent());
        assert!(matches!(f.write_only("k", &Input::Null, 10), Slot::Null), "JSON null clears");
        assert!(matches!(f.write_only("k", &"s3cret".into(), 10), Slot::Value(v) if v == "s3cret"));
        let form: Probe = from_form(b"t=").unwrap();
        assert!(write_only(&form.t).is_absent());
        assert!(f.finish().is_ok());
    }
}
