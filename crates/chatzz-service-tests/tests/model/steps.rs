//! The model's steps: each request run through the service and checked against what the
//! model expects, and the stored world checked after every step.

use super::*;
use chatzz_core::SendRequest;

impl Model {
    /// `u`'s contact `c` as `u` sees it now.
    fn contact_of(&self, u: usize, c: usize) -> C {
        let room = self.rooms[&pair(u, c)].clone();
        let unread = self
            .messages
            .iter()
            .filter(|m| m.room == room && m.to == u && m.status != MessageStatus::Read)
            .filter(|m| m.deleted_at.is_none())
            .count();
        let last = self.messages.iter().rfind(|m| m.room == room).cloned();
        (
            c,
            room,
            self.online(c),
            self.last_online[c],
            unread as u64,
            last,
        )
    }

    /// `u`'s contacts by last activity, newest first: the newest message's time, else
    /// the room's; among equals the newer room first.
    fn contact_list(&self, u: usize) -> Vec<C> {
        let mut list: Vec<C> = self.contacts[u]
            .iter()
            .rev()
            .map(|&c| self.contact_of(u, c))
            .collect();
        list.sort_by_key(|(_, room, _, _, _, last)| {
            std::cmp::Reverse(last.as_ref().map_or(self.since[room], |m| m.created_at))
        });
        list
    }

    fn online(&self, u: usize) -> bool {
        !self.sockets[u].is_empty()
    }

    /// The socket a request of `u` comes from; `None` when `u` has no live socket (the
    /// transport then refuses every request but `connect-user`).
    fn live_socket(&self, u: usize) -> Option<usize> {
        self.sockets[u].first().copied()
    }

    fn message_mut(&mut self, id: &str) -> &mut M {
        self.messages
            .iter_mut()
            .find(|m| m.id == id)
            .expect("a known message")
    }

    fn room_messages(&self, room: &str) -> Vec<M> {
        self.messages
            .iter()
            .filter(|m| m.room == room)
            .cloned()
            .collect()
    }

    /// A message seen by a client: its status never goes back.
    fn see(&mut self, m: &M, context: &str) -> Result<(), String> {
        let before = self.seen.get(&m.id).copied();
        ensure!(
            before.is_none_or(|b| b <= m.status),
            "{context}: message {} went back from {before:?} to {:?}",
            m.id,
            m.status
        );
        self.seen.insert(m.id.clone(), m.status);
        Ok(())
    }

    /// Compares the deliveries of a request with the expected ones (as a multiset), then
    /// plays them to the clients: statuses move forward, presence deliveries are flips.
    fn deliveries(
        &mut self,
        actual: &[Delivery],
        mut expected: Vec<D>,
        requester: (usize, usize),
    ) -> Result<(), String> {
        let actual: Vec<D> = actual.iter().map(norm_delivery).collect::<Result<_, _>>()?;
        let mut sorted = actual.clone();
        sorted.sort();
        expected.sort();
        ensure_eq!(sorted, expected, "deliveries");
        for (to, event) in &actual {
            // Emitted in order: statuses within one request move forward too.
            if let Ev::New(m) | Ev::Status(m) = event {
                self.see(m, "delivery")?;
            }
            let receiver = match to {
                Aud::User(u) => self.online(*u).then_some(*u),
                Aud::Others(u) => self.sockets[*u]
                    .iter()
                    .any(|s| (*u, *s) != requester)
                    .then_some(*u),
            };
            let Some(receiver) = receiver else { continue };
            match event {
                Ev::Presence { user, online, .. } => {
                    let believed = self.views[receiver].get(user).copied();
                    ensure!(
                        believed == Some(!online),
                        "{} believed {} online={believed:?} and was told online={online}: not a flip",
                        NAMES[receiver],
                        NAMES[*user]
                    );
                    self.views[receiver].insert(*user, *online);
                }
                Ev::Added { user, online, .. } => {
                    ensure!(
                        !self.views[receiver].contains_key(user),
                        "{} was told {} was added, but knew them already",
                        NAMES[receiver],
                        NAMES[*user]
                    );
                    self.views[receiver].insert(*user, *online);
                }
                Ev::New(_) | Ev::Status(_) | Ev::ReadUpTo(..) | Ev::Updated(_) => {}
            }
        }
        Ok(())
    }

    fn waiting_for(&self, u: usize) -> impl Iterator<Item = &M> {
        self.messages
            .iter()
            .filter(move |m| m.to == u && m.status == MessageStatus::NotSent)
    }

    fn who(&self, who: Who) -> Option<usize> {
        let among = |list: Vec<usize>, i: usize| (!list.is_empty()).then(|| list[i % list.len()]);
        let online = (0..USERS).filter(|u| self.online(*u));
        match who {
            Who::User(u) => Some(u),
            Who::Waiting(i) => among(
                online
                    .clone()
                    .filter(|u| self.waiting_for(*u).next().is_some())
                    .collect(),
                i,
            )
            .or_else(|| among(online.collect(), i)),
            Who::Online(i) => among(online.collect(), i),
            Who::Offline(i) => {
                among((0..USERS).filter(|u| !self.online(*u)).collect(), i).or(Some(i % USERS))
            }
        }
    }

    fn whom(&self, requester: usize, whom: Whom) -> usize {
        let among = |list: Vec<usize>, i: usize| {
            if list.is_empty() {
                (requester + 1 + i) % USERS
            } else {
                list[i % list.len()]
            }
        };
        match whom {
            Whom::User(u) => u,
            Whom::Offline(i) if self.contacts[requester].iter().any(|c| !self.online(*c)) => among(
                self.contacts[requester]
                    .iter()
                    .copied()
                    .filter(|c| !self.online(*c))
                    .collect(),
                i,
            ),
            Whom::Contact(i) | Whom::Offline(i) if !self.contacts[requester].is_empty() => {
                among(self.contacts[requester].clone(), i)
            }
            Whom::Waiting(i) if self.waiting_for(requester).next().is_some() => {
                among(self.waiting_for(requester).map(|m| m.from).collect(), i)
            }
            Whom::Contact(i) | Whom::Offline(i) | Whom::Waiting(i) | Whom::Known(i) => among(
                (0..USERS)
                    .filter(|u| *u != requester && self.registered[*u])
                    .collect(),
                i,
            ),
        }
    }

    pub(super) fn step(
        &mut self,
        sut: &Sut<'_>,
        op: &Op,
        step: usize,
        now: i64,
    ) -> Result<(), String> {
        match *op {
            Op::Connect { user, socket } => {
                let user = self.who(user).unwrap_or(socket % USERS);
                self.connect(sut, user, socket)
            }
            Op::Disconnect { user, socket } => {
                let user = self.who(user).unwrap_or(socket % USERS);
                let live: Vec<usize> = self.sockets[user].iter().copied().collect();
                let socket = if live.is_empty() {
                    socket
                } else {
                    live[socket % live.len()]
                };
                self.disconnect(sut, user, socket, now)
            }
            Op::AddContact { user, other } => {
                let Some(user) = self.who(user) else {
                    return Ok(());
                };
                let other = self.whom(user, other);
                self.add_contact(sut, user, other, now)
            }
            Op::Send { user, to, cid } => {
                let Some(user) = self.who(user) else {
                    return Ok(());
                };
                let to = self.whom(user, to);
                self.sends.push((user, to, format!("text {step}"), cid));
                let (user, to, text, cid) = self.sends[self.sends.len() - 1].clone();
                self.send(sut, user, to, text, cid, now)
            }
            Op::Retry { pick, waiting } => {
                let still_waiting: Vec<usize> = (0..self.sends.len())
                    .filter(|i| {
                        let (user, _, _, cid) = self.sends[*i];
                        cid.and_then(|c| self.cids.get(&(user, c)))
                            .is_some_and(|id| {
                                self.messages
                                    .iter()
                                    .any(|m| m.id == *id && m.status == MessageStatus::NotSent)
                            })
                    })
                    .collect();
                let pick = match still_waiting.len() {
                    n if waiting && n > 0 => still_waiting[pick % n],
                    _ if self.sends.is_empty() => return Ok(()),
                    _ => pick % self.sends.len(),
                };
                let (user, to, text, cid) = self.sends[pick].clone();
                self.send(sut, user, to, text, cid, now)
            }
            Op::Change {
                pick,
                by_sender,
                who,
                delete,
                text,
            } => {
                let message = pick
                    .filter(|_| !self.messages.is_empty())
                    .map(|p| self.messages[p % self.messages.len()].clone());
                let who = match &message {
                    Some(m) if by_sender => m.from,
                    _ => match self.who(who) {
                        Some(who) => who,
                        None => return Ok(()),
                    },
                };
                let text = match (text, &message) {
                    (0, Some(m)) if !m.text.is_empty() => m.text.clone(),
                    (1, _) => "edited".to_owned(),
                    _ => format!("edited at {step}"),
                };
                self.change(sut, who, message, delete.then_some(()).ok_or(text), now)
            }
            Op::Read {
                pick,
                by_recipient,
                reader,
            } => {
                let message = pick
                    .filter(|_| !self.messages.is_empty())
                    .map(|p| self.messages[p % self.messages.len()].clone());
                let reader = match &message {
                    Some(m) if by_recipient => m.to,
                    _ => match self.who(reader) {
                        Some(reader) => reader,
                        None => return Ok(()),
                    },
                };
                self.read(sut, reader, message, now)
            }
            Op::History {
                user,
                with,
                since,
                before,
                after,
                limit,
            } => {
                let cursor = |c: Option<Cursor>| {
                    c.map(|c| match c {
                        Cursor::Message(i) if !self.messages.is_empty() => {
                            self.messages[i % self.messages.len()].id.clone()
                        }
                        Cursor::Message(_) => "0".to_owned(),
                        Cursor::Raw(raw) => raw.to_owned(),
                    })
                };
                let (before, after) = (cursor(before), cursor(after));
                let Some(user) = self.who(user) else {
                    return Ok(());
                };
                let with = self.whom(user, with);
                let since = since.map(|k| T0 + k * 1_000);
                self.history(sut, user, with, since, before, after, limit)
            }
        }
    }

    fn connect(&mut self, sut: &Sut<'_>, u: usize, socket: usize) -> Result<(), String> {
        let came_online = !self.online(u);
        let out = sut
            .rt
            .block_on(sut.service.connect(&session(u, socket)))
            .map_err(|e| format!("connect failed: {e}"))?;
        self.registered[u] = true;
        self.sockets[u].insert(socket);

        let reply = &out.reply;
        ensure_eq!(reply.user, UserDetails::bare(&uid(u)), "user");
        ensure_eq!(reply.status, PresenceStatus::Online, "status");
        ensure_eq!(millis(reply.last_online), self.last_online[u], "lastOnline");
        let contacts: Vec<C> = reply
            .connected_users
            .iter()
            .map(norm_contact)
            .collect::<Result<_, _>>()?;

        // The oldest few `not_sent` messages to `u` from each sender become `sent`.
        let mut pending: Vec<M> = self
            .messages
            .iter()
            .filter(|m| m.to == u && m.status == MessageStatus::NotSent)
            .cloned()
            .collect();
        pending.sort_by(|a, b| a.id.cmp(&b.id));
        let mut handed: BTreeMap<usize, Vec<M>> = BTreeMap::new();
        for mut m in pending {
            let list = handed.entry(m.from).or_default();
            if list.len() < CAP {
                m.status = MessageStatus::Sent;
                self.message_mut(&m.id).status = MessageStatus::Sent;
                list.push(m);
            }
        }
        handed.retain(|_, list| !list.is_empty());
        let mut missed: BTreeMap<usize, Vec<M>> = BTreeMap::new();
        for (sender, list) in &reply.missed_messages {
            let list = list.iter().map(norm_message).collect::<Result<_, _>>()?;
            missed.insert(user_index(sender)?, list);
        }
        ensure_eq!(missed, handed, "missedMessages");
        // As the hand-over left them: a newest message handed over shows `sent`.
        let expected = self.contact_list(u);
        ensure_eq!(contacts, expected, "connectedUsers");

        let mut expected: Vec<D> = handed
            .values()
            .flatten()
            .map(|m| (Aud::User(m.from), Ev::Status(m.clone())))
            .collect();
        if came_online {
            for &c in &self.contacts[u] {
                if self.online(c) {
                    expected.push((
                        Aud::User(c),
                        Ev::Presence {
                            user: u,
                            online: true,
                            last_online: self.last_online[u],
                        },
                    ));
                }
            }
        }
        self.deliveries(&out.deliveries, expected, (u, socket))?;

        for m in missed.values().flatten() {
            self.see(m, "missedMessages")?;
            ensure!(
                self.missed_seen.insert(m.id.clone()),
                "message {} handed over in missedMessages a second time",
                m.id
            );
        }
        self.views[u] = contacts
            .iter()
            .map(|(c, _, online, ..)| (*c, *online))
            .collect();
        Ok(())
    }

    fn disconnect(
        &mut self,
        sut: &Sut<'_>,
        u: usize,
        socket: usize,
        now: i64,
    ) -> Result<(), String> {
        let out = sut
            .rt
            .block_on(sut.service.disconnect(&session(u, socket)))
            .map_err(|e| format!("disconnect failed: {e}"))?;
        let mut expected = Vec::new();
        if self.sockets[u].remove(&socket) && !self.online(u) {
            self.last_online[u] = Some(now);
            self.views[u].clear();
            for &c in &self.contacts[u] {
                if self.online(c) {
                    expected.push((
                        Aud::User(c),
                        Ev::Presence {
                            user: u,
                            online: false,
                            last_online: Some(now),
                        },
                    ));
                }
            }
        }
        self.deliveries(&out.deliveries, expected, (u, socket))
    }

    fn add_contact(&mut self, sut: &Sut<'_>, u: usize, o: usize, now: i64) -> Result<(), String> {
        let Some(socket) = self.live_socket(u) else {
            return Ok(());
        };
        let actual = sut
            .rt
            .block_on(sut.service.add_contact(&session(u, socket), &uid(o)));
        if o == u {
            return expect_error(actual, ErrorCode::InvalidArgument);
        }
        if !self.registered[o] {
            return expect_error(actual, ErrorCode::UnknownUser);
        }
        let out = actual.map_err(|e| format!("add contact failed: {e}"))?;
        let room = out.reply.chat_room_id.as_str().to_owned();
        let created = match self.rooms.get(&pair(u, o)) {
            Some(known) => {
                ensure_eq!(room, *known, "the pair's room");
                false
            }
            None => {
                ensure!(
                    !self.rooms.values().any(|r| *r == room),
                    "room {room} given to a second pair"
                );
                self.rooms.insert(pair(u, o), room.clone());
                self.since.insert(room.clone(), now);
                self.contacts[u].push(o);
                self.contacts[o].push(u);
                true
            }
        };
        ensure_eq!(
            norm_contact(&out.reply)?,
            self.contact_of(u, o),
            "the added contact"
        );
        let mut expected = Vec::new();
        if created {
            expected.push((
                Aud::User(o),
                Ev::Added {
                    user: u,
                    room,
                    online: true,
                    last_online: self.last_online[u],
                },
            ));
        }
        self.views[u].insert(o, self.online(o));
        self.deliveries(&out.deliveries, expected, (u, socket))
    }

    fn send(
        &mut self,
        sut: &Sut<'_>,
        u: usize,
        to: usize,
        text: String,
        cid: Option<u8>,
        now: i64,
    ) -> Result<(), String> {
        let Some(socket) = self.live_socket(u) else {
            return Ok(());
        };
        let client_id = cid.map(|c| ClientMessageId::parse(format!("cid-{c}")).unwrap());
        let actual = sut.rt.block_on(sut.service.send(
            &session(u, socket),
            SendRequest::new(&uid(to), text.clone(), client_id),
        ));
        if to == u {
            return expect_error(actual, ErrorCode::InvalidArgument);
        }
        let Some(room) = self.rooms.get(&pair(u, to)).cloned() else {
            return expect_error(actual, ErrorCode::NotAContact);
        };
        let out = actual.map_err(|e| format!("send failed: {e}"))?;
        let reply = norm_message(&out.reply)?;

        let known = cid.and_then(|c| self.cids.get(&(u, c)).cloned());
        let (announce, id) = match known {
            Some(id) => {
                // A retry: the first message, announced again if its recipient is online
                // now: still waiting, it is delivered now; `sent` and neither edited nor
                // deleted, it is announced again as stored (the first attempt may have
                // stored it without announcing it).
                let first = self.messages.iter().find(|m| m.id == id).cloned().unwrap();
                let untouched = first.edited_at.is_none() && first.deleted_at.is_none();
                let again = (first.status == MessageStatus::NotSent
                    || (first.status == MessageStatus::Sent && untouched))
                    && self.online(first.to);
                (again, id)
            }
            None => {
                ensure!(
                    !self.messages.iter().any(|m| m.id == reply.id),
                    "a new message got the id {} of an earlier one",
                    reply.id
                );
                if let Some(last) = self.messages.iter().rfind(|m| m.room == room) {
                    ensure!(
                        reply.id > last.id,
                        "new id {} is not above {} in its room",
                        reply.id,
                        last.id
                    );
                }
                self.messages.push(M {
                    id: reply.id.clone(),
                    room,
                    from: u,
                    to,
                    text,
                    status: MessageStatus::NotSent,
                    created_at: now,
                    read_at: None,
                    edited_at: None,
                    deleted_at: None,
                });
                if let Some(c) = cid {
                    self.cids.insert((u, c), reply.id.clone());
                }
                (true, reply.id.clone())
            }
        };
        let mut expected = Vec::new();
        if announce {
            let m = self.messages.iter().find(|m| m.id == id).cloned().unwrap();
            expected.push((Aud::User(m.from), Ev::New(m.clone())));
            expected.push((Aud::User(m.to), Ev::New(m.clone())));
            if self.online(m.to) && m.status == MessageStatus::NotSent {
                let m = {
                    let stored = self.message_mut(&id);
                    stored.status = MessageStatus::Sent;
                    stored.clone()
                };
                expected.push((Aud::User(m.from), Ev::Status(m.clone())));
                expected.push((Aud::User(m.to), Ev::Status(m)));
            }
        }
        let m = self.messages.iter().find(|m| m.id == id).cloned().unwrap();
        ensure_eq!(reply, m, "the acknowledged message");
        self.deliveries(&out.deliveries, expected, (u, socket))?;
        self.see(&reply, "send reply")
    }

    fn read(
        &mut self,
        sut: &Sut<'_>,
        reader: usize,
        message: Option<M>,
        now: i64,
    ) -> Result<(), String> {
        let Some(socket) = self.live_socket(reader) else {
            return Ok(());
        };
        let id = message
            .as_ref()
            .map_or(UNKNOWN_ID.to_owned(), |m| m.id.clone());
        let actual = sut.rt.block_on(
            sut.service
                .mark_read(&session(reader, socket), &MessageId::new(id)),
        );
        let Some(m) = message.filter(|m| m.to == reader) else {
            return expect_error(actual, ErrorCode::NotFound);
        };
        let out = actual.map_err(|e| format!("read failed: {e}"))?;
        // Read up to it: every message of the room to the reader up to it, at once.
        let mut count = 0;
        for stored in &mut self.messages {
            if stored.room == m.room
                && stored.to == reader
                && stored.id <= m.id
                && stored.status != MessageStatus::Read
            {
                stored.status = MessageStatus::Read;
                stored.read_at = Some(now);
                count += 1;
            }
        }
        let mut expected = Vec::new();
        if count > 0 {
            let read = self
                .messages
                .iter()
                .find(|x| x.id == m.id)
                .cloned()
                .unwrap();
            let range = Ev::ReadUpTo(m.room.clone(), reader, m.id.clone(), now, count);
            for to in [Aud::User(read.from), Aud::Others(reader)] {
                expected.push((to.clone(), Ev::Status(read.clone())));
                expected.push((to, range.clone()));
            }
        }
        let current = self
            .messages
            .iter()
            .find(|x| x.id == m.id)
            .cloned()
            .unwrap();
        let reply = norm_message(&out.reply)?;
        ensure_eq!(reply, current, "the read message");
        self.deliveries(&out.deliveries, expected, (reader, socket))?;
        self.see(&reply, "read reply")
    }

    /// An edit to `change`'s text, or (`Ok`) a delete.
    fn change(
        &mut self,
        sut: &Sut<'_>,
        who: usize,
        message: Option<M>,
        change: Result<(), String>,
        now: i64,
    ) -> Result<(), String> {
        let Some(socket) = self.live_socket(who) else {
            return Ok(());
        };
        let id = MessageId::new(
            message
                .as_ref()
                .map_or(UNKNOWN_ID.to_owned(), |m| m.id.clone()),
        );
        let me = session(who, socket);
        let actual = match &change {
            Ok(()) => sut.rt.block_on(sut.service.delete_message(&me, &id)),
            Err(text) => sut
                .rt
                .block_on(sut.service.edit_message(&me, &id, text.clone())),
        };
        let Some(m) = message.filter(|m| m.from == who) else {
            return expect_error(actual, ErrorCode::NotFound);
        };
        let m = self
            .messages
            .iter()
            .find(|x| x.id == m.id)
            .cloned()
            .unwrap();
        if change.is_err() && m.deleted_at.is_some() {
            return expect_error(actual, ErrorCode::NotFound);
        }
        let out = actual.map_err(|e| format!("edit or delete failed: {e}"))?;
        let changed = match &change {
            Ok(()) => m.deleted_at.is_none(),
            Err(text) => *text != m.text,
        };
        let mut expected = Vec::new();
        if changed {
            let stored = self.message_mut(&m.id);
            match change {
                Ok(()) => {
                    stored.text = String::new();
                    stored.deleted_at = Some(now);
                }
                Err(text) => {
                    stored.text = text;
                    stored.edited_at = Some(now);
                }
            }
            let updated = stored.clone();
            expected.push((Aud::User(updated.from), Ev::Updated(updated.clone())));
            expected.push((Aud::User(updated.to), Ev::Updated(updated)));
        }
        let current = self
            .messages
            .iter()
            .find(|x| x.id == m.id)
            .cloned()
            .unwrap();
        let reply = norm_message(&out.reply)?;
        ensure_eq!(reply, current, "the changed message");
        self.deliveries(&out.deliveries, expected, (who, socket))?;
        self.see(&reply, "change reply")
    }

    #[allow(clippy::too_many_arguments)]
    fn history(
        &mut self,
        sut: &Sut<'_>,
        u: usize,
        with: usize,
        since: Option<i64>,
        before: Option<String>,
        after: Option<String>,
        limit: Option<u64>,
    ) -> Result<(), String> {
        let Some(socket) = self.live_socket(u) else {
            return Ok(());
        };
        let request = HistoryRequest {
            with: uid(with),
            since: since.map(|at| Timestamp::from_millis(at).unwrap()),
            before: before.clone().map(MessageId::new),
            after: after.clone().map(MessageId::new),
            limit,
        };
        let actual = sut
            .rt
            .block_on(sut.service.history(&session(u, socket), request));
        if with == u {
            return expect_error(actual, ErrorCode::InvalidArgument);
        }
        let Some(room) = self.rooms.get(&pair(u, with)).cloned() else {
            return expect_error(actual, ErrorCode::NotAContact);
        };
        let out = actual.map_err(|e| format!("history failed: {e}"))?;

        let limit = limit.map_or(50, |l| l as usize);
        let matching: Vec<M> = self
            .room_messages(&room)
            .into_iter()
            .filter(|m| before.as_ref().is_none_or(|b| m.id < *b))
            .filter(|m| after.as_ref().is_none_or(|a| m.id > *a))
            .filter(|m| since.is_none_or(|s| m.created_at >= s))
            .collect();
        let page: Vec<M> = if after.is_some() {
            matching.into_iter().take(limit).collect()
        } else {
            let skip = matching.len().saturating_sub(limit);
            matching.into_iter().skip(skip).collect()
        };
        let mut expected = Vec::new();
        let mut page_now = Vec::with_capacity(page.len());
        for m in page {
            if m.to == u && m.status == MessageStatus::NotSent {
                let sent = {
                    let stored = self.message_mut(&m.id);
                    stored.status = MessageStatus::Sent;
                    stored.clone()
                };
                expected.push((Aud::User(sent.from), Ev::Status(sent.clone())));
                page_now.push(sent);
            } else {
                page_now.push(m);
            }
        }
        let reply: Vec<M> = out
            .reply
            .iter()
            .map(norm_message)
            .collect::<Result<_, _>>()?;
        ensure_eq!(reply, page_now, "the history page");
        self.deliveries(&out.deliveries, expected, (u, socket))?;
        for m in &reply {
            self.see(m, "history reply")?;
        }
        Ok(())
    }

    /// What holds between any two requests.
    pub(super) fn check_world(&self, sut: &Sut<'_>) -> Result<(), String> {
        let presence = sut.service.presence();
        for (u, name) in NAMES.iter().enumerate() {
            let online = sut
                .rt
                .block_on(presence.is_online(&uid(u)))
                .map_err(|e| e.to_string())?;
            ensure_eq!(online, self.online(u), "{name} online");
        }
        ensure_eq!(
            sut.rt
                .block_on(presence.online_users())
                .map_err(|e| e.to_string())?,
            (0..USERS).filter(|u| self.online(*u)).count(),
            "users online"
        );
        for a in 0..USERS {
            for b in a + 1..USERS {
                let room = sut
                    .rt
                    .block_on(sut.store.find_room(&uid(a), &uid(b)))
                    .map_err(|e| e.to_string())?;
                let room = room.map(|r| r.as_str().to_owned());
                ensure_eq!(room, self.rooms.get(&(a, b)).cloned(), "room of {a},{b}");
                let Some(room) = room else { continue };
                let stored = sut
                    .rt
                    .block_on(
                        sut.store
                            .history(&chatzz_core::ChatRoomId::new(room.clone()), &everything()),
                    )
                    .map_err(|e| e.to_string())?;
                let stored: Vec<M> = stored.iter().map(norm_stored).collect::<Result<_, _>>()?;
                ensure_eq!(
                    stored,
                    self.room_messages(&room),
                    "what room {room} stores (exactly the acknowledged messages, ids ascending)"
                );
            }
        }
        for (x, name) in NAMES.iter().enumerate() {
            if !self.online(x) {
                continue;
            }
            for &c in &self.contacts[x] {
                ensure_eq!(
                    self.views[x].get(&c).copied(),
                    Some(self.online(c)),
                    "what {name} believes about {} being online",
                    NAMES[c]
                );
            }
        }
        Ok(())
    }
}
