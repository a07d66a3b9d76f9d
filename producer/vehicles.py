"""Realistic vehicle events for load: a fleet of vehicles, each sending several events as its mileage grows.

Built on the consumer's contract (`VehicleEvent`), so a producer can never drift from what the consumer
accepts; `poison_body` makes bodies the contract rejects, for fault runs. Standard library only, so a producer
Lambda could ship it too.
"""

from __future__ import annotations

import json
import random
import time
import uuid

from consumer.vehicle_event import YEAR_MAX, VehicleEvent

MODELS = {
    "Honda": ["Civic", "Accord", "CR-V", "Jazz"],
    "Toyota": ["Corolla", "Yaris", "RAV4", "Prius"],
    "Ford": ["Focus", "Fiesta", "Kuga", "Mustang"],
    "Volkswagen": ["Golf", "Polo", "Passat", "Tiguan"],
    "Fiat": ["Panda", "500", "Tipo", "Punto"],
    "Tesla": ["Model 3", "Model Y", "Model S"],
}
COLORS = ["Blue", "Red", "White", "Black", "Silver", "Grey", "Green"]


class VehicleFactory:
    def __init__(self, seed: int | None = None, fleet_size: int = 500, id_prefix: str = "VH"):
        """`id_prefix` names the fleet: producers with distinct prefixes never send for the same vehicle, so
        a vehicle's events leave in the order of their sentAt (what a FIFO run checks)."""
        self._rng = random.Random(seed)
        self._fleet = []
        for number in range(1, fleet_size + 1):
            make = self._rng.choice(sorted(MODELS))
            self._fleet.append(
                {
                    "vehicle_id": f"{id_prefix}{number:04d}",
                    "make": make,
                    "model": self._rng.choice(MODELS[make]),
                    "year": self._rng.randint(2005, YEAR_MAX),
                    "color": self._rng.choice(COLORS),
                    "mileage": self._rng.randint(0, 150_000),
                }
            )

    def event(self) -> VehicleEvent:
        """The next event of a random vehicle: its mileage grew since the last one; a unique eventId."""
        vehicle = self._rng.choice(self._fleet)
        vehicle["mileage"] += self._rng.randint(1, 400)
        return VehicleEvent(**vehicle, event_id=uuid.uuid4().hex, sent_at=time.time_ns() // 1_000_000)

    def poison_body(self) -> str:
        """A body the contract rejects, of a random kind (one of each reason family)."""
        valid = self.event().to_message()
        broken = [
            "not json at all",
            json.dumps([valid]),
            json.dumps({k: v for k, v in valid.items() if k != "make"}),
            json.dumps(valid | {"year": "2020"}),
            json.dumps(valid | {"mileage": -5}),
            json.dumps(valid | {"unexpected": True}),
        ]
        return self._rng.choice(broken)
