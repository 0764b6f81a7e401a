"""Native binary classification: header readers and detail extractors."""
