"""An IAM role on the sandbox's moto server, for SQS access through an assumed role.

moto serves IAM and STS on the same port as SQS.  The sandbox creates one role whose trust
policy names an external id, so ``sts:AssumeRole`` with :data:`ROLE_ARN` and
:data:`EXTERNAL_ID` works against ``http://127.0.0.1:<moto port>`` exactly as against AWS.
moto does not evaluate IAM policies: the sandbox proves the call path (a role ARN and an
external id in, temporary credentials out, those credentials used for SQS), not that AWS
would refuse a wrong role or external id.
"""

from __future__ import annotations

import json
from typing import Any

#: moto's default account
ACCOUNT_ID = "123456789012"
ROLE_NAME = "mqmigrate-sandbox"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"
EXTERNAL_ID = "mqmigrate-sandbox"

_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
        }
    ],
}
_SQS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["sqs:*", "sns:*"], "Resource": "*"}],
}


def ensure_role(iam: Any) -> str:
    """Create the sandbox role (and its inline SQS policy) if missing; return its ARN."""
    try:
        iam.get_role(RoleName=ROLE_NAME)
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(_TRUST_POLICY),
            Description="mqmigrate sandbox: SQS access through an assumed role",
        )
    iam.put_role_policy(
        RoleName=ROLE_NAME, PolicyName="sqs", PolicyDocument=json.dumps(_SQS_POLICY)
    )
    return ROLE_ARN
