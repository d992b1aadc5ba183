"""What an audit run will do, said before it starts: how many model calls the chosen ideas
and models make, and which chosen ideas have no probe (nothing runs for them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    calls: int
    probes: int
    samples: int  # per model: the probes' samples added up
    ideas: int  # chosen ideas with at least one probe
    idle_ideas: int  # chosen ideas without a probe
    models: int

    @property
    def sentence(self) -> str:
        if not self.models or not self.samples:
            why = "one model" if not self.models else "an idea with a probe"
            return f"Nothing to run yet: choose at least {why}."
        return (
            f"This audit makes {self.calls:,} model call{_s(self.calls)}: "
            f"{self.probes} probe{_s(self.probes)} from {self.ideas} idea{_s(self.ideas)}, "
            f"{self.samples} sample{_s(self.samples)} in all, on {self.models} "
            f"model{_s(self.models)}."
        )

    @property
    def idle_sentence(self) -> str:
        if not self.idle_ideas:
            return ""
        one = self.idle_ideas == 1
        return (
            f"{self.idle_ideas} chosen idea{_s(self.idle_ideas)} "
            f"{'has' if one else 'have'} no probe: nothing runs for {'it' if one else 'them'}."
        )


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def estimate(idea_ids: Iterable[int], probe_samples: Iterable[tuple[int, int]], models: int):
    """`probe_samples`: (idea id, samples) for each probe of the chosen ideas."""
    chosen = set(idea_ids)
    probes = [(idea, samples) for idea, samples in probe_samples if idea in chosen]
    with_probes = {idea for idea, _ in probes}
    samples = sum(samples for _, samples in probes)
    return Estimate(
        calls=samples * models,
        probes=len(probes),
        samples=samples,
        ideas=len(with_probes),
        idle_ideas=len(chosen - with_probes),
        models=models,
    )
