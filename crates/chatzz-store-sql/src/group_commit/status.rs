//! The status changes of a batch, merged for a committer's fast path.

use std::collections::HashMap;

use chatzz_core::StoredMessage;

use crate::group_commit::{Done, Op};

/// Every `mark_sent` of a batch without reads, merged so that one statement makes them
/// all. A message asked for by several entries goes to the first (in queue order), as
/// it would one at a time.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StatusChanges {
    /// Row ids to move to `sent`: sorted, no duplicates.
    pub sent: Vec<i64>,
}

/// A step of a batch's status changes, in queue order (see [`StatusChanges::runs`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Run {
    /// Consecutive `mark_sent` entries (their indexes), and their ids merged: sorted,
    /// no duplicates.
    Sent { entries: Vec<usize>, ids: Vec<i64> },
    /// One `read_up_to` entry (its index).
    Read(usize),
}

impl StatusChanges {
    /// The changes of `ops`, or `None` when the batch reads (`ReadUpTo`): which
    /// messages a read moves is known only once it ran, so a mark and a read of one
    /// message can only be told apart by running them in queue order ([`Self::runs`]).
    pub fn of(ops: &[&Op]) -> Option<Self> {
        let mut sent = Vec::new();
        for op in ops {
            match op {
                Op::MarkSent(ids) => sent.extend_from_slice(ids),
                Op::ReadUpTo { .. } => return None,
                Op::Insert { .. } => {}
            }
        }
        sent.sort_unstable();
        sent.dedup();
        Some(Self { sent })
    }

    /// The status changes of `ops` in queue order: runs of consecutive `mark_sent`s,
    /// merged (inserts between them do not break a run: no caller knows their ids
    /// yet), and each read on its own.
    pub fn runs(ops: &[&Op]) -> Vec<Run> {
        let mut runs = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::MarkSent(ids) => match runs.last_mut() {
                    Some(Run::Sent { entries, ids: all }) => {
                        entries.push(i);
                        all.extend_from_slice(ids);
                    }
                    _ => runs.push(Run::Sent {
                        entries: vec![i],
                        ids: ids.clone(),
                    }),
                },
                Op::ReadUpTo { .. } => runs.push(Run::Read(i)),
                Op::Insert { .. } => {}
            }
        }
        for run in &mut runs {
            if let Run::Sent { ids, .. } = run {
                ids.sort_unstable();
                ids.dedup();
            }
        }
        runs
    }

    /// The answer of a `MarkSent` entry from the rows its batch (or run) moved (by row
    /// id); `None` for another write. Asked in queue order, each moved row goes to the
    /// first entry that asked for it, and later ones get nothing.
    pub fn answer(op: &Op, moved: &mut HashMap<i64, StoredMessage>) -> Option<Done> {
        match op {
            // `ids` is sorted, so the moved rows come out in id order.
            Op::MarkSent(ids) => Some(Done::Marked(
                ids.iter().filter_map(|id| moved.remove(id)).collect(),
            )),
            Op::ReadUpTo { .. } | Op::Insert { .. } => None,
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

    use super::{Run, StatusChanges};
    use crate::group_commit::{Done, Op};

    fn read(up_to: i64, at: i64) -> Op {
        Op::ReadUpTo {
            room: 1,
            reader: UserId::parse("b").expect("id"),
            up_to,
            at,
        }
    }

    fn insert() -> Op {
        Op::Insert {
            room: 1,
            message: NewMessage {
                room: ChatRoomId::new(sequence::encode(1)),
                from: UserId::parse("a").expect("id"),
                to: UserId::parse("b").expect("id"),
                text: MessageText::parse("x".into(), 10).expect("text"),
                created_at: Timestamp::from_millis(0).expect("time"),
                client_message_id: None,
                notify: false,
                sent: false,
            },
        }
    }

    fn refs(ops: &[Op]) -> Vec<&Op> {
        ops.iter().collect()
    }

    fn row(id: i64) -> StoredMessage {
        StoredMessage {
            id: MessageId::new(sequence::encode(u64::try_from(id).expect("id"))),
            room: ChatRoomId::new(sequence::encode(1)),
            from: UserId::parse("a").expect("id"),
            to: UserId::parse("b").expect("id"),
            text: String::new(),
            status: MessageStatus::Sent,
            created_at: Timestamp::from_millis(0).expect("time"),
            read_at: None,
            client_message_id: None,
            edited_at: None,
            deleted_at: None,
        }
    }

    #[test]
    fn merges_marks_of_a_batch_without_reads() {
        let ops = [Op::MarkSent(vec![3, 5]), insert(), Op::MarkSent(vec![1, 5])];
        assert_eq!(
            StatusChanges::of(&refs(&ops)),
            Some(StatusChanges {
                sent: vec![1, 3, 5]
            })
        );
        assert_eq!(StatusChanges::of(&[]), Some(StatusChanges::default()));
        let with_a_read = [Op::MarkSent(vec![4]), read(5, 1)];
        assert_eq!(StatusChanges::of(&refs(&with_a_read)), None);
    }

    #[test]
    fn runs_keep_queue_order_between_marks_and_reads() {
        let ops = [
            Op::MarkSent(vec![9, 2]),
            insert(),
            Op::MarkSent(vec![2, 4]),
            read(7, 1),
            read(8, 2),
            Op::MarkSent(vec![7]),
            insert(),
        ];
        assert_eq!(
            StatusChanges::runs(&refs(&ops)),
            vec![
                Run::Sent {
                    entries: vec![0, 2],
                    ids: vec![2, 4, 9]
                },
                Run::Read(3),
                Run::Read(4),
                Run::Sent {
                    entries: vec![5],
                    ids: vec![7]
                },
            ]
        );
        assert!(StatusChanges::runs(&refs(&[insert()])).is_empty());
    }

    #[test]
    fn each_moved_row_goes_to_the_first_entry_that_asked() {
        let ops = [
            Op::MarkSent(vec![1, 2, 3]),
            Op::MarkSent(vec![2, 3, 4]),
            read(7, 1),
            insert(),
        ];
        let mut moved: HashMap<i64, StoredMessage> =
            [1, 3, 4].into_iter().map(|id| (id, row(id))).collect();
        let answers: Vec<Option<Done>> = ops
            .iter()
            .map(|op| StatusChanges::answer(op, &mut moved))
            .collect();
        let ids = |rows: &[StoredMessage]| -> Vec<String> {
            rows.iter().map(|m| m.id.as_str().to_owned()).collect()
        };
        match &answers[..] {
            [
                Some(Done::Marked(sent)),
                Some(Done::Marked(rest)),
                None,
                None,
            ] => {
                assert_eq!(ids(sent), ids(&[row(1), row(3)]));
                assert_eq!(ids(rest), ids(&[row(4)]));
            }
            other => panic!("{other:?}"),
        }
        assert!(moved.is_empty());
    }
}
