"""A real SMTP server for tests: receives mail on 127.0.0.1:<port> and writes each message, as
sent, to <folder>/<n>.eml, where tests read it. Runs until it is killed.

    python3 scripts/mailbox.py <folder> <port>
"""

import sys
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class Folder:
    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            name = self.folder / f"{self.count:05}.eml"
        # Written aside, then renamed: a reader never sees half a message.
        tmp = name.with_suffix(".tmp")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(name)
        return "250 OK"


def main() -> None:
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(Folder(folder), hostname="127.0.0.1", port=int(sys.argv[2]))
    controller.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
