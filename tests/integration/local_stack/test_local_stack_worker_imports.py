"""A function worker of the local stack starts without the template loader: each worker is
`python -m tts_local.stack.worker`, and every one that imports cfn-lint adds about a second
to the start of the stack (nine functions, two cores)."""

from __future__ import annotations

import json
import subprocess
import sys

import tts_local.stack


def test_a_worker_imports_neither_the_template_loader_nor_cfn_lint() -> None:
    code = "import json, sys; import tts_local.stack.worker; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    modules = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "tts_local.stack.worker" in modules
    assert not {"cfnlint", "samtranslator", "moto"} & {name.split(".")[0] for name in modules}
    assert "tts_local.stack.local_stack" not in modules


def test_the_package_still_offers_the_stack_by_name() -> None:
    assert tts_local.stack.LocalStack.__name__ == "LocalStack"
    assert tts_local.stack.StackSettings.__name__ == "StackSettings"
    assert tts_local.stack.Invocation.__name__ == "Invocation"
