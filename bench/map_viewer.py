#!/usr/bin/env python3
"""A map page without a browser, for measuring what an open map costs the server.

    python3 bench/map_viewer.py http://127.0.0.1:25580 [seconds]

Follows /map/events as the page does and fetches a region's picture again
whenever its version changes; prints what it got on exit (SIGTERM or after
`seconds`, default forever)."""

import json
import signal
import sys
import time
import urllib.parse
import urllib.request


def main():
    admin = sys.argv[1].rstrip("/")
    until = time.time() + float(sys.argv[2]) if len(sys.argv) > 2 else None
    stats = {"events": 0, "tiles": 0, "tile_bytes": 0, "errors": 0}
    versions = {}

    def report(*_):
        print(json.dumps(stats), file=sys.stderr, flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, report)
    while until is None or time.time() < until:
        try:
            with urllib.request.urlopen(admin + "/map/events", timeout=10) as stream:
                event = None
                for raw in stream:
                    line = raw.decode("utf-8").rstrip("\n")
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:") and event == "state":
                        stats["events"] += 1
                        state = json.loads(line[5:])
                        for region in state["regions"]:
                            key, version = (region["x"], region["z"]), region["version"]
                            if version is None or versions.get(key) == version:
                                continue
                            versions[key] = version
                            url = "%s/map/tile/%d/%d.png?v=%s" % (
                                admin, key[0], key[1], urllib.parse.quote(version))
                            try:
                                with urllib.request.urlopen(url, timeout=10) as tile:
                                    stats["tile_bytes"] += len(tile.read())
                                    stats["tiles"] += 1
                            except OSError:
                                stats["errors"] += 1
                    if until is not None and time.time() >= until:
                        break
        except OSError:
            stats["errors"] += 1
            time.sleep(1)
    report()


if __name__ == "__main__":
    main()
