"""The simulated models' script: what each fake model answers to a prompt.

The rules live in audits/fake_rules.json. The fake Messages API server (devtools/fakeapi.py,
a development tool) streams these answers over HTTP; the demo seeder (audits/demo.py) and the
help panel (audits/simhelp.py) read the same rules without a server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

DEFAULT_RULES = Path(__file__).with_name("fake_rules.json")

# Made-up prices for the simulated models (USD per million tokens, input and output), the
# same shape as Anthropic's, so a simulated audit shows what a real one would cost.
SIMULATED_PRICES = {
    "sim-claude-4": (Decimal(3), Decimal(15)),
    "sim-claude-3": (Decimal(1), Decimal(5)),
    "sim-claude-2": (Decimal("0.25"), Decimal("1.25")),
}


def seed_simulated_prices() -> None:
    """Give the simulated models their prices (rows already there are kept)."""
    from .models import Price

    for prefix, (input_price, output_price) in SIMULATED_PRICES.items():
        Price.objects.get_or_create(
            model_id=prefix,
            defaults={"input_per_mtok": input_price, "output_per_mtok": output_price},
        )


@dataclass
class Rules:
    models: list[dict[str, Any]]
    aliases: dict[str, str]
    retired: list[str]
    rules: list[dict[str, Any]]
    default_text: str
    _compiled: dict[int, re.Pattern] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | str = DEFAULT_RULES) -> Rules:
        data = json.loads(Path(path).read_text())
        return cls(
            models=data["models"],
            aliases=data.get("aliases", {}),
            retired=data.get("retired", []),
            rules=data["rules"],
            default_text=data.get("default", "I am not able to help with that."),
        )

    def resolve(self, model: str) -> str | None:
        """The dated model id an id or alias names; None for an unknown model."""
        model = self.aliases.get(model, model)
        if model in self.retired or any(m["id"] == model for m in self.models):
            return model
        return None

    def match(self, model: str, prompt: str) -> dict[str, Any] | None:
        lowered = prompt.lower()
        for index, rule in enumerate(self.rules):
            models = rule.get("models")
            if models and model not in models:
                continue
            if "contains" in rule and rule["contains"].lower() not in lowered:
                continue
            if "pattern" in rule:
                compiled = self._compiled.get(index)
                if compiled is None:
                    compiled = self._compiled[index] = re.compile(rule["pattern"], re.I | re.S)
                if not compiled.search(prompt):
                    continue
            return rule
        return None

    def respond(self, model: str, prompt: str) -> str:
        """The scripted text (what the demo seeds without going through HTTP)."""
        rule = self.match(self.resolve(model) or model, prompt)
        return rule.get("text", self.default_text) if rule else self.default_text


def approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)
