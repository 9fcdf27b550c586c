#!/usr/bin/env bash
# Deploy origin-region-agent as a Cloud Run job started by Cloud Scheduler.
#
#   PROJECT=my-project REGION=europe-west1 IMAGE=europe-west1-docker.pkg.dev/my-project/origin-region-agent/origin-region-agent@sha256:... \
#     ./deploy.sh path/to/config.yaml path/to/cloudflare-token.txt
#
# Creates (idempotently): a service account for the job with read-only Compute access, a second one that Cloud
# Scheduler uses to start the job, the two secrets, the job (job.yaml) and the schedule.
#
# Every gcloud call names the project with --project: the script never changes your gcloud configuration.
# job.yaml is rendered by replacing the exact tokens ${PROJECT}, ${REGION} and ${IMAGE}, nothing else.
set -euo pipefail

: "${PROJECT:?set PROJECT}"
: "${REGION:?set REGION}"
CONFIG_FILE=${1:?usage: deploy.sh CONFIG_FILE TOKEN_FILE}
TOKEN_FILE=${2:?usage: deploy.sh CONFIG_FILE TOKEN_FILE}
SCHEDULE=${SCHEDULE:-"*/30 * * * *"}
JOB=origin-region-agent
HERE=$(cd "$(dirname "$0")" && pwd)
VERSION=$(cat "$HERE/../../agent/VERSION" 2>/dev/null || echo latest)
# Pin a digest in production (IMAGE=...@sha256:...); the default is the tag built by the README's steps.
IMAGE=${IMAGE:-"${REGION}-docker.pkg.dev/${PROJECT}/origin-region-agent/origin-region-agent:${VERSION}-gcp"}
RUNNER_SA="${JOB}@${PROJECT}.iam.gserviceaccount.com"
INVOKER_SA="${JOB}-invoker@${PROJECT}.iam.gserviceaccount.com"

for file in "$CONFIG_FILE" "$TOKEN_FILE"; do
  [ -r "$file" ] || { echo "deploy.sh: cannot read $file" >&2; exit 2; }
done

gc() { gcloud --project="$PROJECT" --quiet "$@"; }

# 1. Identities. The job's account reads public addresses (roles/compute.viewer); for folder or organisation-wide
#    discovery also grant roles/browser (resourcemanager.projects.list) on the folder or organisation.
gc iam service-accounts describe "$RUNNER_SA" >/dev/null 2>&1 \
  || gc iam service-accounts create "$JOB" --display-name="origin-region-agent job"
gc iam service-accounts describe "$INVOKER_SA" >/dev/null 2>&1 \
  || gc iam service-accounts create "${JOB}-invoker" --display-name="origin-region-agent scheduler"
gc projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:${RUNNER_SA}" \
  --role=roles/compute.viewer --condition=None >/dev/null

# 2. Secrets: the Cloudflare token, and the config file (Cloud Run mounts files only from Secret Manager).
for pair in "cloudflare-api-token:${TOKEN_FILE}" "origin-region-agent-config:${CONFIG_FILE}"; do
  name=${pair%%:*}
  file=${pair#*:}
  gc secrets describe "$name" >/dev/null 2>&1 || gc secrets create "$name" --replication-policy=automatic
  gc secrets versions add "$name" --data-file="$file" >/dev/null
  gc secrets add-iam-policy-binding "$name" --member="serviceAccount:${RUNNER_SA}" \
    --role=roles/secretmanager.secretAccessor >/dev/null
done

# 3. The job: exact-token substitution (a sed over bare words would also rewrite e.g. ORIGIN_REGION_AGENT_CONFIG).
rendered=$(mktemp "${TMPDIR:-/tmp}/${JOB}-job.XXXXXX.yaml")
trap 'rm -f "$rendered"' EXIT
template=$(<"$HERE/job.yaml")
template=${template//'${PROJECT}'/$PROJECT}
template=${template//'${REGION}'/$REGION}
template=${template//'${IMAGE}'/$IMAGE}
if [[ $template == *'${'* ]]; then
  echo "deploy.sh: job.yaml still holds an unknown \${...} placeholder" >&2
  exit 2
fi
printf '%s\n' "$template" > "$rendered"
gc run jobs replace "$rendered" --region="$REGION"
gc run jobs add-iam-policy-binding "$JOB" --region="$REGION" \
  --member="serviceAccount:${INVOKER_SA}" --role=roles/run.invoker >/dev/null

# 4. The schedule: Cloud Scheduler calls the job's :run endpoint with an OAuth token of the invoker account.
URI="https://run.googleapis.com/v2/projects/${PROJECT}/locations/${REGION}/jobs/${JOB}:run"
if gc scheduler jobs describe "$JOB" --location="$REGION" >/dev/null 2>&1; then verb=update; else verb=create; fi
gc scheduler jobs "$verb" http "$JOB" --location="$REGION" --schedule="$SCHEDULE" --time-zone=Etc/UTC \
  --uri="$URI" --http-method=POST --oauth-service-account-email="$INVOKER_SA" \
  --oauth-token-scope=https://www.googleapis.com/auth/cloud-platform \
  --attempt-deadline=180s --max-retry-attempts=1

echo "deployed ${JOB} in ${PROJECT}/${REGION} (image ${IMAGE}), schedule '${SCHEDULE}'"
