"""Quantity exports: back-office stock levels (QuantityExportQueue) to TikTok Shop's inventory,
every warehouse of each SKU, never oversold (see stock/export.py)."""
