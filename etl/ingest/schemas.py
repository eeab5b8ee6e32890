"""Validation of one model record (pydantic), for each spelling the gateways use.

A field that is absent is *not reported* (it keeps its last known value); a field sent as
``null`` is null. :attr:`pydantic.BaseModel.model_fields_set` tells the two apart.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from etl.text import CONTROLS

BIGINT_MAX = 2**63 - 1

_CONTROL = re.compile(f"[{CONTROLS}\n]")


def _clean_id(value: str) -> str:
    # Case is significant and kept; surrounding whitespace or control characters make two
    # spellings of one id, so such ids are refused rather than silently stripped.
    if value != value.strip() or _CONTROL.search(value):
        raise ValueError("a model id must not hold control characters or start or end with a space")
    return value


_MAX_ID = 255


def check_model_id(value: object) -> str:
    """The rules of :data:`ModelId` for an id found outside a validated object (a LiteLLM
    key): text of 1 to 255 characters, no control characters, no surrounding spaces."""
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_ID:
        raise ValueError(f"a model id must be text of 1 to {_MAX_ID} characters")
    return _clean_id(value)


ModelId = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_clean_id)]
Name = Annotated[str, StringConstraints(max_length=255)]
Count = Annotated[int, Field(ge=0, le=BIGINT_MAX)]
Timestamp = Annotated[int, Field(ge=-BIGINT_MAX, le=BIGINT_MAX)]


def _either(snake: str, camel: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(snake, camel))


class _Record(BaseModel):
    # extra="allow": unknown fields are kept (in ``model_extra``), never dropped.
    model_config = ConfigDict(extra="allow", frozen=True)


class ArchitectureIn(_Record):
    modality: str | None = None
    input_modalities: list[Name] | None = _either("input_modalities", "inputModalities")
    output_modalities: list[Name] | None = _either("output_modalities", "outputModalities")
    tokenizer: str | None = None
    instruct_type: str | None = _either("instruct_type", "instructType")


class TopProviderIn(_Record):
    context_length: Count | None = _either("context_length", "contextLength")
    max_completion_tokens: Count | None = _either("max_completion_tokens", "maxCompletionTokens")
    is_moderated: bool | None = _either("is_moderated", "isModerated")


class ModelIn(_Record):
    """A model as OpenRouter (and InsForge's categorized response) describes it."""

    id: ModelId
    name: str | None = None
    created: Timestamp | None = None
    description: str | None = None
    context_length: Count | None = _either("context_length", "contextLength")
    canonical_slug: str | None = _either("canonical_slug", "canonicalSlug")
    hugging_face_id: str | None = _either("hugging_face_id", "huggingFaceId")
    architecture: ArchitectureIn | None = None
    top_provider: TopProviderIn | None = _either("top_provider", "topProvider")
    pricing: dict[str, Any] | None = None
    supported_parameters: list[Name] | None = _either("supported_parameters", "supportedParameters")


class FlatModelIn(_Record):
    """A model in InsForge's current flat list; prices are numbers in USD per 1M tokens."""

    id: ModelId
    provider: Name
    created: Timestamp | None = None
    model_id: str | None = Field(default=None, alias="modelId")
    input_modality: list[Name] | None = Field(default=None, alias="inputModality")
    output_modality: list[Name] | None = Field(default=None, alias="outputModality")
    input_price: Any = Field(alias="inputPrice")
    output_price: Any = Field(alias="outputPrice")
    # Display strings derived from the prices above: read, not tracked.
    input_price_label: str | None = Field(default=None, alias="inputPriceLabel")
    output_price_label: str | None = Field(default=None, alias="outputPriceLabel")
