#!/usr/bin/env bash
# Deploy origin-region-agent as a Cloud Run job started by Cloud Scheduler.
#
#   PROJECT=my-project REGION=europe-west1 ./deploy.sh path/to/config.yaml path/to/cloudflare-token.txt
#
# Creates (idempotently): a service account for the job with read-only Compute access, a second one that Cloud
# Scheduler uses to start the job, the two secrets, the job (job.yaml) and the schedule.
set -euo pipefail

: "${PROJECT:?set PROJECT}"
: "${REGION:?set REGION}"
CONFIG_FILE=${1:?usage: deploy.sh CONFIG_FILE TOKEN_FILE}
TOKEN_FILE=${2:?usage: deploy.sh CONFIG_FILE TOKEN_FILE}
SCHEDULE=${SCHEDULE:-"*/30 * * * *"}
JOB=origin-region-agent
RUNNER_SA="${JOB}@${PROJECT}.iam.gserviceaccount.com"
INVOKER_SA="${JOB}-invoker@${PROJECT}.iam.gserviceaccount.com"
HERE=$(cd "$(dirname "$0")" && pwd)

gcloud config set project "$PROJECT" >/dev/null

# 1. Identities. The job's account reads public addresses (roles/compute.viewer); for folder or organisation-wide
#    discovery also grant roles/browser (resourcemanager.projects.list) on the folder or organisation.
gcloud iam service-accounts describe "$RUNNER_SA" >/dev/null 2>&1 \
  || gcloud iam service-accounts create "$JOB" --display-name="origin-region-agent job"
gcloud iam service-accounts describe "$INVOKER_SA" >/dev/null 2>&1 \
  || gcloud iam service-accounts create "${JOB}-invoker" --display-name="origin-region-agent scheduler"
gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:${RUNNER_SA}" \
  --role=roles/compute.viewer --condition=None >/dev/null

# 2. Secrets: the Cloudflare token, and the config file (Cloud Run mounts files only from Secret Manager).
for pair in "cloudflare-api-token:${TOKEN_FILE}" "origin-region-agent-config:${CONFIG_FILE}"; do
  name=${pair%%:*}
  file=${pair#*:}
  gcloud secrets describe "$name" >/dev/null 2>&1 || gcloud secrets create "$name" --replication-policy=automatic
  gcloud secrets versions add "$name" --data-file="$file" >/dev/null
  gcloud secrets add-iam-policy-binding "$name" --member="serviceAccount:${RUNNER_SA}" \
    --role=roles/secretmanager.secretAccessor >/dev/null
done

# 3. The job.
sed -e "s/PROJECT/${PROJECT}/g" -e "s/REGION/${REGION}/g" "$HERE/job.yaml" > "${TMPDIR:-/tmp}/${JOB}-job.yaml"
gcloud run jobs replace "${TMPDIR:-/tmp}/${JOB}-job.yaml" --region="$REGION"
gcloud run jobs add-iam-policy-binding "$JOB" --region="$REGION" \
  --member="serviceAccount:${INVOKER_SA}" --role=roles/run.invoker >/dev/null

# 4. The schedule: Cloud Scheduler calls the job's :run endpoint with an OAuth token of the invoker account.
URI="https://run.googleapis.com/v2/projects/${PROJECT}/locations/${REGION}/jobs/${JOB}:run"
if gcloud scheduler jobs describe "$JOB" --location="$REGION" >/dev/null 2>&1; then verb=update; else verb=create; fi
gcloud scheduler jobs "$verb" http "$JOB" --location="$REGION" --schedule="$SCHEDULE" --time-zone=Etc/UTC \
  --uri="$URI" --http-method=POST --oauth-service-account-email="$INVOKER_SA" \
  --oauth-token-scope=https://www.googleapis.com/auth/cloud-platform \
  --attempt-deadline=180s --max-retry-attempts=1

echo "deployed ${JOB} in ${PROJECT}/${REGION}, schedule '${SCHEDULE}'"
