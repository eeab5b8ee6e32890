"""Synthetic OpenRouter catalogs for benchmarks: N models shaped like the real ones, and
their day-to-day evolution (price changes, additions, removals, returns).

    from benchmarks.synthetic import generate, evolve
    day0 = generate(10_000, seed=1)
    day1 = evolve(day0, day=1, seed=1)           # 2% price changes, 1% added, 1% removed
    raw = day1.payload()                         # b'{"data":[...]}', compact like the API

Seeded and deterministic: the same arguments give the same bytes on every run. The value
distributions (vendors, tokenizers, modalities, context lengths, prices, parameters, the
share of free models and of blank Hugging Face ids) are taken from the real 337-model
capture tests/data/openrouter/2025-11-19_teatreechat.json.gz, and every model object has its
13 keys in the API's order. Generating 100,000 models takes about a second.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import orjson

Model = dict[str, Any]

CREATED_BASE = 1_700_000_000
"""``created`` of model 0 (2023-11-14); later models are newer."""
DAY_SECONDS = 86_400
ROUTER_ID = "openrouter/auto"
"""Model 0 is the router: the only one with dynamic (``"-1"``) pricing, as in the real list."""

T = TypeVar("T")


def _weighted(pairs: Iterable[tuple[T, int]]) -> tuple[T, ...]:
    """Each value repeated by its weight: one ``random()`` call picks from it (see
    :func:`_pick`), several times faster than ``random.choices``."""
    return tuple(value for value, weight in pairs for _ in range(weight))


def _pick(values: Sequence[T], random_float: Callable[[], float]) -> T:
    return values[int(random_float() * len(values))]


# Weights are counts in the real capture (337 models).
_VENDOR_TABLE = _weighted(
    [
        (("openai", "OpenAI", "GPT", ("gpt-5", "gpt-4.1", "o4", "gpt-oss")), 51),
        (("qwen", "Qwen", "Qwen3", ("qwen3", "qwen3-coder", "qwen-vl", "qwq")), 46),
        (("mistralai", "Mistral", "Mistral", ("mistral-small", "mistral-large", "codestral")), 36),
        (("google", "Google", "Gemini", ("gemini-2.5-flash", "gemini-3-pro", "gemma-3")), 24),
        (("deepseek", "DeepSeek", "DeepSeek", ("deepseek-v3", "deepseek-r1", "deepseek-chat")), 18),
        (("meta-llama", "Meta", "Llama3", ("llama-3.3", "llama-4-scout", "llama-guard")), 18),
        (("anthropic", "Anthropic", "Claude", ("claude-sonnet", "claude-opus")), 12),
        (("microsoft", "Microsoft", "Other", ("phi-4", "mai-ds-r1", "wizardlm")), 9),
        (("x-ai", "xAI", "Grok", ("grok-4", "grok-code-fast", "grok-3-mini")), 8),
        (("moonshotai", "MoonshotAI", "Other", ("kimi-k2", "kimi-linear")), 7),
        (("nvidia", "NVIDIA", "Other", ("nemotron-nano", "llama-nemotron")), 7),
        (("z-ai", "Z.AI", "Other", ("glm-4.6", "glm-4.5-air")), 7),
        (("nousresearch", "Nous", "Llama3", ("hermes-4", "hermes-3")), 7),
        (("perplexity", "Perplexity", "Other", ("sonar", "sonar-pro", "sonar-reasoning")), 6),
        (("baidu", "Baidu", "Other", ("ernie-4.5",)), 5),
        (("arcee-ai", "Arcee AI", "Other", ("virtuoso", "coder-large")), 5),
        (("amazon", "Amazon", "Nova", ("nova-pro", "nova-lite")), 4),
        (("cohere", "Cohere", "Cohere", ("command-r", "command-a")), 4),
        (("minimax", "MiniMax", "Other", ("minimax-m2",)), 3),
        (("ai21", "AI21", "Other", ("jamba-large",)), 2),
    ]
)
_SIZES = ("7b", "8b", "14b", "32b", "70b", "235b-a22b", "mini", "nano", "pro", "flash", "max")
_DATES = ("20250514", "20250805", "20251001", "20251113")
_CONTEXT_TABLE = _weighted(
    [(4096, 5), (8192, 11), (32768, 49), (40960, 10), (65536, 7), (128000, 38), (131072, 72),
     (163840, 19), (200000, 23), (262144, 14), (400000, 10), (1000000, 7), (1048576, 13),
     (2000000, 2)]
)  # fmt: skip
_MAX_COMPLETION_TABLE = _weighted(
    [(None, 113), (2048, 5), (4096, 19), (8192, 14), (16384, 35), (32768, 24), (64000, 7),
     (65536, 11), (100000, 12), (128000, 12), (131072, 21)]
)  # fmt: skip
_INSTRUCT_TABLE = _weighted(
    [(None, 242), ("llama3", 18), ("deepseek-r1", 17), ("chatml", 12), ("qwen3", 10),
     ("mistral", 10), ("gemma", 8), ("alpaca", 5)]
)  # fmt: skip
# (modality, input modalities in the order the API lists them)
_ARCHITECTURE_TABLE = _weighted(
    [
        (("text->text", ("text",)), 221),
        (("text+image->text", ("text", "image")), 47),
        (("text+image->text", ("image", "text")), 18),
        (("text+image->text", ("text", "image", "file")), 17),
        (("text+image->text", ("image", "text", "file")), 13),
        (("text+image->text", ("text", "image", "file", "audio", "video")), 7),
        (("text+image->text+image", ("image", "text")), 4),
    ]
)
_DEFAULT_PARAMETER_TABLE: tuple[Mapping[str, Any], ...] = _weighted(
    [
        ({}, 217),
        ({"temperature": None, "top_p": None, "frequency_penalty": None}, 62),
        ({"temperature": 0.3}, 35),
        ({"temperature": 0.75, "top_p": None, "frequency_penalty": None}, 5),
        ({"temperature": 0.7, "top_p": 0.8, "frequency_penalty": None}, 3),
        ({"temperature": 0.6, "top_p": 0.95, "frequency_penalty": None}, 2),
    ]
)
# Each parameter with the share of real models supporting it. Models pick one of 512 sets
# drawn once with these shares (one random call per model instead of 21); lists are sorted.
_PARAMETER_SHARES = {
    "max_tokens": 0.98, "temperature": 0.92, "top_p": 0.91, "stop": 0.80, "seed": 0.79,
    "presence_penalty": 0.76, "frequency_penalty": 0.73, "response_format": 0.73,
    "tools": 0.64, "top_k": 0.63, "tool_choice": 0.62, "structured_outputs": 0.62,
    "repetition_penalty": 0.52, "reasoning": 0.39, "include_reasoning": 0.37, "min_p": 0.35,
    "logit_bias": 0.33, "logprobs": 0.18, "top_logprobs": 0.18, "web_search_options": 0.04,
    "top_a": 0.03,
}  # fmt: skip
_SENTENCES = (
    "is a general-purpose model tuned for chat, coding and long-context reasoning.",
    "It supports tool calling and structured outputs, and follows system prompts closely.",
    "Reasoning can be enabled or disabled with the `reasoning` parameter in the API.",
    "The model was trained on a mixture of public web data, code and licensed sources.",
    "Compared with the previous generation it is faster and cheaper at similar quality.",
    "It is a Mixture-of-Experts model with a small number of active parameters per token.",
    "Pricing varies by context length: requests above 128k input tokens cost more.",
    "Best suited for agentic workflows, retrieval-augmented generation and summarization.",
    "Multilingual: it handles more than 100 languages and dialects, with strong results on\n"
    "translation benchmarks.",
    "Vision input lets it read charts, screenshots and scanned documents.",
    "Context window: up to two million tokens, with prompt caching for repeated prefixes.",
    "[Learn more in the docs](https://openrouter.ai/docs/use-cases/reasoning-tokens).",
    "Note: the provider may log prompts and completions to improve the model.",
    "It was released under an open-weights licence that permits commercial use.",
)


def _sets(seed: int) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """512 parameter lists and 512 descriptions (after the model name), drawn once."""
    rng = random.Random(seed)
    parameters = tuple(
        tuple(sorted(p for p, share in _PARAMETER_SHARES.items() if rng.random() < share))
        for _ in range(512)
    )
    # 2 to 14 sentences, about 540 characters on average as in the real list.
    descriptions = tuple(
        " ".join([_SENTENCES[0], *rng.sample(_SENTENCES[1:], rng.choice(_SENTENCE_COUNTS))])
        for _ in range(512)
    )
    return parameters, descriptions


_SENTENCE_COUNTS = (1, 2, 3, 4, 4, 5, 5, 6, 6, 7, 9, 12)
_PARAMETER_SETS, _DESCRIPTIONS = _sets(20251119)
_FREE_COMPONENTS = ("prompt", "completion", "request", "image", "web_search", "internal_reasoning")

# Prompt prices in USD per million tokens, and completion/prompt ratios, as seen in the real
# list; the API sends USD per token as decimal strings ("0.0000003"), never an exponent.
_PROMPT_PER_MILLION = ("0.02", "0.03", "0.04", "0.05", "0.06", "0.07", "0.1", "0.15", "0.2",
                       "0.25", "0.3", "0.4", "0.5", "0.6", "0.8", "1", "1.25", "2", "2.5", "3",
                       "5", "10", "15")  # fmt: skip
_COMPLETION_RATIOS = (1, 2, 3, 4, 5, 8)
_RATIO_TABLE = _weighted([(1, 69), (2, 26), (3, 47), (4, 89), (5, 29), (8, 19)])
FREE_SHARE = 0.12
"""Share of ``:free`` variants (every price "0"), as in the real list."""


def _per_token(per_million: Decimal) -> str:
    return format((per_million / 1_000_000).normalize(), "f")


# Every price string a model can carry, computed once: [prompt level][ratio] -> strings.
_PRICES: list[dict[int, tuple[str, str, str, str]]] = [
    {
        ratio: (
            _per_token(Decimal(prompt)),
            _per_token(Decimal(prompt) * ratio),
            _per_token(Decimal(prompt) / 10),  # cache read
            _per_token(Decimal(prompt) * Decimal("1.25")),  # cache write
        )
        for ratio in _COMPLETION_RATIOS
    }
    for prompt in _PROMPT_PER_MILLION
]


@dataclass(frozen=True)
class SyntheticCatalog:
    """One day of a synthetic catalog.

    The model dicts are shared between days where a model did not change: treat them as
    read-only (``evolve`` copies what it changes).
    """

    models: Sequence[Model]
    """The listed models, in payload order (newest first, as the API sends them)."""
    day: int = 0
    seed: int = 0
    next_index: int = 0
    """Index of the next new model: model ids never repeat."""
    retired: Mapping[str, Model] = field(default_factory=dict)
    """Removed models by id, as they were when removed: the pool returns come from."""
    levels: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """(prompt price level, completion ratio) of every priced model, for price changes."""

    def document(self) -> dict[str, list[Model]]:
        """The payload as OpenRouter's ``{"data": [...]}``."""
        return {"data": list(self.models)}

    def payload(self) -> bytes:
        """The payload bytes: compact JSON, as the API sends them."""
        return orjson.dumps(self.document())

    @property
    def ids(self) -> set[str]:
        return {model["id"] for model in self.models}


def generate(n: int, seed: int = 0) -> SyntheticCatalog:
    """A catalog of ``n`` models, day 0."""
    rng = random.Random(_day_seed(seed, 0))
    levels: dict[str, tuple[int, int]] = {}
    models = [_new_model(rng, index, CREATED_BASE + index * 60, levels) for index in range(n)]
    models.reverse()  # newest first
    return SyntheticCatalog(models, 0, seed, n, {}, levels)


def evolve(
    catalog: SyntheticCatalog,
    day: int,
    seed: int = 0,
    *,
    price_share: float = 0.02,
    add_share: float = 0.01,
    remove_share: float = 0.01,
    return_share: float = 0.002,
) -> SyntheticCatalog:
    """The catalog of ``day``, one day after ``catalog``.

    Shares are of the models listed the day before, rounded to whole models:
    ``price_share`` of them change their prompt price (and the components that follow it),
    ``add_share`` new models appear, ``remove_share`` disappear and ``return_share`` come
    back from the ones removed earlier (as many as there are). Free models and the router
    keep their prices; the router is never removed.
    """
    rng = random.Random(_day_seed(seed, day))
    listed = list(catalog.models)
    count = len(listed)
    levels = dict(catalog.levels)
    retired = dict(catalog.retired)

    removable = [i for i, model in enumerate(listed) if model["id"] != ROUTER_ID]
    removed_at = set(rng.sample(removable, min(round(remove_share * count), len(removable))))
    kept = [model for i, model in enumerate(listed) if i not in removed_at]
    for i in sorted(removed_at):
        retired[listed[i]["id"]] = listed[i]

    priced = [i for i, model in enumerate(kept) if model["id"] in levels]
    for i in rng.sample(priced, min(round(price_share * count), len(priced))):
        kept[i] = _reprice(rng, kept[i], levels)

    pool = sorted(set(catalog.retired))  # removed before today: today's removals stay away
    returning = rng.sample(pool, min(round(return_share * count), len(pool)))
    back = [retired.pop(model_id) for model_id in returning]

    created = CREATED_BASE + day * DAY_SECONDS + catalog.next_index * 60
    additions = round(add_share * count)
    new = [_new_model(rng, catalog.next_index + k, created + k, levels) for k in range(additions)]
    new.reverse()
    return SyntheticCatalog(
        new + back + kept, day, seed, catalog.next_index + additions, retired, levels
    )


def history(n: int, days: int, seed: int = 0, **shares: float) -> Iterator[SyntheticCatalog]:
    """Days 0 .. days-1 of a catalog of ``n`` models (``shares`` as for :func:`evolve`)."""
    catalog = generate(n, seed)
    yield catalog
    for day in range(1, days):
        catalog = evolve(catalog, day, seed, **shares)
        yield catalog


def _day_seed(seed: int, day: int) -> int:
    return seed * 1_000_003 + day


def _new_model(
    rng: random.Random, index: int, created: int, levels: dict[str, tuple[int, int]]
) -> Model:
    if index == 0:
        return _router(created)
    pick = rng.random
    vendor, display, tokenizer, stems = _pick(_VENDOR_TABLE, pick)
    stem = _pick(stems, pick)
    size = _pick(_SIZES, pick)
    base_id = f"{vendor}/{stem}-{size}-{index}"
    free = pick() < FREE_SHARE
    model_id = f"{base_id}:free" if free else base_id
    title = f"{stem.replace('-', ' ').title()} {size.upper()} {index}"
    name = f"{display}: {title}{' (free)' if free else ''}"
    hugging = pick()
    modality, inputs = _pick(_ARCHITECTURE_TABLE, pick)
    context = _pick(_CONTEXT_TABLE, pick)
    if free:
        pricing = dict.fromkeys(_FREE_COMPONENTS, "0")
    else:
        level = int(pick() * len(_PROMPT_PER_MILLION))
        ratio = _pick(_RATIO_TABLE, pick)
        levels[model_id] = (level, ratio)
        pricing = _pricing(level, ratio, pick(), modality)
    return {
        "id": model_id,
        "canonical_slug": base_id if pick() < 0.66 else f"{base_id}-{_pick(_DATES, pick)}",
        "hugging_face_id": (
            "" if hugging < 0.33 else None if hugging < 0.42 else f"{display}/{title}"
        ),
        "name": name,
        "created": created,
        "description": f"{name} {_pick(_DESCRIPTIONS, pick)}",
        "context_length": context,
        "architecture": {
            "modality": modality,
            "input_modalities": list(inputs),
            "output_modalities": ["image", "text"] if modality.endswith("+image") else ["text"],
            "tokenizer": tokenizer,
            "instruct_type": _pick(_INSTRUCT_TABLE, pick),
        },
        "pricing": pricing,
        "top_provider": {
            "context_length": context,
            "max_completion_tokens": _pick(_MAX_COMPLETION_TABLE, pick),
            "is_moderated": pick() < 0.17,
        },
        "per_request_limits": None,
        "supported_parameters": list(_pick(_PARAMETER_SETS, pick)),
        "default_parameters": dict(_pick(_DEFAULT_PARAMETER_TABLE, pick)),
    }


def _pricing(level: int, ratio: int, extras: float, modality: str) -> dict[str, str]:
    """The pricing block: the six components every model sends (zeros included), plus cache
    prices for a fifth of the models; ``extras`` (0..1) picks which."""
    prompt, completion, cache_read, cache_write = _PRICES[level][ratio]
    pricing = {
        "prompt": prompt,
        "completion": completion,
        "request": "0",
        "image": "0.0048" if "image" in modality and extras < 0.5 else "0",
        "web_search": "0.01" if extras > 0.94 else "0",
        "internal_reasoning": "0",
    }
    if extras < 0.2:
        pricing["input_cache_read"] = cache_read
        if extras < 0.06:
            pricing["input_cache_write"] = cache_write
    return pricing


def _reprice(rng: random.Random, model: Model, levels: dict[str, tuple[int, int]]) -> Model:
    """A copy of ``model`` whose prompt price moved one or two levels up or down."""
    level, ratio = levels[model["id"]]
    step = rng.choice((-2, -1, 1, 2))
    new_level = level + step if 0 <= level + step < len(_PROMPT_PER_MILLION) else level - step
    levels[model["id"]] = (new_level, ratio)
    prompt, completion, cache_read, cache_write = _PRICES[new_level][ratio]
    pricing = {**model["pricing"], "prompt": prompt, "completion": completion}
    if "input_cache_read" in pricing:
        pricing["input_cache_read"] = cache_read
    if "input_cache_write" in pricing:
        pricing["input_cache_write"] = cache_write
    return {**model, "pricing": pricing}


def _router(created: int) -> Model:
    return {
        "id": ROUTER_ID,
        "canonical_slug": ROUTER_ID,
        "hugging_face_id": None,
        "name": "Auto Router",
        "created": created,
        "description": "Your prompt will be processed by a meta-model and routed to one of"
        " dozens of models, optimizing for the best possible output.",
        "context_length": 2000000,
        "architecture": {
            "modality": "text->text",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "tokenizer": "Router",
            "instruct_type": None,
        },
        "pricing": {"prompt": "-1", "completion": "-1"},
        "top_provider": {
            "context_length": None,
            "max_completion_tokens": None,
            "is_moderated": False,
        },
        "per_request_limits": None,
        "supported_parameters": [],
        "default_parameters": {},
    }
