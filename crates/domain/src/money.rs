//! Money as an integer count of the currency's minor unit (cents for KES), parsed
//! from the decimal text an operator types, never through floating point.

use crate::ParseError;
use serde::{Deserialize, Serialize};

/// An amount in minor units (1 KES = 100). Never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

/// The largest amount we accept: 100 million in major units; far above any ISP bill,
/// far below overflow.
const MAX_MINOR: i64 = 100_000_000 * 100;

impl Money {
    pub const ZERO: Money = Money(0);

    /// Clamped into `0..=100,000,000` major units: for sums that the rules keep in range.
    pub fn clamped(minor: i64) -> Self {
        Money(minor.clamp(0, MAX_MINOR))
    }

    pub fn from_minor(minor: i64) -> Result<Self, ParseError> {
        if !(0..=MAX_MINOR).contains(&minor) {
            return Err(ParseError::new("must be between 0 and 100,000,000"));
        }
        Ok(Money(minor))
    }

    /// Parses `1500`, `1500.5`, `1500.50` or `1,500.00` (major units, at most two decimals).
    pub fn parse_major(input: &str) -> Result<Self, ParseError> {
        let s: String = input.trim().chars().filter(|c| *c != ',').collect();
        let bad = || ParseError::new("must be an amount such as 1500 or 1500.50");
        if s.is_empty() || s.starts_with('-') {
            return Err(if s.starts_with('-') { ParseError::new("must not be negative") } else { bad() });
        }
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s.as_str(), ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 2 {
            return Err(ParseError::new("must have at most two decimal places"));
        }
        if whole.len() > 12 {
            return Err(ParseError::new("must be between 0 and 100,000,000"));
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
        let cents: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
            _ => frac.parse().map_err(|_| bad())?,
        };
        Money::from_minor(whole * 100 + cents)
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    /// Whole major units, rounded up: M-Pesa and Airtel take whole shillings only.
    pub fn whole_major_ceil(self) -> i64 {
        (self.0 + 99) / 100
    }
}

impl std::fmt::Display for Money {
    /// `1500.00`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_text_exactly() {
        for (input, minor) in [
            ("1500", 150_000),
            ("1500.5", 150_050),
            ("1500.50", 150_050),
            ("1,500.05", 150_005),
            ("0.1", 10),
            (".5", 50),
            ("0", 0),
            ("12.300", 1230),
        ] {
            assert_eq!(Money::parse_major(input).map(Money::minor), Ok(minor), "{input}");
        }
    }

    #[test]
    fn refuses_bad_amounts() {
        for input in ["", "-1", "abc", "1.234", "1e5", "1.2.3", ".", "999999999999999"] {
            assert!(Money::parse_major(input).is_err(), "{input}");
        }
        assert!(Money::from_minor(-1).is_err());
    }

    #[test]
    fn displays_and_rounds() {
        let m = Money::parse_major("99.01").unwrap();
        assert_eq!(m.to_string(), "99.01");
        assert_eq!(m.whole_major_ceil(), 100);
        assert_eq!(Money::parse_major("100").unwrap().whole_major_ceil(), 100);
    }
}
