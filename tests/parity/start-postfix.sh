#!/usr/bin/env bash
# Starts Debian's Postfix on 127.0.0.1:10025 (and 10026 without error delays, for smtpsim diff) as the reference the postfix profile follows:
# default smtpd settings, myhostname mail.example.org, local domain example.org, local users
# bob and carol, and an empty mynetworks, so that the loopback client is an untrusted remote
# client like the simulated one. Its log goes to /var/log/postfix.log. Loopback only. Stop it
# with: postfix stop
set -euo pipefail
for user in bob carol; do
  id "$user" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$user"
done
cat > /etc/postfix/main.cf <<'CF'
compatibility_level = 3.6
myhostname = mail.example.org
mydomain = example.org
myorigin = $mydomain
mydestination = $myhostname, localhost, example.org
mynetworks =
inet_interfaces = loopback-only
inet_protocols = ipv4
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no
append_dot_mydomain = no
readme_directory = no
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem
smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key
smtpd_tls_security_level = may
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
# The log tests/maillog.rs compares `smtpsim serve --format maillog` with (postlogd writes it).
maillog_file = /var/log/postfix.log
CF
# Only the smtpd we test, on a loopback port of its own.
sed -i -E 's/^smtp( +)inet( +)n( +)-( +)y/127.0.0.1:10025 inet n - n/' /etc/postfix/master.cf
grep -q '^127.0.0.1:10025' /etc/postfix/master.cf || echo '127.0.0.1:10025 inet n - n - - smtpd' >> /etc/postfix/master.cf
# The same smtpd for differential testing (smtpsim diff), without the error delays: the soft
# and hard error limits still apply, only smtpd_error_sleep_time is 0, so that thousands of
# generated sessions with errors in them run fast. smtpsim diff configures its side alike.
grep -q '^127.0.0.1:10026' /etc/postfix/master.cf || printf '%s\n' '127.0.0.1:10026 inet n - n - - smtpd' '  -o smtpd_error_sleep_time=0' >> /etc/postfix/master.cf
[ -f /etc/aliases ] || echo 'postmaster: root' > /etc/aliases
newaliases
postfix check || true
postfix start 2>/dev/null || postfix reload
for _ in $(seq 1 50); do
  (exec 3<>/dev/tcp/127.0.0.1/10025) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/10026) 2>/dev/null && exit 0
  sleep 0.1
done
echo "postfix did not start listening on 127.0.0.1:10025 and 10026" >&2
exit 1
