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

# Every AWS call goes through here. AWS_ENDPOINT_URL sends them all to one endpoint instead of AWS's
# (LocalStack, or the tests' loopback stand-in); AWS CLI 2.13 and later read it themselves, older ones
# need the flag.
call_aws() {
    aws ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} "$@"
}

# Silos before gateways: a new gateway may call grain methods only new silos have, while old gateways
# keep working against new silos (renamed grain methods keep their old aliases).
roles=(silo gateway)

# Writes each role's task definition, its service as created, and the same service as an update of an
# existing one (update-service takes no launch type, tags or desired count, and names the service "service").
render_all() {
    local out="$1" failed=0
    mkdir -p "$out"
    for role in "${roles[@]}"; do
        for kind in task service; do
            python3 "$here/render.py" "$here/$role.$kind.json" >"$out/$role.$kind.json" || failed=1
        done
        [ "$failed" -eq 0 ] && python3 - "$out/$role.service.json" >"$out/$role.service-update.json" <<'PY'
import json, sys
service = json.load(open(sys.argv[1]))
kept = ["cluster", "taskDefinition", "deploymentConfiguration", "networkConfiguration", "platformVersion",
        "healthCheckGracePeriodSeconds", "loadBalancers", "enableExecuteCommand", "propagateTags"]
update = {"service": service["serviceName"], **{key: service[key] for key in kept if key in service}}
json.dump(update, sys.stdout, indent=2)
print()
PY
    done
    return "$failed"
}

scale() {
    local service="$1" min max target
    read -r min max target < <(python3 -c 'import json, sys; s = json.load(open(sys.argv[1]))[sys.argv[2]]; print(s["min"], s["max"], s["targetCpuPercent"])' \
        "$here/scaling.json" "$service")
    call_aws application-autoscaling register-scalable-target --service-namespace ecs \
        --scalable-dimension ecs:service:DesiredCount --resource-id "service/$ECS_CLUSTER/$service" \
        --min-capacity "$min" --max-capacity "$max" >/dev/null
    call_aws application-autoscaling put-scaling-policy --service-namespace ecs \
        --scalable-dimension ecs:service:DesiredCount --resource-id "service/$ECS_CLUSTER/$service" \
        --policy-name "$service-cpu" --policy-type TargetTrackingScaling \
        --target-tracking-scaling-policy-configuration \
        "{\"TargetValue\": $target, \"PredefinedMetricSpecification\": {\"PredefinedMetricType\": \"ECSServiceAverageCPUUtilization\"}, \"ScaleOutCooldown\": 60, \"ScaleInCooldown\": 300}" >/dev/null
}

# The rendered files live here during a deploy; global, so the exit trap still sees it.
out=""

deploy() {
    command -v aws >/dev/null || { echo "deploy needs the AWS CLI (aws) on PATH" >&2; exit 2; }
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
    render_all "$out" || exit 2

    for role in "${roles[@]}"; do
        local service="ticketqueue-$role" group="/ecs/ticketqueue/$role" groups arn status rollout
        groups="$(call_aws logs describe-log-groups --log-group-name-prefix "$group" --query 'logGroups[].logGroupName' --output text)"
        tr '\t' '\n' <<<"$groups" | grep -qx "$group" || call_aws logs create-log-group --log-group-name "$group"
        call_aws logs put-retention-policy --log-group-name "$group" --retention-in-days 7

        arn="$(call_aws ecs register-task-definition --cli-input-json "file://$out/$role.task.json" \
            --query taskDefinition.taskDefinitionArn --output text)"
        echo "$service: registered $arn"

        # A service that never existed, or was deleted long ago, reads as None (or INACTIVE); any error
        # reading it (throttling, permissions) stops the script here.
        status="$(call_aws ecs describe-services --cluster "$ECS_CLUSTER" --services "$service" \
            --query 'services[0].status' --output text)"
        case "$status" in
            ACTIVE)
                # Network, deployment and load balancer settings follow the file; the desired count is
                # left alone: the scaling policy owns it once the service exists.
                call_aws ecs update-service --cli-input-json "file://$out/$role.service-update.json" --task-definition "$arn" >/dev/null
                ;;
            None | INACTIVE)
                call_aws ecs create-service --cli-input-json "file://$out/$role.service.json" --task-definition "$arn" >/dev/null
                ;;
            *)
                echo "$service is $status: wait until it is deleted (DRAINING ends as INACTIVE), then deploy again" >&2
                exit 1
                ;;
        esac

        echo "$service: waiting until the new tasks are running and healthy"
        call_aws ecs wait services-stable --cluster "$ECS_CLUSTER" --services "$service"
        # A rollback by the circuit breaker also ends stable, on the old revision: that is a failed deploy.
        read -r rollout < <(call_aws ecs describe-services --cluster "$ECS_CLUSTER" --services "$service" \
            --query "services[0].deployments[?status=='PRIMARY'] | [0].[taskDefinition, rolloutState]" --output text | tr '\t' ' ')
        if [ "$rollout" != "$arn COMPLETED" ]; then
            echo "$service did not roll out $arn: its primary deployment is '$rollout' (rolled back?)" >&2
            exit 1
        fi

        scale "$service"
        echo "$service: stable on $arn"
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
