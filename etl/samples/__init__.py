"""Real catalogs bundled for the demo: OpenRouter's public model list, captured twice.

* ``openrouter-2025-07-24.json.gz`` - 319 models, from alanwilhelm/lux-mcp (MIT), raw bytes
  of the API.
* ``openrouter-2025-11-19.json.gz`` - 337 models, from Lasdw6/TeaTreeChat (MIT).

The data is OpenRouter's; only the captures come from those repositories.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Sample:
    path: Path
    observed_at: datetime


SAMPLES = (
    Sample(HERE / "openrouter-2025-07-24.json.gz", datetime(2025, 7, 24, tzinfo=UTC)),
    Sample(HERE / "openrouter-2025-11-19.json.gz", datetime(2025, 11, 19, tzinfo=UTC)),
)
