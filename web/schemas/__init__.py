"""Request (and documented response) schemas, one module per domain. Requests forbid unknown
fields, so a typo is a 422 naming it rather than silently ignored."""
