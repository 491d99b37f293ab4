"""Limits that keep one playground tab from exhausting the machine."""

from __future__ import annotations

from dataclasses import dataclass

from torchclf.errors import UserError


@dataclass(frozen=True)
class Limits:
    max_points: int = 5000
    max_layers: int = 6
    max_neurons: int = 64
    max_epochs: int = 100_000
    max_step: int = 1000          # epochs per request
    step_seconds: float = 0.5     # a step stops after the first epoch past this
    max_classes: int = 10         # colour and marker pairs the page tells apart
    min_train_ratio: float = 0.1  # the slider's range: both splits keep some points
    max_train_ratio: float = 0.9
    max_upload_bytes: int = 1_000_000
    max_columns: int = 100        # an upload's columns (each may become 30 one-hot ones)
    max_json_bytes: int = 64_000  # settings, a step or a point: a few hundred bytes
    max_coordinate: float = 1e6   # clicked points: the page's plane, with room to spare
    max_draw: int = 1_000_000     # new data draws: the generator's seed is seed + draw
    max_weight: float = 100.0     # an edited weight: far past any trained one, still finite
    max_sessions: int = 64
    idle_seconds: float = 600.0   # sessions unseen this long are dropped

    def check_points(self, n: int) -> None:
        if n > self.max_points:
            raise UserError(f"too many points ({n}): the playground allows {self.max_points}")
        if n < 4:
            raise UserError(f"too few points ({n}): use at least 4")

    def check_columns(self, n: int) -> None:
        if n > self.max_columns:
            raise UserError(f"too many columns ({n}): the playground allows {self.max_columns}")
        if n < 2:
            raise UserError(f"the CSV needs feature columns and a label column, got {n} column")

    def check_layers(self, hidden) -> None:
        if len(hidden) > self.max_layers:
            raise UserError(f"too many layers ({len(hidden)}): at most {self.max_layers}")
        if any(not 1 <= h <= self.max_neurons for h in hidden):
            raise UserError(f"each layer needs 1 to {self.max_neurons} neurons, got {list(hidden)}")

    def check_epochs(self, n: int) -> None:
        if not 1 <= n <= self.max_epochs:
            raise UserError(f"epochs must be between 1 and {self.max_epochs}, got {n}")

    def check_classes(self, n: int) -> None:
        if not 2 <= n <= self.max_classes:
            raise UserError(f"classes must be between 2 and {self.max_classes}, got {n}")

    def check_data_classes(self, n: int, what: str, fix: str = "") -> None:
        """The classes of data that brings its own (an upload, a bundled table)."""
        if n > self.max_classes:
            raise UserError(f"{what} has {n} classes; the playground takes 2 to "
                            f"{self.max_classes} (the colours and markers its page tells apart)"
                            + (f": {fix}" if fix else ""))

    def check_train_ratio(self, ratio: float) -> None:
        if not self.min_train_ratio <= ratio <= self.max_train_ratio:
            raise UserError(f"train ratio must be between {self.min_train_ratio} and "
                            f"{self.max_train_ratio}, got {ratio}")

    def check_draw(self, n: int) -> None:
        if not 0 <= n <= self.max_draw:
            raise UserError(f"data_draw must be between 0 and {self.max_draw}, got {n}")

    def check_step(self, n: int) -> int:
        if not 1 <= n <= self.max_step:
            raise UserError(f"a step trains 1 to {self.max_step} epochs, got {n}")
        return n


LIMITS = Limits()
