"""The chaos harness's SMTP server (aiosmtpd): records every message and can
be made slow.

Usage: python3 smtp.py --port PORT --inbox DIR --delay-file FILE

Listens on 127.0.0.1:PORT and prints "ready" once it accepts connections.
Every message is written to DIR as <uuid>.eml and described by one line of
DIR/received.tsv (unix time, Message-ID, envelope recipients joined by ",",
Subject), both before the reply, as a mail server queues a message before
it answers 250. If FILE holds a number of seconds, each DATA reply waits
that long after the message is recorded (a slow or stuck relay); the file is
read for every message, so the delay can change while the server runs. It
stops when its standard input closes, so it never outlives the harness.
"""

import argparse
import asyncio
import email.parser
import email.policy
import os
import sys
import time
import uuid

from aiosmtpd.controller import Controller


def one_line(text):
    return " ".join(str(text or "").split()).replace("\t", " ")


class Handler:
    def __init__(self, inbox, delay_file):
        self.inbox = inbox
        self.delay_file = delay_file
        self.index = open(os.path.join(inbox, "received.tsv"), "a", encoding="utf-8")

    def delay(self):
        try:
            with open(self.delay_file, encoding="utf-8") as file:
                return max(0.0, float(file.read().strip() or 0))
        except (OSError, ValueError):
            return 0.0

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        stem = uuid.uuid4().hex
        partial = os.path.join(self.inbox, f".{stem}.partial")
        with open(partial, "wb") as file:
            file.write(raw)
        os.replace(partial, os.path.join(self.inbox, f"{stem}.eml"))
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        line = "\t".join(
            [
                f"{time.time():.3f}",
                one_line(headers.get("Message-ID")),
                ",".join(one_line(r) for r in envelope.rcpt_tos),
                one_line(headers.get("Subject")),
            ]
        )
        self.index.write(line + "\n")
        self.index.flush()
        delay = self.delay()
        if delay > 0:
            await asyncio.sleep(delay)
        return "250 2.0.0 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--inbox", required=True)
    parser.add_argument("--delay-file", required=True)
    args = parser.parse_args()
    os.makedirs(args.inbox, exist_ok=True)
    controller = Controller(
        Handler(args.inbox, args.delay_file), hostname="127.0.0.1", port=args.port
    )
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
