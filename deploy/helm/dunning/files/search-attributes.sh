#!/bin/sh
# Creates the namespace and every custom search attribute of dunning/search_attributes.py, once, for
# compose and Helm alike. The worker adds missing ones itself at start, but a namespace may refuse
# that to a worker's credentials; this job runs with the admin tools. tests/test_deploy.py checks that
# the list below is exactly dunning.search_attributes.ALL, with the same types.
set -eu
NAMESPACE=${TEMPORAL_NAMESPACE:-default}

tries=0
wait_a_moment() {
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "$1 after 60 tries" >&2
    exit 1
  fi
  sleep 2
}

until temporal operator cluster health >/dev/null 2>&1; do
  wait_a_moment "Temporal at $TEMPORAL_ADDRESS is not healthy"
done

# Cases stay open for months; retention counts from a case's close: a closed case's history (the
# encrypted customer data) goes 30 days later. `dunning purge` must run more often than that: it records
# each closure before visibility forgets it (starter/retention.py). A namespace made by someone else
# (auto-setup's `default` keeps one day) is set to the same.
RETENTION=${TEMPORAL_NAMESPACE_RETENTION:-30d}
if temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  temporal operator namespace update --namespace "$NAMESPACE" --retention "$RETENTION"
else
  temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
fi

# A namespace just created reaches every frontend's cache some seconds later.
until existing=$(temporal operator search-attribute list --namespace "$NAMESPACE" 2>&1); do
  wait_a_moment "namespace $NAMESPACE is not served ($existing)"
done
add() {
  if printf '%s\n' "$existing" | grep -qw "$1"; then
    echo "search attribute $1 exists"
  else
    temporal operator search-attribute create --namespace "$NAMESPACE" --name "$1" --type "$2"
  fi
}
add DunningStage Keyword
add CustomerId Keyword
add Segment Keyword
add AmountDue Double
add DueDate Datetime
add OpenCallTasks KeywordList
add NextActionAt Datetime
add BalanceChangedAt Datetime
add PolicyVersion Keyword
