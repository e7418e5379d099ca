"""The official Python client (python-socketio 5.x) against the real chatzz binary, over
WebSocket and over HTTP long-polling only.

Run: python3 -m unittest discover -s tests/python -p 'test_*.py' -v
"""

import threading
import time
import unittest

import socketio

from chatzz_harness import TIMEOUT, AckError, Server, uid

WEBSOCKET = ["websocket"]
POLLING = ["polling"]
# 32 bytes or more, as --jwt-secret requires.
JWT_SECRET = "a test secret of at least 32 bytes, no more"
BURST = 50


class Flows:
    """The main flows of docs/protocol.md; subclasses choose the transport."""

    transports = None
    server = None

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.close()

    def connect(self, user_id=None):
        client = self.server.client(self.transports)
        self.clients.append(client)
        self.assertEqual(client.transport, self.transports[0])
        if user_id is not None:
            details = client.call("connect-user", {"userId": user_id})
            self.assertEqual(details["user"], {"_id": user_id})
            self.assertEqual(details["status"], "online")
        return client

    def contacts(self):
        """Two connected users who added each other: (a, b, client of a, client of b, room)."""
        a, b = uid("a"), uid("b")
        ca, cb = self.connect(a), self.connect(b)
        contact = ca.call("add-chat-user", {"userToAdd": b})
        self.assertEqual(contact["_id"], b)
        self.assertEqual(contact["status"], "online")
        added = cb.next("chat-user-added")
        self.assertEqual(added["_id"], a)
        self.assertEqual(added["chatRoomId"], contact["chatRoomId"])
        return a, b, ca, cb, contact["chatRoomId"]

    def test_connect_user_by_ack_and_event(self):
        user = uid()
        client = self.connect()
        details = client.call("connect-user", {"userId": user})
        self.assertEqual(
            details,
            {
                "user": {"_id": user},
                "status": "online",
                "lastOnline": None,
                "connectedUsers": [],
                "missedMessages": {},
            },
        )
        self.assertEqual(client.next("user-details"), details)

    def test_connect_user_with_a_bad_id_fails_in_its_ack(self):
        client = self.connect()
        for bad in ["", "a\u0000b", 42, "x" * 129]:
            with self.assertRaises(AckError) as refused:
                client.call("connect-user", {"userId": bad})
            self.assertEqual(refused.exception.code, "invalid-argument", bad)
        with self.assertRaises(AckError) as refused:
            client.call("send-message", {"userId": "someone", "message": "hi"})
        self.assertEqual(refused.exception.code, "not-connected")

    def test_send_receive_read_and_history(self):
        a, b, ca, cb, room = self.contacts()
        sent = ca.call("send-message", {"userId": b, "message": "hello from Python"})
        self.assertEqual(sent["from"]["_id"], a)
        self.assertEqual(sent["to"]["_id"], b)
        self.assertEqual(sent["message"], "hello from Python")
        self.assertEqual(sent["chatRoomId"], room)
        self.assertEqual(sent["status"], "sent")

        received = cb.next("new-message", lambda m: m["_id"] == sent["_id"])
        self.assertEqual(received["message"], "hello from Python")
        ca.next("message-status-changed", lambda m: m["_id"] == sent["_id"] and m["status"] == "sent")

        read = cb.call("message-read", {"messageId": sent["_id"]})
        self.assertEqual(read["status"], "read")
        self.assertIsNotNone(read["readAt"])
        changed = ca.next("message-status-changed", lambda m: m["_id"] == sent["_id"] and m["status"] == "read")
        self.assertEqual(changed, read)

        self.assertEqual(cb.call("get-old-messages", {"userId": a}), [read])
        ca.sio.emit("get-old-messages", {"userId": b})
        self.assertEqual(ca.next("old-messages"), [read])

        with self.assertRaises(AckError) as refused:
            ca.call("message-read", {"messageId": sent["_id"]})
        self.assertEqual(refused.exception.code, "not-found")

    def test_a_burst_of_sends_is_acked_and_received_in_order(self):
        a, b, ca, cb, _ = self.contacts()
        acks = []
        all_acked = threading.Event()

        def acked(error, message):
            acks.append((error, message))
            if len(acks) == BURST:
                all_acked.set()

        for i in range(BURST):
            ca.sio.emit("send-message", {"userId": b, "message": f"burst {i}"}, callback=acked)
        self.assertTrue(all_acked.wait(3 * TIMEOUT), f"{len(acks)} of {BURST} acks")
        self.assertTrue(all(error is None for error, _ in acks), acks)
        self.assertEqual(sorted(m["message"] for _, m in acks), sorted(f"burst {i}" for i in range(BURST)))

        received = [cb.next("new-message", lambda m: m["from"]["_id"] == a)["message"] for _ in range(BURST)]
        self.assertEqual(received, [f"burst {i}" for i in range(BURST)])
        # The sender hears of each delivery too: 100 events and 50 acks in all.
        for _ in range(BURST):
            ca.next("message-status-changed", lambda m: m["status"] == "sent")

        self.assertEqual(ca.disconnects, [])
        self.assertEqual(cb.disconnects, [])
        self.assertTrue(ca.sio.connected and cb.sio.connected)
        self.assertEqual(ca.transport, self.transports[0])
        # Still usable after the burst.
        last = cb.call("send-message", {"userId": a, "message": "after the burst"})
        ca.next("new-message", lambda m: m["_id"] == last["_id"])


class OverWebSocket(Flows, unittest.TestCase):
    transports = WEBSOCKET

    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class OverPolling(Flows, unittest.TestCase):
    transports = POLLING

    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


# The refused-handshake server's ping interval: short, so that the client race below
# costs at most this.
REFUSED_PING_INTERVAL_S = 5


class RefusedHandshake(unittest.TestCase):
    """A server that requires a JWT refuses a client without one; `connect()` must fail.
    Over WebSocket at once. Over polling python-engineio's client can still wait for the
    server's next packet (the first ping, sent after the ping interval as the reference
    server does) after the refusal: usually it fails at once, but CI saw one run in three
    take a full interval, so polling is held to the interval plus slack."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(
            "--jwt-secret", JWT_SECRET, "--ping-interval", str(REFUSED_PING_INTERVAL_S)
        ).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def refused_promptly(self, transports, within_s):
        for _ in range(3):
            sio = socketio.Client(reconnection=False)
            start = time.monotonic()
            with self.assertRaises(socketio.exceptions.ConnectionError):
                sio.connect(self.server.url, transports=transports, wait_timeout=TIMEOUT)
            elapsed = time.monotonic() - start
            sio.disconnect()
            self.assertLess(elapsed, within_s, f"connect() took {elapsed:.1f} s to fail")
            self.assertFalse(sio.connected)

    def test_over_polling(self):
        self.refused_promptly(POLLING, REFUSED_PING_INTERVAL_S + 2)

    def test_over_websocket(self):
        self.refused_promptly(WEBSOCKET, 3)


if __name__ == "__main__":
    unittest.main()
