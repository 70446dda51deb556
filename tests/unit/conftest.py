"""tests/unit holds only tests without network or Redis: a test here that opens an internet
socket (connect or bind, IPv4 or IPv6) fails, saying where such a test belongs. Local
sockets (AF_UNIX, as multiprocessing's managers use) stay allowed."""
from __future__ import annotations

import socket

import pytest

NETWORK = (socket.AF_INET, socket.AF_INET6)


class NetworkInUnitTest(AssertionError):
    pass


def _refuse(original):
    def guarded(sock, address, *args):
        if sock.family in NETWORK:
            raise NetworkInUnitTest(
                f"a test in tests/unit opened a network socket ({address!r}): tests that need the fake "
                "upstream, a socket or Redis belong in tests/, not tests/unit/")
        return original(sock, address, *args)
    return guarded


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, _refuse(getattr(socket.socket, name)))
