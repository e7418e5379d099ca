use crate::error::ChatError;

/// The names of chatzz's own tables or collections (the seed's `chatUserModelName`):
/// one prefix, checked to be a plain identifier so that it is safe to splice into SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreNames {
    prefix: String,
}

impl Default for StoreNames {
    fn default() -> Self {
        Self {
            prefix: "chatzz_".to_owned(),
        }
    }
}

impl StoreNames {
    /// Accepts 1 to 40 ASCII letters, digits and underscores, not starting with a digit.
    pub fn with_prefix(prefix: &str) -> Result<Self, ChatError> {
        let valid = (1..=40).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !prefix.as_bytes()[0].is_ascii_digit();
        if !valid {
            return Err(ChatError::invalid(
                "a table prefix is 1 to 40 ASCII letters, digits or underscores, not starting with a digit",
            ));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Chat users and when they were last online.
    pub fn users(&self) -> String {
        format!("{}users", self.prefix)
    }

    /// One room per pair of users.
    pub fn rooms(&self) -> String {
        format!("{}rooms", self.prefix)
    }

    pub fn messages(&self) -> String {
        format!("{}messages", self.prefix)
    }

    /// Where a store records which schema migrations it applied.
    pub fn migrations(&self) -> String {
        format!("{}migrations", self.prefix)
    }

    /// `template` with every `{prefix}` replaced by the prefix.
    pub fn expand(&self, template: &str) -> String {
        template.replace("{prefix}", &self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_plain_identifiers() {
        assert_eq!(StoreNames::default().messages(), "chatzz_messages");
        assert_eq!(
            StoreNames::with_prefix("App_2").map(|n| n.users()),
            Ok("App_2users".to_owned())
        );
        for bad in [
            "",
            "2x",
            "a-b",
            "x; DROP TABLE t",
            "é",
            "\"q\"",
            &"a".repeat(41),
        ] {
            assert!(StoreNames::with_prefix(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            StoreNames::default().expand("CREATE TABLE {prefix}rooms"),
            "CREATE TABLE chatzz_rooms"
        );
    }
}
