"""Script-aware text helpers shared by stages (script profiles, token counts, n-grams, language id)."""
