"""AWS prices and billing rules as data (`aws_prices.json`), each figure with its page and when it was read.

The cost model takes a `PriceBook` and reads every price from it by name; nothing in the model is a price.
A user's own figures (another region, a discount, a newer page) go in a file of the same shape holding only
the keys that change (`--prices FILE`), or in `overrides`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_PRICES = Path(__file__).with_name("aws_prices.json")


@dataclasses.dataclass(frozen=True)
class Figure:
    """One price or billing rule: its value, what it is per, and where it comes from."""

    key: str
    value: float
    unit: str
    page: str
    read_from: str
    read_on: str
    note: str = ""

    @property
    def re_read(self) -> bool:
        """False when the figure is a well-known value not found again in the stored sources."""
        return self.read_from != "not re-read here"


@dataclasses.dataclass(frozen=True)
class PriceBook:
    region: str
    currency: str
    prices: dict[str, Figure]
    rules: dict[str, Figure]

    def price(self, key: str) -> float:
        return self.prices[key].value

    def rule(self, key: str) -> float:
        return self.rules[key].value


def _figures(section: Mapping[str, Any], base: Mapping[str, Figure], where: str) -> dict[str, Figure]:
    figures = dict(base)
    for key, entry in section.items():
        if key not in figures and base:
            raise KeyError(f"{where}: unknown key {key!r}; known keys: {', '.join(sorted(figures))}")
        fields = entry if isinstance(entry, Mapping) else {"value": entry}
        if key in figures:
            figures[key] = dataclasses.replace(figures[key], **{k: fields[k] for k in fields})
        else:
            figures[key] = Figure(key=key, **fields)
    return figures


def load_prices(path: Path | None = None, overrides: Mapping[str, float] | None = None) -> PriceBook:
    """The default price book, with the keys a user file (same shape as aws_prices.json, or plain numbers)
    and `overrides` (a key of `prices` or `rules` -> value) change."""
    data = json.loads(DEFAULT_PRICES.read_text())
    prices = _figures(data["prices"], {}, str(DEFAULT_PRICES))
    rules = _figures(data["rules"], {}, str(DEFAULT_PRICES))
    region, currency = data["region"], data["currency"]
    if path is not None:
        user = json.loads(Path(path).read_text())
        prices = _figures(user.get("prices", {}), prices, str(path))
        rules = _figures(user.get("rules", {}), rules, str(path))
        region, currency = user.get("region", region), user.get("currency", currency)
    for key, value in (overrides or {}).items():
        if key in prices:
            prices[key] = dataclasses.replace(prices[key], value=value, read_from="override")
        elif key in rules:
            rules[key] = dataclasses.replace(rules[key], value=value, read_from="override")
        else:
            raise KeyError(f"override of unknown price or rule {key!r}")
    return PriceBook(region, currency, prices, rules)
