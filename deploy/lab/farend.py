"""farend.py — the lab's far end: tests/integration/recorder.py's Recorder
on 0.0.0.0:25 (it accepts every recipient but the reject*/always451*/...
local parts recorder.py documents), keeping a JSON list of what it accepted
(Message-ID, recipients, client address, acked) in /tmp/farend.json,
rewritten atomically twice a second, for lab-test.py to read with docker
exec. Runs until killed; a listen failure exits non-zero."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recorder import Recorder  # noqa: E402

OUT = "/tmp/farend.json"


def main():
    rec = Recorder(["0.0.0.0"], 25)
    rec.start()
    print("farend: recording on 0.0.0.0:25", flush=True)
    while True:
        with rec.lock:
            msgs = [{"msgid": m["msgid"], "rcpts": m["rcpts"],
                     "peer": str(m["peer"]), "acked": m["acked"]}
                    for m in rec.msgs]
        with open(OUT + ".tmp", "w") as f:
            json.dump(msgs, f)
        os.replace(OUT + ".tmp", OUT)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
