//! Kenyan mobile numbers, normalised to the `254712345678` or `254110345678` form
//! that M-Pesa, Airtel and Africa's Talking expect.

use crate::ParseError;
use serde::{Deserialize, Serialize};

/// A Kenyan mobile number in international form without the plus: `254` followed by
/// nine digits, the first of which is 7 or 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Accepts `0712345678`, `0110345678`, `712345678`, `+254712345678`, `254712345678`,
    /// `00254712345678` (and the `1` forms), with spaces, dashes, dots or brackets between digits.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let trimmed = input.trim();
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(r) => (true, r),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(12);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(invalid()),
            }
        }
        // "00254…": the international prefix dialled from a handset.
        let digits = match digits.strip_prefix("00254") {
            Some(n) if !plus => format!("254{n}"),
            _ => digits,
        };
        let national = if let Some(n) = digits.strip_prefix("254") {
            // "+254 (0)712 345678": the trunk zero written after the country code.
            if n.len() == 10 { n.strip_prefix('0').unwrap_or(n) } else { n }
        } else if plus {
            return Err(ParseError::new("only Kenyan numbers (+254…) are supported"));
        } else if digits.len() == 10 {
            digits.strip_prefix('0').unwrap_or(&digits)
        } else {
            digits.as_str()
        };
        if national.len() != 9 || !(national.starts_with('7') || national.starts_with('1')) {
            return Err(invalid());
        }
        Ok(Phone(format!("254{national}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `0712 345 678` style, for messages shown to Kenyan customers.
    pub fn local(&self) -> String {
        format!("0{}", &self.0[3..])
    }
}

fn invalid() -> ParseError {
    ParseError::new("must be a Kenyan mobile number such as 0712345678, 0110345678 or +254712345678")
}

impl TryFrom<String> for Phone {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Phone::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_common_form() {
        for (input, want) in [
            ("0712345678", "254712345678"),
            ("0112345678", "254112345678"),
            ("712345678", "254712345678"),
            ("+254712345678", "254712345678"),
            ("254712345678", "254712345678"),
            ("+254 712 345 678", "254712345678"),
            ("0712-345-678", "254712345678"),
            ("(0712) 345.678", "254712345678"),
            ("+254110345678", "254110345678"),
            ("2540712345678", "254712345678"),
            ("00254712345678", "254712345678"),
            ("+254 (0)712 345678", "254712345678"),
            ("  0722000000 ", "254722000000"),
        ] {
            assert_eq!(Phone::parse(input).map(|p| p.0), Ok(want.to_string()), "{input}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for input in [
            "",
            "0812345678",
            "071234567",
            "07123456789",
            "+255712345678",
            "+1 712 345 6789",
            "0712345abc",
            "254812345678",
            "25471234567",
            "0712345678; drop table",
            "00712345678",
            "+",
        ] {
            assert!(Phone::parse(input).is_err(), "{input} should be refused");
        }
    }

    #[test]
    fn local_form() {
        assert_eq!(Phone::parse("254712345678").unwrap().local(), "0712345678");
    }

    #[test]
    fn deserialises_through_parse() {
        let p: Phone = serde_json_like("0712345678");
        assert_eq!(p.as_str(), "254712345678");
    }

    fn serde_json_like(s: &str) -> Phone {
        Phone::try_from(s.to_string()).unwrap()
    }
}
