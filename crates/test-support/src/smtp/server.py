"""A real SMTP server for the test suites (aiosmtpd), started by smtp/mod.rs.

Usage: python3 server.py --port PORT --outbox DIR [--delay SECONDS]

Listens on 127.0.0.1:PORT and prints "ready" once it accepts connections.
Every message it accepts is written to DIR as <uuid>.eml, exactly as
received, with its envelope recipients (one a line) in <uuid>.rcpt beside
it, before the 250 reply, so a test that saw the reply can read both. The
.rcpt file is written first: whoever sees the .eml can read the envelope.
Recipients starting with "refuse" get a permanent 550 and those starting
with "later" a transient 451. With --delay, the server waits that long
after each message's data before taking it and replying (a slow relay).
The most messages it has held at once (between a message's data and its
reply) is kept in DIR/most-at-once, written as each message comes in, so
a test can tell whether a client sent several at a time.
It stops when its standard input closes, so a test that dies takes its
server with it.
"""

import argparse
import asyncio
import os
import sys
import uuid

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, outbox, delay):
        self.outbox = outbox
        self.delay = delay
        self.held = 0
        self.most_held = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.lower()
        if local.startswith("refuse"):
            return f"550 5.1.1 <{address}>: recipient refused by the test server"
        if local.startswith("later"):
            return f"451 4.3.0 <{address}>: mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        # One event loop serves every session: no lock is needed.
        self.held += 1
        if self.held > self.most_held:
            self.most_held = self.held
            self.write("most-at-once", str(self.most_held).encode())
        try:
            if self.delay > 0:
                await asyncio.sleep(self.delay)
            stem = uuid.uuid4().hex
            self.write(f"{stem}.rcpt", "\n".join(envelope.rcpt_tos).encode())
            self.write(f"{stem}.eml", envelope.original_content or envelope.content)
        finally:
            self.held -= 1
        return "250 2.0.0 Message accepted for delivery"

    def write(self, name, data):
        partial = os.path.join(self.outbox, f".{name}.partial")
        with open(partial, "wb") as file:
            file.write(data)
        os.replace(partial, os.path.join(self.outbox, name))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--outbox", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    os.makedirs(args.outbox, exist_ok=True)
    controller = Controller(Handler(args.outbox, args.delay), hostname="127.0.0.1", port=args.port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
