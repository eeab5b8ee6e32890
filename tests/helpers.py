"""Shared test helpers: the real sample catalogs, small cases, and database snapshots."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from etl.db.tables import metadata
from etl.times import parse_time

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
CASES = TESTS / "cases"

DATA_TABLES = [
    table for table in metadata.sorted_tables if table.name not in ("sync_runs", "payloads")
]


def data_file(relative: str) -> Path:
    return DATA / relative


def read_bytes(relative: str) -> bytes:
    """The decompressed bytes of a file under tests/data."""
    raw = data_file(relative).read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def load_json(relative: str) -> Any:
    return json.loads(read_bytes(relative), parse_float=Decimal)


def load_case(name: str) -> Any:
    """A hand-written payload from tests/cases."""
    return json.loads((CASES / f"{name}.json").read_text("utf-8"), parse_float=Decimal)


def daily_files() -> list[Path]:
    """The 63 daily OpenRouter captures, in time order."""
    return sorted((DATA / "openrouter-daily").glob("*.json.gz"))


def observed_at(path: Path) -> datetime:
    """The capture time in a file name such as 2026-03-02T010322Z.json.gz."""
    return parse_time(path.name.split(".")[0])


def payload(models: list[dict[str, Any]]) -> bytes:
    """An OpenRouter-shaped payload holding ``models``."""
    return json.dumps({"data": models}).encode()


def count_rows(engine: Engine) -> dict[str, int]:
    """Rows per table, run and archive tables included."""
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
        }


def dump_history(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table's rows, in a stable order, without surrogate ids or run ids, so two
    databases that hold the same history compare equal."""
    skip = {"id", "sync_run_id", "model_version_id"}
    with engine.connect() as connection:
        out = {}
        for table in DATA_TABLES:
            columns = [c for c in table.columns if c.name not in skip]
            rows = connection.execute(select(*columns)).all()
            out[table.name] = sorted((tuple(row) for row in rows), key=repr)
        return out


def make_model(model_id: str = "acme/rocket-1", **changes: Any) -> dict[str, Any]:
    """A complete OpenRouter model object; keyword arguments replace its fields."""
    base: dict[str, Any] = {
        "id": model_id,
        "canonical_slug": model_id,
        "hugging_face_id": "",
        "name": "Acme: Rocket 1",
        "created": 1760000000,
        "description": "A fast model.",
        "context_length": 128000,
        "architecture": {
            "modality": "text->text",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": {"prompt": "0.000001", "completion": "0.000002"},
        "top_provider": {
            "context_length": 128000,
            "max_completion_tokens": 8192,
            "is_moderated": False,
        },
        "per_request_limits": None,
        "supported_parameters": ["max_tokens", "temperature"],
    }
    base.update(changes)
    return base


def natural_history(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every history row keyed by names instead of surrogate ids, sorted: two databases
    that hold the same history give equal dumps whatever order their rows were written in.
    Runs are reduced to the observations they applied."""
    from sqlalchemy import text

    queries = {
        "providers": "SELECT name, first_seen_at, last_observed_at FROM providers",
        "provider_states": """SELECT p.name, s.configured, s.valid_from, s.valid_to
            FROM provider_states s JOIN providers p ON p.id = s.provider_id""",
        "vendors": "SELECT name FROM vendors",
        "models": """SELECT p.name, m.model, v.name, m.first_seen_at,
                m.available, m.source_hash
            FROM models m JOIN providers p ON p.id = m.provider_id
            JOIN vendors v ON v.id = m.vendor_id""",
        "model_versions": """SELECT m.model, mv.version, mv.valid_from, mv.valid_to,
                mv.content_hash, mv.name, mv.description, mv.created, mv.context_length,
                mv.canonical_slug, mv.hugging_face_id, mv.modality, mv.tokenizer,
                mv.instruct_type, mv.top_provider_context_length, mv.max_completion_tokens,
                mv.is_moderated, mv.priced, mv.pricing_discount, mv.pricing_overrides, mv.extra
            FROM model_versions mv JOIN models m ON m.id = mv.model_id""",
        "links": """SELECT m.model, mv.version, 'modality', l.direction, x.name
                FROM model_version_modalities l JOIN modalities x ON x.id = l.modality_id
                JOIN model_versions mv ON mv.id = l.model_version_id
                JOIN models m ON m.id = mv.model_id
            UNION ALL SELECT m.model, mv.version, 'category', '', x.name
                FROM model_version_categories l JOIN categories x ON x.id = l.category_id
                JOIN model_versions mv ON mv.id = l.model_version_id
                JOIN models m ON m.id = mv.model_id
            UNION ALL SELECT m.model, mv.version, 'parameter', '', x.name
                FROM model_version_parameters l JOIN parameters x ON x.id = l.parameter_id
                JOIN model_versions mv ON mv.id = l.model_version_id
                JOIN models m ON m.id = mv.model_id""",
        "lookups": """SELECT 'modality', name FROM modalities
            UNION ALL SELECT 'category', name FROM categories
            UNION ALL SELECT 'parameter', name FROM parameters""",
        "prices": """SELECT m.model, p.component, p.amount, p.dynamic, p.valid_from, p.valid_to
            FROM prices p JOIN models m ON m.id = p.model_id""",
        "availability": """SELECT m.model, a.valid_from, a.valid_to, a.last_seen_at
            FROM model_availability a JOIN models m ON m.id = a.model_id""",
        "observations": """SELECT observed_at, payload_sha256, models_seen, added, removed,
                returned, versions_written, price_changes
            FROM sync_runs WHERE status = 'succeeded'""",
        "payloads": "SELECT sha256, size_bytes FROM payloads",
    }
    with engine.connect() as connection:
        return {
            name: sorted((tuple(row) for row in connection.execute(text(query))), key=repr)
            for name, query in queries.items()
        }


# --- Hostile text: what a gateway could put in ids, names, descriptions, error bodies ------

MARKUP_TEXT = ("[/]", "[bold]bold[/bold]", "[link=https://example.invalid]link[/link]")
ANSI_CLEAR = "\x1b[2J\x1b[H"
OSC_LINK = "\x1b]8;;https://example.invalid\x1b\\click\x1b]8;;\x1b\\"
CONTROL_TEXT = (
    ANSI_CLEAR,
    OSC_LINK,
    "nul\x00byte",
    "lone \udc9d surrogate",
    "line\u2028paragraph\u2029separators",
    "c1 \x85\x9b\x9d controls",
    "del\x7f bell\x07 back\x08 cr\r tab\t vt\x0b",
    "\u202eright-to-left override",
)
FORMULA_TEXT = ('=HYPERLINK("https://example.invalid","x")', "+1+cmd", "-2+3", "@SUM(A1:A2)")
HUGE_TEXT = "H" * 1_000_000
"""A 1 MB name."""

_RAW_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def raw_controls(text: str, allowed: str = "\n") -> set[str]:
    """The control characters (C0, DEL, C1, line and paragraph separators, bidirectional
    controls, lone surrogates) in ``text`` that are not ``allowed``."""
    return {char for char in _RAW_CONTROL.findall(text) if char not in allowed}


def hostile_models(day: int = 0) -> list[dict[str, Any]]:
    """A catalog whose text is hostile: rich markup, ANSI and OSC escapes, NUL, a lone
    surrogate, C1 controls, U+2028, formula-like cells, matplotlib mathtext and a 1 MB name,
    plus ids the validation rejects (the warnings quote them). ``day`` 1 renames and
    reprices, so a diff between the two holds hostile old and new values, a -35% and a
    +100% price change."""
    everything = " ".join((*MARKUP_TEXT, *CONTROL_TEXT))
    renamed = day > 0
    return [
        make_model(
            "hostile/[/]markup",
            name=("[/] " + OSC_LINK) if renamed else "[bold]Bold[/bold] " + ANSI_CLEAR,
            description=everything,
            pricing={"prompt": "0.000001", "completion": "0.0000013" if renamed else "0.000002"},
        ),
        make_model(
            "hostile/controls",
            name=CONTROL_TEXT[day % len(CONTROL_TEXT)],
            description=" ".join(reversed(CONTROL_TEXT)),
            hugging_face_id=MARKUP_TEXT[2],
        ),
        make_model("hostile/huge", name=HUGE_TEXT if not renamed else HUGE_TEXT + "!"),
        make_model(
            "=1+2/formula",
            name=FORMULA_TEXT[0] if not renamed else FORMULA_TEXT[1],
            description=FORMULA_TEXT[3],
        ),
        make_model("-2+3/formula", name=FORMULA_TEXT[2]),
        make_model(
            "hostile/$\\notacommand$",  # mathtext, in a chart's legend
            name="$\\frac{",
            pricing={"prompt": "0.000002" if renamed else "0.000001", "completion": "0"},
        ),
        make_model("hostile/[/] ", name="rejected: ends with a space"),
        make_model("hostile/\x1b[31mred", name="rejected: an escape in the id"),
    ]
