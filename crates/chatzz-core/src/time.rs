//! Timestamps: UTC, millisecond precision, written as ISO-8601 with a `Z`.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Serialize, Serializer};

use crate::error::ChatError;

/// A point in time, truncated to milliseconds so that it survives any store unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn from_millis(millis: i64) -> Option<Self> {
        Utc.timestamp_millis_opt(millis).single().map(Self)
    }

    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        // Truncating through millis cannot fail for a DateTime that already exists.
        Self::from_millis(at.timestamp_millis()).unwrap_or(Self(at))
    }

    pub fn millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    pub fn as_datetime(self) -> DateTime<Utc> {
        self.0
    }

    /// Parses a client's ISO-8601 / RFC 3339 string.
    pub fn parse_iso(text: &str) -> Result<Self, ChatError> {
        DateTime::parse_from_rfc3339(text)
            .map(|at| Self::from_datetime(at.with_timezone(&Utc)))
            .map_err(|_| {
                ChatError::invalid("date must be an ISO-8601 string or epoch milliseconds")
            })
    }

    /// Parses a client's epoch milliseconds.
    pub fn parse_millis(millis: i64) -> Result<Self, ChatError> {
        Self::from_millis(millis).ok_or_else(|| ChatError::invalid("date is out of range"))
    }

    pub fn to_iso(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_iso())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_iso())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_milliseconds_and_z() {
        let at = Timestamp::from_millis(1_767_323_045_678).unwrap();
        assert_eq!(at.to_iso(), "2026-01-02T03:04:05.678Z");
        assert_eq!(
            Timestamp::from_millis(0).unwrap().to_iso(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn parses_iso_with_offsets_and_truncates() {
        let at = Timestamp::parse_iso("2026-01-02T04:04:05.6789+01:00").unwrap();
        assert_eq!(at.to_iso(), "2026-01-02T03:04:05.678Z");
        assert!(Timestamp::parse_iso("yesterday").is_err());
        assert!(Timestamp::parse_millis(i64::MAX).is_err());
    }
}
