"""Model prices (USD per million tokens) from a YAML table users can extend."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import BaseModel, ValidationError

from botarmy_nb.errors import SpecError
from botarmy_nb.models.spec import ModelSpec
from botarmy_nb.specs.yamlpos import load_yaml, raise_validation_error

__all__ = ["Price", "PriceTable", "price_table"]

BUNDLED = Path(__file__).with_name("prices.yaml")


class Price(BaseModel, extra="forbid"):
    input: float
    output: float


class PriceTable:
    """Looks up ``provider:model`` first, then ``model``; unknown prices cost NaN."""

    def __init__(self, prices: dict[str, Price]) -> None:
        self.prices = prices

    @classmethod
    def from_files(cls, *paths: Path) -> PriceTable:
        prices: dict[str, Price] = {}
        for path in paths:
            if not path.is_file():
                continue
            doc = load_yaml(path)
            if not isinstance(doc.data, dict):
                raise SpecError(
                    "a price table maps provider:model to {input, output}", file=str(path), line=1
                )
            for name, value in doc.data.items():
                try:
                    prices[str(name)] = Price.model_validate(value)
                except ValidationError as exc:
                    raise_validation_error(doc, exc, base=(name,))
        return cls(prices)

    def cost(self, spec: ModelSpec, prompt_tokens: int, completion_tokens: int) -> float | None:
        price = self.prices.get(f"{spec.provider}:{spec.model}") or self.prices.get(spec.model)
        if price is None:
            return None
        return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000


@functools.cache
def _cached(paths: tuple[Path, ...], stamps: tuple[float, ...]) -> PriceTable:
    return PriceTable.from_files(*paths)


def price_table() -> PriceTable:
    """Bundled prices, then $BOTARMY_HOME/prices.yaml, then BOTARMY_PRICES (later wins)."""
    from botarmy_nb.settings import get_settings

    settings = get_settings()
    paths = [BUNDLED, settings.home / "prices.yaml"]
    if settings.prices is not None:
        extra = settings.prices.expanduser()
        if not extra.is_file():
            raise SpecError("BOTARMY_PRICES names a file that does not exist", file=str(extra))
        paths.append(extra)
    stamps = tuple(p.stat().st_mtime if p.is_file() else 0.0 for p in paths)
    return _cached(tuple(paths), stamps)
