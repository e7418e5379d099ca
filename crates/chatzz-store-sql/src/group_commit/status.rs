//! The status changes of a batch, merged for a committer's fast path.

use std::collections::HashMap;

use chatzz_core::StoredMessage;

use crate::group_commit::{Done, Op};

/// Every status change of a batch, merged so that a few statements can make them all:
/// the messages to move to `sent`, and those to move to `read` with the time of the
/// first entry (in queue order) that reads each. A later read of the same message moves
/// nothing, as it would one at a time.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StatusChanges {
    /// Row ids to move to `sent`: sorted, no duplicates.
    pub sent: Vec<i64>,
    /// (row id, read at) to move to `read`: sorted by id, one per id.
    pub read: Vec<(i64, i64)>,
}

impl StatusChanges {
    /// The changes of `ops`, or `None` when a message is both marked sent and read in
    /// them: what each of those entries gets then depends on their order, which only
    /// running the entries one at a time, in queue order, keeps.
    pub fn of(ops: &[&Op]) -> Option<Self> {
        let mut sent = Vec::new();
        let mut read: Vec<(i64, i64)> = Vec::new();
        for op in ops {
            match op {
                Op::MarkSent(ids) => sent.extend_from_slice(ids),
                Op::MarkRead { id, at } => read.push((*id, *at)),
                Op::Insert { .. } => {}
            }
        }
        sent.sort_unstable();
        sent.dedup();
        // A stable sort keeps the reads of one id in queue order: the first one stays.
        read.sort_by_key(|(id, _)| *id);
        read.dedup_by_key(|(id, _)| *id);
        let overlap = read.iter().any(|(id, _)| sent.binary_search(id).is_ok());
        (!overlap).then_some(Self { sent, read })
    }

    /// The answer of a `MarkSent` or `MarkRead` entry from the rows its batch moved (by
    /// row id); `None` for an insert. Asked in queue order, each moved row goes to the
    /// first entry that asked for it, and later ones get nothing.
    pub fn answer(op: &Op, moved: &mut HashMap<i64, StoredMessage>) -> Option<Done> {
        match op {
            // `ids` is sorted, so the moved rows come out in id order.
            Op::MarkSent(ids) => Some(Done::Marked(
                ids.iter().filter_map(|id| moved.remove(id)).collect(),
            )),
            Op::MarkRead { id, .. } => Some(Done::Read(moved.remove(id))),
            Op::Insert { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chatzz_core::{
        ChatRoomId, MessageId, MessageStatus, MessageText, NewMessage, StoredMessage, Timestamp,
        UserId, sequence,
    };

    use super::StatusChanges;
    use crate::group_commit::{Done, Op};

    fn read(id: i64, at: i64) -> Op {
        Op::MarkRead { id, at }
    }

    fn changes(ops: &[Op]) -> Option<StatusChanges> {
        StatusChanges::of(&ops.iter().collect::<Vec<_>>())
    }

    fn row(id: i64) -> StoredMessage {
        StoredMessage {
            id: MessageId::new(sequence::encode(u64::try_from(id).expect("id"))),
            room: ChatRoomId::new(sequence::encode(1)),
            from: UserId::parse("a").expect("id"),
            to: UserId::parse("b").expect("id"),
            text: String::new(),
            status: MessageStatus::Read,
            created_at: Timestamp::from_millis(0).expect("time"),
            read_at: None,
            client_message_id: None,
        }
    }

    #[test]
    fn merges_marks_and_keeps_the_first_read_of_each_message() {
        let ops = [
            read(9, 1),
            Op::MarkSent(vec![3, 5]),
            read(2, 2),
            read(9, 3),
            Op::MarkSent(vec![1, 5]),
            read(2, 4),
        ];
        assert_eq!(
            changes(&ops),
            Some(StatusChanges {
                sent: vec![1, 3, 5],
                read: vec![(2, 2), (9, 1)],
            })
        );
        assert_eq!(changes(&[]), Some(StatusChanges::default()));
    }

    #[test]
    fn a_message_both_marked_sent_and_read_is_a_conflict_in_either_order() {
        assert_eq!(changes(&[read(4, 1), Op::MarkSent(vec![2, 4])]), None);
        assert_eq!(changes(&[Op::MarkSent(vec![4]), read(4, 1)]), None);
        assert!(changes(&[Op::MarkSent(vec![4]), read(5, 1)]).is_some());
    }

    #[test]
    fn each_moved_row_goes_to_the_first_entry_that_asked() {
        let ops = [
            read(7, 1),
            Op::MarkSent(vec![1, 2, 3]),
            read(7, 2),
            Op::MarkSent(vec![2, 3, 4]),
            read(8, 3),
        ];
        let mut moved: HashMap<i64, StoredMessage> =
            [1, 3, 4, 7].into_iter().map(|id| (id, row(id))).collect();
        let answers: Vec<Option<Done>> = ops
            .iter()
            .map(|op| StatusChanges::answer(op, &mut moved))
            .collect();
        let ids = |rows: &[StoredMessage]| -> Vec<String> {
            rows.iter().map(|m| m.id.as_str().to_owned()).collect()
        };
        match &answers[..] {
            [
                Some(Done::Read(Some(first))),
                Some(Done::Marked(sent)),
                Some(Done::Read(None)),
                Some(Done::Marked(rest)),
                Some(Done::Read(None)),
            ] => {
                assert_eq!(first.id, row(7).id);
                assert_eq!(ids(sent), ids(&[row(1), row(3)]));
                assert_eq!(ids(rest), ids(&[row(4)]));
            }
            other => panic!("{other:?}"),
        }
        assert!(moved.is_empty());
        let insert = Op::Insert {
            room: 1,
            message: NewMessage {
                room: ChatRoomId::new(sequence::encode(1)),
                from: UserId::parse("a").expect("id"),
                to: UserId::parse("b").expect("id"),
                text: MessageText::parse("x".into(), 10).expect("text"),
                created_at: Timestamp::from_millis(0).expect("time"),
                client_message_id: None,
            },
        };
        assert!(StatusChanges::answer(&insert, &mut moved).is_none());
    }
}
