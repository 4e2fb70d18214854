"""Webhook intake: signature verification, envelope models and the intake decision."""
