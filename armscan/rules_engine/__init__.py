"""Rules as data: loading, validation, and matching source files against them."""
