"""Reads a SAM template the way CloudFormation would, but offline.

cfn-lint's decoder understands the short intrinsic tags (!Ref, !Sub, ...). aws-sam-translator then
expands the SAM resources into plain CloudFormation (Globals merged, events turned into event
source mappings, rules and OpenAPI bodies). The translator insists on S3 code locations and an
IAM managed-policy map; locally we give it placeholder S3 URIs and an empty map, and remember
which local folder each function's code lives in.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import decode
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

log = logging.getLogger(__name__)

PLACEHOLDER_BUCKET = "tts-local-code"
_CODE_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


class TemplateError(Exception):
    """The template cannot be read or expanded; the message says why."""


@dataclass(frozen=True)
class ExpandedTemplate:
    """Plain CloudFormation plus what the translator would otherwise forget: local code folders."""

    path: Path
    resources: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    code_dirs: dict[str, Path] = field(default_factory=dict)


def load_template(path: Path, region: str) -> ExpandedTemplate:
    raw = _decode(path)
    code_dirs = _replace_code_uris(raw, path.parent)
    translated = _translate(raw, region) if "Transform" in raw else raw
    return ExpandedTemplate(
        path=path,
        resources=translated.get("Resources", {}),
        parameters=translated.get("Parameters", {}),
        conditions=translated.get("Conditions", {}),
        mappings=translated.get("Mappings", {}),
        outputs=translated.get("Outputs", {}),
        code_dirs=code_dirs,
    )


def _decode(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise TemplateError(f"template not found: {path}")
    template, problems = decode(str(path))
    if template is None or problems:
        details = "; ".join(str(problem) for problem in problems) or "unreadable"
        raise TemplateError(f"cannot parse {path}: {details}")
    # The decoder's node classes carry line marks; plain dicts are easier to copy and compare.
    plain: dict[str, Any] = json.loads(json.dumps(template, default=str))
    return plain


def _replace_code_uris(template: dict[str, Any], base_dir: Path) -> dict[str, Path]:
    """Points every CodeUri/ContentUri at a placeholder S3 object; returns the real folders."""
    code_dirs: dict[str, Path] = {}
    global_code = (template.get("Globals", {}).get("Function", {}) or {}).pop("CodeUri", None)
    for logical_id, resource in template.get("Resources", {}).items():
        key = _CODE_PROPERTIES.get(resource.get("Type", ""))
        if key is None:
            continue
        properties = resource.setdefault("Properties", {})
        local = properties.get(key, global_code)
        if isinstance(local, str) and not local.startswith("s3://"):
            code_dirs[logical_id] = (base_dir / local).resolve()
        elif key == "CodeUri" and "InlineCode" in properties:
            continue
        properties[key] = f"s3://{PLACEHOLDER_BUCKET}/{logical_id}"
    return code_dirs


def _translate(template: dict[str, Any], region: str) -> dict[str, Any]:
    # The region only feeds ARNs the translator writes; no call leaves the machine.
    session = boto3.session.Session(region_name=region)
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session)
    try:
        result: dict[str, Any] = translator.translate(copy.deepcopy(template), parameter_values={})
    except Exception as exc:  # the translator raises many types; all mean "bad template"
        raise TemplateError(f"SAM transform failed: {exc}") from exc
    return result
