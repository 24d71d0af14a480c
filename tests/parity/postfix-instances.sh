#!/usr/bin/env bash
# Starts (or stops) extra reference Postfix instances, one per main.cf in tests/parity/postconf/,
# each with its own config, queue and data directories under $SMTPSIM_INSTANCES (default
# /tmp/smtpsim-postfix), listening on loopback only, without error delays (as the diff port of
# start-postfix.sh). The system Postfix of start-postfix.sh is left alone. Local users bob and
# carol (created here if missing) are the mailboxes smtpsim's side is given.
#
#   postfix-instances.sh start   stock:10125 hardened:10126 relay:10127 (the default set)
#   postfix-instances.sh stop    [NAME...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base="${SMTPSIM_INSTANCES:-/tmp/smtpsim-postfix}"
export PATH="$PATH:/usr/sbin:/sbin"
default=(stock:10125 hardened:10126 relay:10127)

start_one() {
  local name="$1" port="$2" dir="$base/$1"
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
  cp "$here/postconf/$name.cf" "$dir/etc/main.cf"
  cat >> "$dir/etc/main.cf" <<CF

# Added by postfix-instances.sh: this instance's own directories and log.
config_directory = $dir/etc
queue_directory = $dir/queue
data_directory = $dir/data
syslog_name = postfix-$name
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
CF
  # Only the services smtpd needs, none chrooted; smtpd on its loopback port.
  { printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_error_sleep_time=0\n' "$port"
    cat "$here/postfix-services.cf"; } > "$dir/etc/master.cf"
  chown -R postfix "$dir/data"
  postfix -c "$dir/etc" check >/dev/null 2>&1 || true
  postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
  script -qec "postfix -c $dir/etc start" /dev/null >"$dir/start.log" 2>&1 || { cat "$dir/start.log" >&2; return 1; }
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "postfix instance $name did not start listening on 127.0.0.1:$port" >&2
  return 1
}

case "${1:-}" in
  start)
    shift
    for user in bob carol; do
      id "$user" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$user"
    done
    [ -f /etc/aliases ] || echo 'postmaster: root' > /etc/aliases
    [ -f /etc/aliases.db ] || newaliases
    for spec in "${@:-${default[@]}}"; do start_one "${spec%%:*}" "${spec##*:}"; done
    ;;
  stop)
    shift
    names=("$@")
    [ ${#names[@]} -gt 0 ] || names=("${default[@]%%:*}")
    for name in "${names[@]}"; do
      [ -d "$base/$name/etc" ] && postfix -c "$base/$name/etc" stop >/dev/null 2>&1 || true
    done
    ;;
  *)
    echo "usage: $0 start [NAME:PORT...] | stop [NAME...]" >&2
    exit 2
    ;;
esac
