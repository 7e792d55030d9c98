//! Lenient serde helpers: the providers send the same field as a string in one place and a number in another
//! (mpesa-daraja.md §11.3, airtel-money.md §10.7).

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A JSON string or number as text: `"0"` and `0` both give `"0"`; `1500.00` gives `"1500.0"` (serde_json's
/// rendering). Booleans, null, arrays and objects give `None` (Airtel's own sample has `"id": false`).
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A required string that may arrive as a number.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    scalar_text(&v).ok_or_else(|| serde::de::Error::custom(format!("expected a string or a number, got {v}")))
}

/// A string that may arrive as a number; anything else (null, a boolean, an array, an object) is empty. For
/// fields of callbacks, which are read whatever else is wrong with them (use with `#[serde(default)]`).
pub fn text_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(scalar_text(&v).unwrap_or_default())
}

/// An optional string that may arrive as a number (null or absent give `None`; use with `#[serde(default)]`).
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.as_ref().and_then(scalar_text))
}

/// A whole number that may arrive as a number, a float with no fraction, or a string.
pub fn u64_value(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
        }
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
        }
        _ => None,
    }
}

/// An optional whole number that may arrive as a string (use with `#[serde(default)]`).
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            u64_value(&v).map(Some).ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, got {v}")))
        }
    }
}

/// A required whole number that may arrive as a string.
pub fn u16_num<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let v = Value::deserialize(d)?;
    u64_value(&v)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| serde::de::Error::custom(format!("expected a small whole number, got {v}")))
}

/// An optional boolean that may arrive as `"true"`/`"false"`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// A decimal amount ("5.00", 1500, 1500.0, "10") in hundredths; `None` if negative, not a number or finer than cents.
pub fn cents(text: &str) -> Option<u64> {
    let text = text.trim();
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let frac_cents: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().ok()? };
    whole.checked_mul(100)?.checked_add(frac_cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_parsing() {
        assert_eq!(cents("5.00"), Some(500));
        assert_eq!(cents("10"), Some(1000));
        assert_eq!(cents("1500.0"), Some(150_000));
        assert_eq!(cents("0.5"), Some(50));
        assert_eq!(cents("12.345"), None);
        assert_eq!(cents("-1"), None);
        assert_eq!(cents("abc"), None);
        assert_eq!(cents(""), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(u64_value(&serde_json::json!("3599")), Some(3599));
        assert_eq!(u64_value(&serde_json::json!(3599)), Some(3599));
        assert_eq!(u64_value(&serde_json::json!(180.0)), Some(180));
        assert_eq!(u64_value(&serde_json::json!("x")), None);
    }
}
