"""Model URLs that carry credentials are refused before anything is stored."""

from __future__ import annotations

import pytest

import botarmy_nb as ba
from botarmy_nb.errors import ModelSpecError


def test_credentials_in_base_urls_are_refused(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelSpecError, match="carries credentials"):
        ba.run("x", model="openai-compatible:llama3@https://me:s3cret@gw.example/v1")
    assert ba.runs().empty
