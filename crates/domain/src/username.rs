//! RADIUS usernames: what a customer types into the PPPoE dialer or the hotspot
//! login page, so only characters every router and dialer handles.

use crate::ParseError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// 2 to 64 characters of letters, digits and `. _ - @`, starting with a letter or digit.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let s = input.trim();
        if s.len() < 2 || s.len() > 64 {
            return Err(ParseError::new("must be 2 to 64 characters long"));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')) {
            return Err(ParseError::new("may contain only letters, digits and . _ - @"));
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(ParseError::new("must start with a letter or digit"));
        }
        Ok(Username(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Username::parse(&value)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        assert_eq!(Username::parse(" john.doe@isp ").unwrap().as_str(), "john.doe@isp");
        assert!(Username::parse("a").is_err());
        assert!(Username::parse("john doe").is_err());
        assert!(Username::parse("-john").is_err());
        assert!(Username::parse("jöhn").is_err());
        assert!(Username::parse(&"x".repeat(65)).is_err());
    }
}
