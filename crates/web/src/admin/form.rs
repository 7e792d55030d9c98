//! Forms shared by every admin screen: a form is a table of field specs
//! (`FieldSpec`), drawn by `macros.html`'s `fields` macro with the values as typed
//! and each field's errors under it. Field errors come from the use case
//! (`AppError::Validation`), never from rules written again here.

use broadnet_app::{AppError, FieldErrors};

/// How one input of a form is drawn.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Text,
    /// A secret: never shown back; empty means "unchanged" where the form says so.
    Password,
    Area,
    Select(&'static [(&'static str, &'static str)]),
    Check,
}

/// One field of a form, as a `const` table row: `(name, label, hint, kind)`.
pub type FieldSpec = (&'static str, &'static str, &'static str, Kind);

/// One field as drawn: its spec, its value as typed and its errors. `choices` are
/// options known only at run time (packages, routers) for a `Select(&[])` field.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: String,
    pub kind: Kind,
    pub value: String,
    pub errors: Vec<String>,
    pub choices: Vec<(String, String)>,
}

impl Field {
    pub fn is(&self, kind: &str) -> bool {
        matches!(
            (self.kind, kind),
            (Kind::Text, "text")
                | (Kind::Password, "password")
                | (Kind::Area, "area")
                | (Kind::Select(_), "select")
                | (Kind::Check, "check")
        )
    }

    /// The options of a select: the static ones, else those given at run time.
    pub fn options(&self) -> Vec<(String, String)> {
        match self.kind {
            Kind::Select(o) if !o.is_empty() => o.iter().map(|(v, t)| (v.to_string(), t.to_string())).collect(),
            _ => self.choices.clone(),
        }
    }

    pub fn selected(&self, v: &str) -> bool {
        self.value == v
    }

    pub fn checked(&self) -> bool {
        matches!(self.value.as_str(), "on" | "true" | "1" | "yes")
    }
}

/// The fields of a form in table order, each with its value from `values` (the
/// last one of a repeated name wins, as `input::from_pairs` reads it) and its
/// errors taken out of `errors`. What is left in `errors` (no such field) comes
/// back as lines for the top of the form.
pub fn build(specs: &[FieldSpec], values: &[(String, String)], mut errors: FieldErrors) -> (Vec<Field>, Vec<String>) {
    let fields = specs
        .iter()
        .map(|&(name, label, hint, kind)| Field {
            name,
            label,
            hint: hint.to_string(),
            kind,
            value: if kind == Kind::Password { String::new() } else { value_of(values, name) },
            errors: errors.remove(name).unwrap_or_default(),
            choices: Vec::new(),
        })
        .collect();
    let other = errors.into_iter().flat_map(|(k, v)| v.into_iter().map(move |m| format!("{k}: {m}"))).collect();
    (fields, other)
}

/// The value typed for `name` (the last one).
pub fn value_of(values: &[(String, String)], name: &str) -> String {
    values.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// `(name, value)` pairs from literals.
pub fn pairs<const N: usize>(kv: [(&str, String); N]) -> Vec<(String, String)> {
    kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A refusal the form shows again next to its fields (422): validation errors and
/// a unique-field conflict. Any other error is the caller's to turn into a page.
pub fn field_errors(e: AppError) -> Result<FieldErrors, AppError> {
    match e {
        AppError::Validation(errors) => Ok(errors),
        AppError::Conflict { field } => Ok([(field.to_string(), vec!["is already taken".to_string()])].into()),
        e => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[FieldSpec] =
        &[("name", "Name", "", Kind::Text), ("secret", "Secret", "", Kind::Password), ("on", "On", "", Kind::Check)];

    #[test]
    fn values_and_errors_land_on_their_fields_and_secrets_are_never_shown_back() {
        let values = pairs([("name", "a".into()), ("name", "b".into()), ("secret", "s3cret".into())]);
        let errors: FieldErrors =
            [("name".to_string(), vec!["is bad".to_string()]), ("body".to_string(), vec!["x".to_string()])].into();
        let (fields, other) = build(SPECS, &values, errors);
        assert_eq!(fields[0].value, "b");
        assert_eq!(fields[0].errors, ["is bad"]);
        assert_eq!(fields[1].value, "", "a secret is not drawn back into the page");
        assert!(!fields[2].checked());
        assert_eq!(other, ["body: x"]);
    }
}
