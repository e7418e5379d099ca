"""Starts the chatzz binary and drives it with the official Python client.

`CHATZZ_BIN` names the binary (default: target/debug/chatzz of this repository). Each
server listens on a free loopback port (`--listen 127.0.0.1:0`), stores in memory and
has no send rate limit, as tests/e2e/harness.mjs starts it.
"""

import os
import queue
import re
import subprocess
import threading
import time
import uuid

import socketio

HERE = os.path.dirname(os.path.abspath(__file__))
CHATZZ_BIN = os.path.abspath(
    os.environ.get("CHATZZ_BIN", os.path.join(HERE, "..", "..", "target", "debug", "chatzz"))
)
START_TIMEOUT = 15
TIMEOUT = 5


class Server:
    """A chatzz process; `url` once started."""

    def __init__(self, *args):
        self.args = [
            "--listen", "127.0.0.1:0",
            "--database", "memory:",
            "--send-rate", "0",
            *args,
        ]
        self.url = None
        self.output = []
        self.process = None

    def start(self):
        if not os.path.exists(CHATZZ_BIN):
            raise RuntimeError(f"no chatzz binary at {CHATZZ_BIN}: build it or set CHATZZ_BIN")
        self.process = subprocess.Popen(
            [CHATZZ_BIN, *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        found = queue.Queue()

        def read():
            for line in self.process.stdout:
                self.output.append(line)
                match = re.search(r"chatzz listening on (http://\S+)", line)
                if match:
                    found.put(match.group(1).rstrip("/"))

        threading.Thread(target=read, daemon=True).start()
        try:
            self.url = found.get(timeout=START_TIMEOUT)
        except queue.Empty:
            self.stop()
            raise RuntimeError("chatzz did not start:\n" + "".join(self.output))
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self, transports, **kwargs):
        """A connected `Client` over `transports` (['websocket'] or ['polling'])."""
        client = Client(transports)
        client.sio.connect(self.url, transports=transports, wait_timeout=TIMEOUT, **kwargs)
        return client


def uid(prefix="py"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class AckError(Exception):
    """An error-first acknowledgement carried an error."""

    def __init__(self, error):
        super().__init__(error)
        self.code = error.get("code") if isinstance(error, dict) else None


class Client:
    """A python-socketio client that records what chatzz sends it."""

    def __init__(self, transports):
        self.transports = transports
        self.sio = socketio.Client(reconnection=False)
        self.events = queue.Queue()
        self.disconnects = []
        self.sio.on("chatzz", self.events.put)
        self.sio.on("disconnect", lambda *reason: self.disconnects.append(reason))

    @property
    def transport(self):
        return self.sio.transport()

    def call(self, event, data):
        """Emits `event` and returns the result of its error-first acknowledgement."""
        error, result = self.sio.call(event, data, timeout=TIMEOUT)
        if error is not None:
            raise AckError(error)
        return result

    def next(self, type_, match=lambda data: True, timeout=TIMEOUT):
        """The data of the next `chatzz` event of type `type_` that `match`es; the events
        skipped on the way are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {type_} event within {timeout} s")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event.get("type") == type_ and match(event.get("data")):
                return event["data"]

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()
