"""Fulfilment: the carrier mapping and tracking uploads (TrackingUploadQueue -> TikTok)."""
