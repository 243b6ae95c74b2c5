"""RCON (mcrcon 0.7.0 and a raw client) and Query (mcstatus 14.2.0 and raw datagrams) against a
real tessera process with both enabled; the server comes from test_status.Server.
"""

from __future__ import annotations

import re
import socket
import struct
import time
import urllib.request

import pytest
from mcrcon import MCRcon, MCRconException
from mcstatus import JavaServer

from test_status import MAX_PLAYERS, MOTD, Server, free_port, idle_bot

PASSWORD = "rcon test password"
LOGIN, COMMAND, RESPONSE = 3, 2, 0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    rcon_port, query_port = free_port(), free_udp_port()
    srv = Server(
        tmp_path_factory.mktemp("tessera-remote"),
        extra=f'\n[rcon]\nenabled = true\nbind = "127.0.0.1:{rcon_port}"\n'
        f"\n[query]\nenabled = true\nport = {query_port}\n",
        # The password comes from the environment, as the docs advise.
        env={"TESSERA_RCON_PASSWORD": PASSWORD},
        ready=("listening on", "rcon on", "query on"),
    )
    srv.rcon_port, srv.query_port = rcon_port, query_port
    yield srv
    code = srv.close()
    print(f"server log: {srv.log_path} (exit code {code})")


def rcon(remote) -> MCRcon:
    return MCRcon("127.0.0.1", PASSWORD, port=remote.rcon_port, timeout=5)


# --- a raw client: what a careful RCON client does, reading exactly what was sent ---


class Raw:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def send(self, request_id: int, kind: int, payload: bytes) -> None:
        body = struct.pack("<ii", request_id, kind) + payload + b"\0\0"
        self.sock.sendall(struct.pack("<i", len(body)) + body)

    def read(self) -> tuple[int, int, bytes]:
        (length,) = struct.unpack("<i", self.exact(4))
        body = self.exact(length)
        request_id, kind = struct.unpack("<ii", body[:8])
        assert body[-2:] == b"\0\0", body[-2:]
        return request_id, kind, body[8:-2]

    def exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
            buf += chunk
        return buf

    def closed(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def login(self, password: str = PASSWORD) -> int:
        self.send(1, LOGIN, password.encode())
        request_id, kind, payload = self.read()
        assert (kind, payload) == (COMMAND, b"")
        return request_id

    def command(self, request_id: int, line: str) -> list[bytes]:
        """The pieces of a command's output. Nothing marks the last piece, so an empty command
        follows under another id: its (empty) answer comes after the whole output."""
        self.send(request_id, COMMAND, line.encode())
        self.send(request_id + 1, COMMAND, b"")
        pieces = []
        while True:
            got_id, kind, payload = self.read()
            assert kind == RESPONSE
            if got_id == request_id + 1:
                assert payload == b""
                return pieces
            assert got_id == request_id
            pieces.append(payload)

    def close(self) -> None:
        self.sock.close()


def test_rcon_login_and_console_commands(remote):
    with rcon(remote) as mcr:
        assert mcr.command("list") == f"There are 0 of a max of {MAX_PLAYERS} players online: "
        assert mcr.command("help").startswith("help\nlist\nmsg <player> <message>\n")
        assert mcr.command("say hi") == "[Server] hi"
        assert mcr.command("op Alice") == "Made Alice a server operator"
        assert mcr.command("deop Alice") == "Made Alice no longer a server operator"
        assert mcr.command("whitelist add Bob") == "Added Bob to the whitelist"
        assert mcr.command("whitelist list") == "Whitelist is off; 1 whitelisted players: Bob"
        assert mcr.command("whitelist remove Bob") == "Removed Bob from the whitelist"
        assert mcr.command("frobnicate now") == "Unknown or incomplete command: frobnicate. Type help for help"
        assert mcr.command("") == ""
    log = remote.text()
    assert "rcon login" in log
    assert "rcon issued server command: say hi" in log


def test_rcon_runs_what_the_console_runs(remote):
    # The same line on standard input prints what RCON answers.
    with rcon(remote) as mcr:
        answer = mcr.command("help")
    assert answer not in remote.text()
    remote.send_console("help")
    deadline = time.time() + 10
    while answer not in remote.text():
        assert time.time() < deadline, f"console did not print {answer!r}:\n{remote.tail()}"
        time.sleep(0.05)


def test_rcon_wrong_password_is_refused_and_logged_without_it(remote):
    wrong = "not the password 12345"
    with pytest.raises(MCRconException, match="Login failed"):
        MCRcon("127.0.0.1", wrong, port=remote.rcon_port, timeout=5).connect()
    raw = Raw(remote.rcon_port)
    try:
        raw.send(42, LOGIN, b"another wrong one")
        assert raw.read() == (-1, COMMAND, b"")
        # The connection stays usable: the right password still logs in.
        assert raw.login() == 1
    finally:
        raw.close()
    deadline = time.time() + 5
    while "rcon login with a wrong password" not in remote.text():
        assert time.time() < deadline, remote.tail()
        time.sleep(0.05)
    assert wrong not in remote.text()
    assert "another wrong one" not in remote.text()


def test_rcon_refuses_commands_before_login(remote):
    raw = Raw(remote.rcon_port)
    try:
        raw.send(7, COMMAND, b"list")
        assert raw.read() == (-1, COMMAND, b"")
        assert raw.closed()
    finally:
        raw.close()


def test_rcon_closes_on_an_oversized_or_negative_length(remote):
    for length in (5000, -1, 3):
        raw = Raw(remote.rcon_port)
        try:
            raw.sock.sendall(struct.pack("<i", length) + b"\0" * 16)
            assert raw.closed(), length
        finally:
            raw.close()
    # A request of the most vanilla reads (1460 bytes, length included) is fine.
    raw = Raw(remote.rcon_port)
    try:
        raw.login()
        pieces = raw.command(10, "say " + "x" * (1460 - 14 - 4))
        assert pieces == [("[Server] " + "x" * (1460 - 14 - 4)).encode()]
    finally:
        raw.close()


def test_rcon_splits_a_long_output_at_4096_bytes(remote):
    names = [f"Whitelisted{i:05d}" for i in range(500)]
    raw = Raw(remote.rcon_port)
    try:
        raw.login()
        for i, name in enumerate(names):
            assert raw.command(100 + 2 * i, f"whitelist add {name}") == [f"Added {name} to the whitelist".encode()]
        pieces = raw.command(5000, "whitelist list")
        for name in names:
            assert raw.command(6000, f"whitelist remove {name}")
    finally:
        raw.close()
    text = b"".join(pieces).decode()
    assert len(text) > 2 * 4096
    assert [len(p) for p in pieces[:-1]] == [4096] * (len(pieces) - 1)
    assert 0 < len(pieces[-1]) <= 4096
    assert text == f"Whitelist is off; {len(names)} whitelisted players: " + ", ".join(names)


# --- Query ---


def query_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    return sock


def handshake(sock: socket.socket, port: int, session: int = 1) -> int:
    sock.sendto(b"\xfe\xfd\x09" + struct.pack(">i", session), ("127.0.0.1", port))
    answer, _ = sock.recvfrom(2048)
    assert answer[:5] == b"\x09" + struct.pack(">i", session)
    assert answer.endswith(b"\0")
    return int(answer[5:-1])


def test_query_full_stat_through_mcstatus(remote):
    result = JavaServer("127.0.0.1", remote.port, timeout=5, query_port=remote.query_port).query()
    assert result.motd.to_plain() == MOTD
    assert result.game_type == "SMP"
    assert result.game_id == "MINECRAFT"
    assert result.software.version == "1.20.1"
    assert result.software.brand == "Tessera"
    assert result.map_name == "world"
    assert (result.players.online, result.players.max) == (0, MAX_PLAYERS)
    assert result.players.list == []
    assert (result.ip, result.port) == ("127.0.0.1", remote.port)


def test_query_basic_stat(remote):
    with query_socket() as sock:
        token = handshake(sock, remote.query_port, session=0x01020304)
        sock.sendto(b"\xfe\xfd\x00" + struct.pack(">ii", 0x01020304, token), ("127.0.0.1", remote.query_port))
        answer, _ = sock.recvfrom(2048)
    assert answer[:5] == b"\x00\x01\x02\x03\x04"
    fields = answer[5:].split(b"\0", 5)
    assert fields[:5] == [MOTD.encode(), b"SMP", b"world", b"0", str(MAX_PLAYERS).encode()]
    rest = fields[5]
    assert struct.unpack("<H", rest[:2]) == (remote.port,)
    assert rest[2:] == b"127.0.0.1\0"


def test_query_never_answers_a_stat_without_a_valid_token(remote):
    with query_socket() as sock:
        token = handshake(sock, remote.query_port)
        for bad in (token ^ 1, 0):
            for padding in (b"", b"\0\0\0\0"):
                sock.sendto(b"\xfe\xfd\x00" + struct.pack(">ii", 1, bad) + padding, ("127.0.0.1", remote.query_port))
                with pytest.raises(TimeoutError):
                    sock.recvfrom(2048)
        # Garbage gets nothing either.
        sock.sendto(b"GET / HTTP/1.0\r\n\r\n", ("127.0.0.1", remote.query_port))
        with pytest.raises(TimeoutError):
            sock.recvfrom(2048)
    # Another socket (another source port) cannot use the first one's token.
    with query_socket() as other:
        other.sendto(b"\xfe\xfd\x00" + struct.pack(">ii", 1, token), ("127.0.0.1", remote.query_port))
        with pytest.raises(TimeoutError):
            other.recvfrom(2048)


def test_query_and_rcon_see_a_real_player(remote):
    java = JavaServer("127.0.0.1", remote.port, timeout=5, query_port=remote.query_port)
    with idle_bot(remote, "QueryBot"):
        deadline = time.time() + 10
        while (result := java.query()).players.online != 1:
            assert time.time() < deadline, f"query shows {result.players}"
            time.sleep(0.25)
        assert result.players.list == ["QueryBot"]
        with rcon(remote) as mcr:
            assert mcr.command("list") == f"There are 1 of a max of {MAX_PLAYERS} players online: QueryBot"
            assert mcr.command("kick QueryBot bye") == "Kicked QueryBot: bye"
        deadline = time.time() + 10
        while java.query().players.online != 0:
            assert time.time() < deadline, "the kicked bot still shows in query"
            time.sleep(0.25)


# Last: it locks 127.0.0.1 out of RCON for a minute.
def test_rcon_locks_an_address_out_after_five_wrong_passwords(remote):
    early = Raw(remote.rcon_port)
    raw = Raw(remote.rcon_port)
    try:
        for attempt in range(5):
            raw.send(attempt, LOGIN, b"wrong password")
            assert raw.read() == (-1, COMMAND, b""), attempt
        # The fifth failure closes the connection ...
        assert raw.closed()
        # ... one opened before the lockout is refused even the right password ...
        early.send(1, LOGIN, PASSWORD.encode())
        assert early.read() == (-1, COMMAND, b"")
        assert early.closed()
    finally:
        raw.close()
        early.close()
    # ... and new ones, even with the right password, are closed at once.
    raw = Raw(remote.rcon_port)
    try:
        with pytest.raises(ConnectionError):
            raw.send(1, LOGIN, PASSWORD.encode())
            raw.read()
    finally:
        raw.close()
    metrics = scrape_metrics(remote)
    for reason, at_least in (("wrong_password", 7), ("locked_out", 1), ("before_login", 1), ("packet_length", 3)):
        assert metric(metrics, f'tessera_remote_refused_total{{service="rcon",reason="{reason}"}}') >= at_least, reason
    assert metric(metrics, 'tessera_remote_refused_total{service="query",reason="challenge_token"}') >= 5
    assert metric(metrics, 'tessera_remote_refused_total{service="query",reason="malformed"}') >= 1


def scrape_metrics(server) -> str:
    match = re.search(r"admin interface on (http://\S+)", server.text())
    assert match, server.tail()
    with urllib.request.urlopen(match.group(1) + "/metrics", timeout=5) as response:
        return response.read().decode()


def metric(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not in /metrics")


def test_rcon_caps_connections_and_stop_stops_the_server(tmp_path_factory):
    rcon_port = free_port()
    srv = Server(
        tmp_path_factory.mktemp("tessera-rcon-stop"),
        extra=f'\n[rcon]\nenabled = true\nbind = "127.0.0.1:{rcon_port}"\npassword = "{PASSWORD}"\n',
        ready=("listening on", "rcon on"),
    )
    try:
        started = time.time()
        held = [Raw(rcon_port) for _ in range(8)]
        # Eight connections at once; a ninth is closed at accept.
        ninth = Raw(rcon_port)
        assert ninth.closed()
        ninth.close()
        # Those that never log in are closed 10 s after connecting, freeing their slots.
        for raw in held:
            raw.sock.settimeout(20)
            assert raw.closed()
            raw.close()
        assert 9 < time.time() - started < 15
        deadline = time.time() + 10
        while True:
            raw = Raw(rcon_port)
            try:
                raw.login()
                break
            except ConnectionError:
                raw.close()
                assert time.time() < deadline, "no slot came free"
                time.sleep(0.1)
        raw.send(9, COMMAND, b"stop")
        assert raw.read() == (9, RESPONSE, b"Stopping the server")
        raw.close()
        srv.proc.wait(timeout=15)
        assert srv.proc.returncode == 0
    finally:
        srv.close()
