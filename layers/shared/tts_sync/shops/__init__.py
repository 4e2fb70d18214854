"""Shop onboarding (OAuth consent -> stored shops with tokens and webhook subscriptions) and the
token lifecycle (scheduled refresh, on-demand refresh for the client, type-6/7 webhooks).

Domain code (onboarding, tokens, subscriptions) works on the ports in `ports`; `dynamo_store` is
the DynamoDB adapter; `http` and `jobs` map Lambda events and outcomes in one place each."""
