"""What the dashboard shows when a plug cannot be reached is a plain sentence (issue 13).

``not a host!!`` used to show aiohttp's ``ClientConnectorDNSError(ConnectionKey(...))`` repr, and
a web server answering 404 "did not answer (... responded with ... 404 ...)".
"""

from __future__ import annotations

import socket

import pytest
from kasa import KasaException

from balupi.errors import PlugUnavailable
from balupi.services.tapo.client import PlugAddress, kasa_errors


def _raised_within(cause: BaseException) -> PlugUnavailable:
    with pytest.raises(PlugUnavailable) as caught, kasa_errors(PlugAddress("plug.example")):
        raise KasaException(f"Unable to query the device plug.example:80: {cause!r}") from cause
    return caught.value


def test_an_unknown_name_says_the_name_was_not_found() -> None:
    message = str(_raised_within(socket.gaierror(-2, "Name or service not known")))
    assert message == (
        "No device called plug.example was found on the network. Check the plug's address."
    )


def test_a_device_that_is_no_plug_says_so_without_its_answer() -> None:
    message = str(
        _raised_within(KasaException("plug.example responded with an unexpected status code 404"))
    )
    assert "404" not in message
    assert "(" not in message
    assert message.startswith("The plug at plug.example did not answer.")
