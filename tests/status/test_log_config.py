"""The `server.log` key of a real tessera process: it sets which lines are logged, RUST_LOG wins
over it, and a directive that does not parse stops start-up with one error naming the key."""

from __future__ import annotations

import os
import socket
import subprocess
import time

from test_status import BIN, Server, free_port


def test_a_bad_directive_stops_start_up_naming_the_key_once(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        "[server]\n"
        f'bind = "127.0.0.1:{free_port()}"\n'
        'log = "info,openraft=loud"\n'
        '[world]\ngenerator = "flat"\ndata_dir = "data"\n'
        '[admin]\nbind = "127.0.0.1:0"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_") and k != "RUST_LOG"}
    done = subprocess.run([str(BIN), "--config", str(config)], cwd=tmp_path, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert output.count("`server.log` must be log directives") == 1, output
    assert '"info,openraft=loud"' in output and str(config) in output, output
    assert "listening on" not in output


def test_rust_log_wins_over_the_key(tmp_path):
    # server.log alone would hide the INFO line the server is waited for
    srv = Server(tmp_path, env={"TESSERA_SERVER_LOG": "error", "RUST_LOG": "info"})
    try:
        assert "listening on" in srv.text()
    finally:
        srv.close()


def test_the_key_sets_what_is_logged(tmp_path, monkeypatch):
    monkeypatch.delenv("RUST_LOG", raising=False)
    srv = Server(tmp_path, env={"TESSERA_SERVER_LOG": "warn"}, ready=())
    try:
        deadline = time.time() + 60
        while True:
            assert srv.proc.poll() is None, srv.tail()
            try:
                socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, "the server never listened"
                time.sleep(0.1)
        # the INFO line comes right after the listener binds: give it the time to show
        time.sleep(1)
        assert "listening on" not in srv.text(), srv.tail()
    finally:
        srv.close()
