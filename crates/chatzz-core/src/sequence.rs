//! Sequence numbers as ids, for stores that number messages: zero-padded to 20 digits
//! so that comparing ids as strings (as clients do) is comparing numbers. A client's
//! `before`/`after` cursor may be any string; [`below`] and [`above`] translate it into
//! a range of numbers that selects exactly the ids a string comparison would.

/// Digits in an id: enough for any `u64`.
pub const WIDTH: usize = 20;

/// The id of sequence number `n`.
pub fn encode(n: u64) -> String {
    format!("{n:0WIDTH$}")
}

/// The sequence number of an id this module encoded; `None` for any other string.
pub fn decode(id: &str) -> Option<u64> {
    if id.len() != WIDTH || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// How many 20-digit ids compare less than `cursor`, and whether `cursor` is one itself.
fn rank(cursor: &str) -> (u128, bool) {
    let bytes = cursor.as_bytes();
    let mut prefix: u128 = 0;
    for i in 0..WIDTH {
        let rest = 10u128.pow((WIDTH - i - 1) as u32);
        match bytes.get(i) {
            // The cursor is a proper prefix of the ids starting with it: they are greater.
            None => return (prefix * 10 * rest, false),
            Some(b) if b.is_ascii_digit() => prefix = prefix * 10 + u128::from(b - b'0'),
            // Every id starting with the digits so far is less than a byte above '9'.
            Some(b) if *b > b'9' => return ((prefix + 1) * 10 * rest, false),
            Some(_) => return (prefix * 10 * rest, false),
        }
    }
    if bytes.len() == WIDTH {
        (prefix, true)
    } else {
        // Longer than an id and starting with one: that id is a prefix, so it is less.
        (prefix + 1, false)
    }
}

/// Ids that compare less than `cursor` are exactly those numbered below this.
pub fn below(cursor: &str) -> u128 {
    rank(cursor).0
}

/// Ids that compare greater than `cursor` are exactly those numbered at or above this.
pub fn above(cursor: &str) -> u128 {
    let (less, exact) = rank(cursor);
    less + u128::from(exact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_ids_sort_as_numbers() {
        assert_eq!(encode(9), "00000000000000000009");
        assert!(encode(9) < encode(10));
        assert_eq!(decode(&encode(u64::MAX)), Some(u64::MAX));
        assert_eq!(decode("9"), None);
        assert_eq!(decode("0000000000000000000x"), None);
    }

    #[test]
    fn cursors_select_what_string_comparison_selects() {
        let cursors = [
            "",
            "0",
            "00000000000000000005",
            "00000000000000000005a",
            "0000000000000000000",
            "000000000000000000:",
            "00000000000000000010",
            "1",
            "zzz",
            "/",
            "0000000000000000000/",
            "99999999999999999999",
            "999999999999999999999",
        ];
        let samples: Vec<u64> = (0..=30)
            .chain([99, 100, 12345, 99_999_999_999_999_999])
            .collect();
        for cursor in cursors {
            for n in &samples {
                let id = encode(*n);
                assert_eq!(
                    id.as_str() < cursor,
                    u128::from(*n) < below(cursor),
                    "{id} < {cursor:?}"
                );
                assert_eq!(
                    id.as_str() > cursor,
                    u128::from(*n) >= above(cursor),
                    "{id} > {cursor:?}"
                );
            }
        }
    }
}
