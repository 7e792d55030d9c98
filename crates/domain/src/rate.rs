//! Speeds and durations as operators write them (`10M`, `512k`, `30d`), and the
//! MikroTik rate-limit text they become.

use crate::ParseError;
use serde::{Deserialize, Serialize};

/// A speed in bits per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rate(u64);

impl Rate {
    /// `10M`, `512k`, `1G`, `1.5M` or a plain number of bits per second (RouterOS units:
    /// k = 1000).
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let s = input.trim();
        let bad = || ParseError::new("must be a speed such as 512k, 10M or 1G");
        let (num, mult) = match s.char_indices().last() {
            Some((i, 'k' | 'K')) => (&s[..i], 1_000u64),
            Some((i, 'm' | 'M')) => (&s[..i], 1_000_000),
            Some((i, 'g' | 'G')) => (&s[..i], 1_000_000_000),
            Some(_) => (s, 1),
            None => return Err(bad()),
        };
        let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
        if whole.is_empty()
            || !whole.chars().all(|c| c.is_ascii_digit())
            || !frac.chars().all(|c| c.is_ascii_digit())
            || frac.len() > 3
            || whole.len() > 12
        {
            return Err(bad());
        }
        let whole: u64 = whole.parse().map_err(|_| bad())?;
        let frac_val: u64 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| bad())? };
        let scale = 10u64.pow(frac.len() as u32);
        let bps = whole.checked_mul(mult).and_then(|w| w.checked_add(frac_val * mult / scale)).ok_or_else(bad)?;
        if bps == 0 {
            return Err(ParseError::new("must be greater than zero"));
        }
        if bps > 100_000_000_000 {
            return Err(ParseError::new("must be at most 100G"));
        }
        Ok(Rate(bps))
    }

    pub fn from_bps(bps: u64) -> Self {
        Rate(bps)
    }

    pub fn bps(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for Rate {
    /// The shortest exact RouterOS form: `10M`, `512k`, `1500k`, `999`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        if v.is_multiple_of(1_000_000_000) {
            write!(f, "{}G", v / 1_000_000_000)
        } else if v.is_multiple_of(1_000_000) {
            write!(f, "{}M", v / 1_000_000)
        } else if v.is_multiple_of(1_000) {
            write!(f, "{}k", v / 1_000)
        } else {
            write!(f, "{v}")
        }
    }
}

/// A package's speed: what Mikrotik-Rate-Limit carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub download: Rate,
    pub upload: Rate,
    pub burst: Option<Burst>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    pub download: Rate,
    pub upload: Rate,
    pub threshold_download: Rate,
    pub threshold_upload: Rate,
    pub time_secs: u32,
}

impl RateLimit {
    /// The Mikrotik-Rate-Limit text. RouterOS reads it from the router's side of the
    /// link: `rx/tx` where rx is what the customer uploads and tx what they download.
    pub fn mikrotik(&self) -> String {
        match &self.burst {
            None => format!("{}/{}", self.upload, self.download),
            Some(b) => format!(
                "{}/{} {}/{} {}/{} {}/{}",
                self.upload,
                self.download,
                b.upload,
                b.download,
                b.threshold_upload,
                b.threshold_download,
                b.time_secs,
                b.time_secs
            ),
        }
    }
}

/// A package duration: `30d`, `12h`, `45m`, `1w` or a bare number of days. Stored in minutes.
pub fn parse_duration_minutes(input: &str) -> Result<i64, ParseError> {
    if input.trim().starts_with('-') {
        return Err(ParseError::new("must be greater than zero"));
    }
    let d = crate::duration::parse(input, crate::duration::Bare::Days)
        .ok_or_else(|| ParseError::new("must be a duration such as 30d, 1w, 12h or 45m"))?;
    if d.is_zero() {
        return Err(ParseError::new("must be greater than zero"));
    }
    if d.as_secs() > 60 * 60 * 24 * 3660 {
        return Err(ParseError::new("must be at most 10 years"));
    }
    if d.as_millis() % 60_000 != 0 {
        return Err(ParseError::new("must be whole minutes"));
    }
    i64::try_from(d.as_secs() / 60).map_err(|_| ParseError::new("must be at most 10 years"))
}

/// The inverse of [`parse_duration_minutes`], in the largest exact unit.
pub fn format_duration_minutes(minutes: i64) -> String {
    if minutes % (60 * 24 * 7) == 0 && minutes % (60 * 24 * 30) != 0 && minutes >= 60 * 24 * 7 {
        format!("{}w", minutes / (60 * 24 * 7))
    } else if minutes % (60 * 24) == 0 {
        format!("{}d", minutes / (60 * 24))
    } else if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(Rate::parse("10M").unwrap().bps(), 10_000_000);
        assert_eq!(Rate::parse("512k").unwrap().bps(), 512_000);
        assert_eq!(Rate::parse("1.5M").unwrap().to_string(), "1500k");
        assert_eq!(Rate::parse("2000000").unwrap().to_string(), "2M");
        for bad in ["", "M", "-1M", "10X", "0", "1.2345M", "1e6"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rate_limit_text_is_upload_first() {
        let rl = RateLimit { download: Rate::parse("10M").unwrap(), upload: Rate::parse("2M").unwrap(), burst: None };
        assert_eq!(rl.mikrotik(), "2M/10M");
        let rl = RateLimit {
            burst: Some(Burst {
                download: Rate::parse("20M").unwrap(),
                upload: Rate::parse("4M").unwrap(),
                threshold_download: Rate::parse("8M").unwrap(),
                threshold_upload: Rate::parse("1M").unwrap(),
                time_secs: 16,
            }),
            ..rl
        };
        assert_eq!(rl.mikrotik(), "2M/10M 4M/20M 1M/8M 16/16");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_minutes("30d"), Ok(43_200));
        assert_eq!(parse_duration_minutes("30"), Ok(43_200));
        assert_eq!(parse_duration_minutes("1w"), Ok(10_080));
        assert_eq!(parse_duration_minutes("12h"), Ok(720));
        assert_eq!(parse_duration_minutes("45m"), Ok(45));
        assert_eq!(parse_duration_minutes("90min"), Ok(90));
        assert!(parse_duration_minutes("0d").is_err());
        assert!(parse_duration_minutes("abc").is_err());
        assert!(parse_duration_minutes("").is_err());
        assert_eq!(format_duration_minutes(43_200), "30d");
        assert_eq!(format_duration_minutes(10_080), "1w");
        assert_eq!(format_duration_minutes(720), "12h");
        assert_eq!(format_duration_minutes(45), "45m");
    }
}
