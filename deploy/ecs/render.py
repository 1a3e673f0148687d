#!/usr/bin/env python3
"""Fills a deploy/ecs template's ${NAME} placeholders from the environment and prints the JSON.

The templates stay valid JSON, so the placeholders live inside strings:
  - "${NAME}" anywhere in a string is replaced by the variable's value;
  - an array element that is exactly "${NAME}" takes a comma-separated value as several elements
    ("subnets": ["${PRIVATE_SUBNET_IDS}"] with subnet-a,subnet-b gives two subnets).
A placeholder whose variable is unset or empty, or whose value has the wrong form, stops the
rendering with exit code 2 and one line per problem, naming the variable and the template.
"""
import json
import os
import re
import sys

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")

# The forms of the values the templates are given; a wrong one fails here, not halfway through a deploy.
FORMS = {
    "AWS_REGION": (r"[a-z]{2}(-[a-z]+)+-\d", "an AWS region such as ap-northeast-2"),
    "AWS_ACCOUNT_ID": (r"\d{12}", "a 12-digit AWS account id"),
    "IMAGE_TAG": (r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", "a Docker image tag"),
    "IMAGE_REGISTRY": (r"[a-z0-9.-]+(:\d+)?(/[a-z0-9._/-]+)?", "a registry host such as 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com"),
    "EXECUTION_ROLE_ARN": (r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", "an IAM role ARN"),
    "TASK_ROLE_ARN": (r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", "an IAM role ARN"),
    "GATEWAY_TARGET_GROUP_ARN": (r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup/[\w-]+/[0-9a-f]+", "an ALB target group ARN"),
    "PARAMETER_PATH": (r"(/[A-Za-z0-9_.-]+)+", "a Parameter Store path such as /ticketqueue"),
    "VPC_CIDR": (r"\d{1,3}(\.\d{1,3}){3}/\d{1,2}", "an IPv4 network in CIDR form such as 10.0.0.0/16"),
    "PRIVATE_SUBNET_IDS": (r"subnet-[0-9a-f]+(,subnet-[0-9a-f]+)*", "subnet ids separated by commas"),
    "SILO_SECURITY_GROUP_ID": (r"sg-[0-9a-f]+", "a security group id"),
    "GATEWAY_SECURITY_GROUP_ID": (r"sg-[0-9a-f]+", "a security group id"),
}


def render(template_path):
    with open(template_path, encoding="utf-8") as f:
        template = json.load(f)
    problems = []

    def value_of(name):
        value = os.environ.get(name, "").strip()
        if not value:
            problems.append(f"{os.path.basename(template_path)}: {name} is not set")
            return ""
        form = FORMS.get(name)
        if form and not re.fullmatch(form[0], re.sub(r"\s*,\s*", ",", value)):
            problems.append(f"{os.path.basename(template_path)}: {name} is '{value}', not {form[1]}")
        return value

    def fill(node):
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        if isinstance(node, list):
            items = []
            for item in node:
                whole = PLACEHOLDER.fullmatch(item) if isinstance(item, str) else None
                if whole:
                    items.extend(part.strip() for part in value_of(whole.group(1)).split(",") if part.strip())
                else:
                    items.append(fill(item))
            return items
        if isinstance(node, str):
            return PLACEHOLDER.sub(lambda m: value_of(m.group(1)), node)
        return node

    rendered = fill(template)
    return rendered, sorted(set(problems))


def main():
    if len(sys.argv) != 2:
        print("usage: render.py TEMPLATE.json", file=sys.stderr)
        return 2
    rendered, problems = render(sys.argv[1])
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    json.dump(rendered, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
