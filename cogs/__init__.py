"""Discord features, one module per feature (images, videos, account, errors)."""
