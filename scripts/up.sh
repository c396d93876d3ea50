#!/usr/bin/env bash
# `make up`: airflow standalone in the foreground until Ctrl-C (or SIGTERM), then stopped for good.
#
# Standalone runs in a process group of its own (job control) so that it gets SIGINT from us, not a
# Ctrl-C it may ignore; on 2 cores its scheduler has been seen hanging in shutdown, so whatever of the
# group is still alive 30 s after SIGINT is killed. Expects the environment of scripts/airflow_env.sh.
set -uo pipefail
set -m

# The source pools must exist before the scheduler queues a source task (it never runs one whose pool is
# missing): the metadata database is migrated first (standalone would do it too) and the pools set.
airflow db migrate > /dev/null || exit 1
python -m citygov_airflow.pools || exit 1

airflow standalone &
group=$!

alive() {  # any process of the group that is not a zombie
  ps -eo pgid=,stat= | awk -v g="$group" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

stop() {
  trap - INT TERM
  echo "stopping airflow standalone…" >&2
  kill -INT -- "-$group" 2>/dev/null
  for _ in $(seq 30); do
    alive || { wait "$group" 2>/dev/null; exit 0; }
    sleep 1
  done
  echo "airflow standalone did not stop within 30 s; killing what is left of it" >&2
  kill -KILL -- "-$group" 2>/dev/null
  wait "$group" 2>/dev/null
  exit 0
}

trap stop INT TERM
wait "$group"
