"""The per-order audit trail: append-only entries written as things happen (webhook received,
hydration, state change, reservation change, outbound event, stock export, tracking upload),
read back per order without scanning (README "Operations: Audit trail")."""
