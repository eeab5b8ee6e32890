"""The key that matches one model across catalogs. Pure: no database, no I/O.

Catalogs spell the same model differently: OpenRouter and InsForge list ``openai/gpt-4o``,
LiteLLM lists ``gpt-4o`` under provider ``openai``, and ``anthropic/claude-sonnet-4.5`` is
``claude-sonnet-4-5`` there. The key is ``vendor/name``, lowercased:

* ``vendor``: the model's author, the id's prefix before its first ``/``, or else the
  provider (:func:`etl.ingest.normalize.vendor_of`);
* ``name``: the id after its last ``/``, with ``.`` and ``_`` written ``-``. A variant
  suffix stays part of it (``gpt-4o:free`` is another offer than ``gpt-4o``), and so does a
  date (``gpt-4o-2024-08-06`` is not ``gpt-4o``).

Nothing fuzzier: a key that two models of one catalog share (``~openai/gpt-4o`` beside
``openai/gpt-4o``, two providers of one InsForge instance) is ambiguous, and comparisons list
it instead of choosing one.
"""

from __future__ import annotations

from etl.ingest.normalize import vendor_of

_SPELLINGS = str.maketrans({".": "-", "_": "-"})


def match_key(model: str, provider: str) -> str:
    """``openai/gpt-4o`` (provider openrouter) and ``gpt-4o`` (provider openai) both give
    ``openai/gpt-4o``."""
    vendor = vendor_of(model, provider).lower()
    name = model.rpartition("/")[2].lstrip("~").lower().translate(_SPELLINGS)
    return f"{vendor}/{name}"
