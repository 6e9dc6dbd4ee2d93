#!/bin/sh
# A synchronous proxy reload for meshcp-dp --reload-command. `nginx -s reload` and HAProxy's SIGUSR2 only *ask*
# the master process to reload and return at once; meshcp-dp must not acknowledge a bundle before the proxy uses it.
# This signals the master, then waits until every worker that existed before has exited: from then on, every
# connection is served by workers that loaded the new files. A reload the proxy rejects (bad files) leaves the old
# workers running, so the script fails after the timeout and meshcp-dp keeps acknowledging what the proxy holds.
#
#   usage: reload-and-wait.sh <master pid file> <signal> [timeout seconds, default 10]
#   nginx:            reload-and-wait.sh /run/nginx.pid HUP
#   HAProxy (-W/-Ws): reload-and-wait.sh /run/haproxy.pid USR2
set -eu
pid_file=$1
signal=$2
timeout=${3:-10}
master=$(cat "$pid_file")
workers() { ps -o pid= --ppid "$master" | tr -s ' \n' ' '; }
old=$(workers)
kill -s "$signal" "$master"
deadline=$(( $(date +%s) + timeout ))
while :; do
  left=""
  for pid in $old; do
    # A worker that exited but was not reaped yet is a zombie: it no longer serves anything.
    state=$(ps -o stat= -p "$pid" 2>/dev/null || true)
    case "$state" in "" | Z*) ;; *) left="$left $pid" ;; esac
  done
  if [ -z "$left" ] && [ -n "$(workers)" ]; then exit 0; fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "reload of $master ($pid_file, SIG$signal) not done after ${timeout}s: old workers still running:$left" >&2
    exit 1
  fi
  sleep 0.05
done
