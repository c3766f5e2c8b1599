"""Per-test topic names and consumer group, and the environment for a worker subprocess."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from candleflow.stack import StackInfo


@dataclass(frozen=True)
class Names:
    """Unique Kafka names for one test, so tests never see each other's records."""

    ticks_topic: str
    dead_topic: str
    updates_topic: str
    app_id: str

    @classmethod
    def fresh(cls) -> Names:
        tag = uuid.uuid4().hex[:10]
        return cls(
            ticks_topic=f"ticks.raw.{tag}",
            dead_topic=f"ticks.dead.{tag}",
            updates_topic=f"bars.updates.{tag}",
            app_id=f"candleflow-test-{tag}",
        )

    def env(self, stack_info: StackInfo, database_url: str, **extra: object) -> dict[str, str]:
        """CANDLEFLOW_* variables for a subprocess using these names.

        `extra` adds settings: `source="synthetic"` becomes CANDLEFLOW_SOURCE=synthetic;
        keys already spelled CANDLEFLOW_... are taken as they are.
        """
        env = {
            **stack_info.env(),
            "CANDLEFLOW_DATABASE_URL": database_url,
            "CANDLEFLOW_APP_ID": self.app_id,
            "CANDLEFLOW_TICKS_TOPIC": self.ticks_topic,
            "CANDLEFLOW_DEAD_TOPIC": self.dead_topic,
            "CANDLEFLOW_UPDATES_TOPIC": self.updates_topic,
        }
        for key, value in extra.items():
            name = key if key.startswith("CANDLEFLOW_") else f"CANDLEFLOW_{key.upper()}"
            env[name] = str(value)
        return env
