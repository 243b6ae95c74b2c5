"""Server list ping of a real tessera process, seen through mcstatus 14.2.0 (and a raw socket).

The binary is TESSERA_BIN or <repo>/target/release/tessera. Each module-scoped server gets a
temp config (flat world, random free port); its output is kept in tests/status/logs/.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import socket
import struct
import subprocess
import threading
import time

import pytest
from mcstatus import JavaServer

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("TESSERA_BIN", REPO / "target" / "release" / "tessera"))
IDLE_BOT = REPO / "tests" / "e2e" / "idle_bot.js"
LOG_DIR = pathlib.Path(os.environ.get("TESSERA_TEST_LOG_DIR", REPO / "tests" / "status" / "logs"))
PROTOCOL = 763
MOTD = "Tessera status test"
MAX_PLAYERS = 23


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def idle_bot(server, name: str):
    """A mineflayer bot (tests/e2e/idle_bot.js) joined as `name` and spawned; yields the lines
    it printed so far (the list grows), and leaves when the block ends."""
    bot = subprocess.Popen(
        ["node", str(IDLE_BOT), str(server.port), name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    lines: list[str] = []

    def read():
        assert bot.stdout is not None
        for raw in iter(bot.stdout.readline, b""):
            lines.append(raw.decode("utf-8", "replace").rstrip())

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.time() + 30
        while not any(l.startswith("SPAWNED") for l in lines):
            if bot.poll() is not None or time.time() > deadline:
                raise AssertionError(f"idle bot did not spawn: {lines}\nserver:\n{server.tail()}")
            time.sleep(0.1)
        yield lines
    finally:
        assert bot.stdin is not None
        bot.stdin.close()
        try:
            bot.wait(timeout=10)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait(timeout=5)


class Server:
    """`extra` is appended to the config file, `env` added to the environment; the server is
    up once its output has `ready` (the RCON and Query listeners start after the game's)."""

    def __init__(self, tmp: pathlib.Path, extra: str = "", env: dict[str, str] | None = None,
                 ready: tuple[str, ...] = ("listening on",)):
        if not BIN.exists():
            pytest.fail(f"tessera binary not found at {BIN} (cargo build --release, or set TESSERA_BIN)")
        self.port = free_port()
        config = tmp / "config.toml"
        config.write_text(
            "[server]\n"
            f'bind = "127.0.0.1:{self.port}"\n'
            f'motd = "{MOTD}"\n'
            f"max_players = {MAX_PLAYERS}\n"
            "view_distance = 2\n"
            "compression_threshold = 256\n"
            "\n[world]\n"
            'generator = "flat"\n'
            "seed = 0\n"
            "spawn = { x = 0, z = 0 }\n"
            "region_size = 2\n"
            'data_dir = "data"\n'
            "\n[admin]\n"
            'bind = "127.0.0.1:0"\n' + extra
        )
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"status-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.output = io.StringIO()
        self.lock = threading.Lock()
        # every TESSERA_* variable (and the itzg names it aliases) is a config override for the
        # server: don't pass ours (TESSERA_BIN) or the caller's
        aliases = {"ENABLE_RCON", "RCON_PASSWORD", "ENABLE_QUERY", "QUERY_PORT"}
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_") and k not in aliases}
        child_env.update(RUST_BACKTRACE="1", NO_COLOR="1", **(env or {}))
        self.proc = subprocess.Popen(
            [str(BIN), "--config", str(config)],
            cwd=tmp,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=child_env,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.time() + 60
        while not all(line in self.text() for line in ready):
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode} before {ready}:\n{self.tail()}")
            if time.time() > deadline:
                self.close()
                pytest.fail(f"server did not print {ready} within 60 s:\n{self.tail()}")
            time.sleep(0.05)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self.lock:
                self.output.write(line)
            self.log.write(line)
            self.log.flush()

    def text(self) -> str:
        with self.lock:
            return self.output.getvalue()

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.text().splitlines()[-n:])

    def send_console(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def close(self) -> int | None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"stop\n")
                self.proc.stdin.flush()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.reader.join(timeout=5)
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("tessera-status"))
    yield srv
    code = srv.close()
    print(f"server log: {srv.log_path} (exit code {code})")


@pytest.fixture
def java(server) -> JavaServer:
    return JavaServer("127.0.0.1", server.port, timeout=5)


def wait_online(java: JavaServer, expected: int, timeout: float = 10.0):
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        status = java.status(version=PROTOCOL)
        if status.players.online == expected:
            return status
        time.sleep(0.25)
    raise AssertionError(f"players online stayed {status and status.players.online}, expected {expected}")


def test_status_version_motd_players(java, server):
    status = java.status(version=PROTOCOL)
    assert status.version.name == "1.20.1"
    assert status.version.protocol == PROTOCOL
    assert status.motd.to_plain() == MOTD
    assert status.players.max == MAX_PLAYERS
    assert status.players.online == 0
    assert status.latency >= 0


def test_status_answers_any_client_protocol(java):
    # A vanilla server answers status whatever protocol the client announces (the client
    # then shows "outdated"); mcstatus defaults to 47 (1.8).
    status = java.status()
    assert status.version.name == "1.20.1"
    assert status.version.protocol == PROTOCOL


def test_ping_without_status_request(java):
    latency = java.ping(version=PROTOCOL)
    assert isinstance(latency, float)
    assert 0 <= latency < 5000


# --- the vanilla client's flow on one raw connection: handshake, status request, ping ---


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(sock: socket.socket) -> int:
    result = 0
    for i in range(5):
        b = sock.recv(1)
        if not b:
            raise ConnectionError("connection closed while reading a VarInt")
        result |= (b[0] & 0x7F) << (7 * i)
        if not b[0] & 0x80:
            return result
    raise ValueError("VarInt too long")


def read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def send_packet(sock: socket.socket, packet_id: int, body: bytes) -> None:
    data = varint(packet_id) + body
    sock.sendall(varint(len(data)) + data)


def read_packet(sock: socket.socket) -> tuple[int, bytes]:
    length = read_varint(sock)
    data = read_exact(sock, length)
    # packet id is a VarInt; all ids here are < 128
    return data[0], data[1:]


def handshake(sock: socket.socket, port: int, next_state: int) -> None:
    host = b"127.0.0.1"
    send_packet(sock, 0x00, varint(PROTOCOL) + varint(len(host)) + host + struct.pack(">H", port) + varint(next_state))


def test_vanilla_flow_status_then_ping_on_one_connection(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        handshake(sock, server.port, 1)
        send_packet(sock, 0x00, b"")
        pid, body = read_packet(sock)
        assert pid == 0x00
        # body: a String (VarInt length + UTF-8 JSON)
        n, i = 0, 0
        shift = 0
        while True:
            b = body[i]
            n |= (b & 0x7F) << shift
            i += 1
            shift += 7
            if not b & 0x80:
                break
        doc = json.loads(body[i : i + n].decode("utf-8"))
        assert len(body) == i + n, "trailing bytes after the status JSON"
        assert doc["version"] == {"name": "1.20.1", "protocol": PROTOCOL}
        assert doc["players"]["max"] == MAX_PLAYERS
        payload = 0x0123456789ABCDEF
        send_packet(sock, 0x01, struct.pack(">q", payload))
        pid, body = read_packet(sock)
        assert pid == 0x01
        assert struct.unpack(">q", body) == (payload,)
        # the server closes the status connection after the pong (or at least sends nothing more)
        sock.settimeout(3)
        try:
            assert sock.recv(1) == b""
        except (TimeoutError, ConnectionError):
            pass


def test_legacy_ping_does_not_crash(server, java):
    # A 1.6-style server list ping (0xFE 0x01 0xFA ...): the server may answer in the legacy
    # format or close the connection, but it must keep serving.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(bytes([0xFE, 0x01, 0xFA]))
        sock.settimeout(3)
        try:
            sock.recv(4096)
        except (TimeoutError, ConnectionError):
            pass
    assert java.status(version=PROTOCOL).version.protocol == PROTOCOL


def test_player_count_and_sample_follow_a_connected_bot(server, java):
    assert wait_online(java, 0).players.online == 0
    with idle_bot(server, "StatusBot") as lines:
        status = wait_online(java, 1)
        assert status.players.max == MAX_PLAYERS
        names = [p.name for p in (status.players.sample or [])]
        assert names == ["StatusBot"], f"player sample {names}"
        uuid = status.players.sample[0].id
        assert len(uuid.replace("-", "")) == 32
    status = wait_online(java, 0)
    assert not status.players.sample
    errors = [l for l in lines if l.startswith("ERROR") or "PartialReadError" in l or "Chunk size is" in l]
    assert not errors, f"idle bot reported problems: {errors}"


def test_rcon_and_query_are_off_by_default(server):
    # Neither listener starts, and the default RCON port on loopback is closed.
    assert "rcon on" not in server.text()
    assert "query on" not in server.text()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", 25575), timeout=2).close()
