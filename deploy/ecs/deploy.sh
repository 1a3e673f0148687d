#!/usr/bin/env bash
# Deploys TicketQueue to AWS ECS (Fargate): the silos first, then the gateways. See deploy/ecs/README.md.
#
#   deploy/ecs/deploy.sh render OUT_DIR   fill the templates into OUT_DIR and stop (no AWS call)
#   deploy/ecs/deploy.sh deploy           register the task definitions, create or update both services,
#                                         wait until each is stable, and set their CPU-based scaling
#
# The templates' placeholders come from the environment (the README lists them); unset or malformed
# ones stop the script before anything changes, each named on its own line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

export AWS_REGION="${AWS_REGION:-ap-northeast-2}"
export ECS_CLUSTER="${ECS_CLUSTER:-ticketqueue}"
export CLUSTER_ID="${CLUSTER_ID:-ticketqueue}"
export PARAMETER_PATH="${PARAMETER_PATH:-/ticketqueue}"
export VPC_CIDR="${VPC_CIDR:-10.0.0.0/16}"
if [ -z "${IMAGE_REGISTRY:-}" ] && [ -n "${AWS_ACCOUNT_ID:-}" ]; then
    export IMAGE_REGISTRY="$AWS_ACCOUNT_ID.dkr.ecr.$AWS_REGION.amazonaws.com"
fi

# Silos before gateways: a new gateway may call grain methods only new silos have, while old gateways
# keep working against new silos (renamed grain methods keep their old aliases).
roles=(silo gateway)

render_all() {
    local out="$1" failed=0
    mkdir -p "$out"
    for role in "${roles[@]}"; do
        for kind in task service; do
            python3 "$here/render.py" "$here/$role.$kind.json" >"$out/$role.$kind.json" || failed=1
        done
    done
    return "$failed"
}

scale() {
    local service="$1" min max target
    read -r min max target < <(python3 -c 'import json, sys; s = json.load(open(sys.argv[1]))[sys.argv[2]]; print(s["min"], s["max"], s["targetCpuPercent"])' \
        "$here/scaling.json" "$service")
    aws application-autoscaling register-scalable-target --service-namespace ecs \
        --scalable-dimension ecs:service:DesiredCount --resource-id "service/$ECS_CLUSTER/$service" \
        --min-capacity "$min" --max-capacity "$max" >/dev/null
    aws application-autoscaling put-scaling-policy --service-namespace ecs \
        --scalable-dimension ecs:service:DesiredCount --resource-id "service/$ECS_CLUSTER/$service" \
        --policy-name "$service-cpu" --policy-type TargetTrackingScaling \
        --target-tracking-scaling-policy-configuration \
        "{\"TargetValue\": $target, \"PredefinedMetricSpecification\": {\"PredefinedMetricType\": \"ECSServiceAverageCPUUtilization\"}, \"ScaleOutCooldown\": 60, \"ScaleInCooldown\": 300}" >/dev/null
}

deploy() {
    command -v aws >/dev/null || { echo "deploy needs the AWS CLI (aws) on PATH" >&2; exit 2; }
    local out
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
    render_all "$out" || exit 2

    for role in "${roles[@]}"; do
        local service="ticketqueue-$role" group="/ecs/ticketqueue/$role" arn status
        aws logs create-log-group --log-group-name "$group" 2>/dev/null || true
        aws logs put-retention-policy --log-group-name "$group" --retention-in-days 7

        arn="$(aws ecs register-task-definition --cli-input-json "file://$out/$role.task.json" \
            --query taskDefinition.taskDefinitionArn --output text)"
        echo "$service: registered $arn"

        status="$(aws ecs describe-services --cluster "$ECS_CLUSTER" --services "$service" \
            --query 'services[0].status' --output text 2>/dev/null || echo MISSING)"
        if [ "$status" = ACTIVE ]; then
            # The desired count is left alone: the scaling policy owns it once the service exists.
            aws ecs update-service --cluster "$ECS_CLUSTER" --service "$service" --task-definition "$arn" >/dev/null
        else
            aws ecs create-service --cli-input-json "file://$out/$role.service.json" --task-definition "$arn" >/dev/null
        fi

        echo "$service: waiting until the new tasks are running and healthy"
        aws ecs wait services-stable --cluster "$ECS_CLUSTER" --services "$service"
        scale "$service"
        echo "$service: stable"
    done
}

case "${1:-}" in
    render)
        [ $# -eq 2 ] || { echo "usage: $0 render OUT_DIR" >&2; exit 2; }
        render_all "$2" || exit 2
        ;;
    deploy)
        deploy
        ;;
    *)
        echo "usage: $0 render OUT_DIR | deploy" >&2
        exit 2
        ;;
esac
