"""What the template security scan cannot see (see .checkov.yaml for its waivers)."""

from __future__ import annotations

from tests.support import template_resources


def test_every_queue_is_encrypted_at_rest() -> None:
    queues = {
        name: resource["Properties"]
        for name, resource in template_resources().items()
        if resource["Type"] == "AWS::SQS::Queue"
    }
    assert queues
    unencrypted = [
        name
        for name, properties in queues.items()
        if properties.get("SqsManagedSseEnabled") is not True and "KmsMasterKeyId" not in properties
    ]
    assert unencrypted == []
