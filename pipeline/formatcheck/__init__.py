"""Output-format requirements: extract them from prompts, verify outputs, keep families consistent.

Modules:
    numerals: English number words and Chinese numerals (一…九十九, 两) to ints.
    textstats: script ratio, code stripping, list items, sentences and lengths.
    requirements: explicit format requirements in the instruction, system prompt and input.
    countphrases: the item-count, sentence-count and length phrases among them.
    verify: check one output against one requirement.
    schemas: output JSON schemas and their bindings to records.
    consistency: task families and minority-style detection / normalisation.
    checker: per-record extraction + verification, used by the ``format`` processor.
"""
