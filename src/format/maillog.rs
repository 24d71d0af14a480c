//! The server's side as Postfix 3.7 logs it (`--format maillog`): syslog lines stamped with
//! the time since the start from the fixed epoch, one smtpd process per server connection,
//! cleanup, qmgr and local for each queued message. With `verbose`, also the dialogue lines
//! `smtpd -v` adds (`< CLIENT: COMMAND`, `> CLIENT: REPLY`), as in the origin story.

use crate::proto::date::{civil_from_days, MONTHS};
use crate::proto::maillog::LogRecord;
use crate::transcript::{Event, EventKind};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// Process ids of the long-running daemons (smtpd's are `SMTPD_PID_BASE` + connection).
const QMGR_PID: u32 = 950;
const CLEANUP_PID: u32 = 960;
const LOCAL_PID: u32 = 970;
const SMTPD_PID_BASE: u32 = 1000;

/// How a client is named in `NAME[ADDRESS]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// The simulation: hosts are named by their role.
    Roles,
    /// Real sockets: no reverse lookups, so `localhost` for loopback and `unknown` otherwise,
    /// as Postfix logs a client without a name.
    Addresses,
}

/// Turns a run's (or a live server's) events into log lines, one event at a time.
#[derive(Debug)]
pub struct Maillog {
    verbose: bool,
    naming: Naming,
    epoch_secs: u64,
    conns: BTreeMap<u32, Conn>,
}

#[derive(Debug)]
struct Conn {
    /// `NAME[ADDRESS]`.
    client: String,
    /// The server's name (its first label is the syslog host field).
    host: String,
    /// Loopback clients get the headers Postfix adds for local clients (Message-Id).
    local_client: bool,
}

impl Maillog {
    /// A log for events from the start of a run; `verbose` adds the `smtpd -v` dialogue lines.
    pub fn new(verbose: bool, naming: Naming) -> Maillog {
        Maillog {
            verbose,
            naming,
            epoch_secs: crate::sim::EPOCH_SECS,
            conns: BTreeMap::new(),
        }
    }

    /// The log lines (each ending in a newline) an event gives.
    pub fn event(&mut self, e: &Event) -> String {
        let mut out = String::new();
        match &e.kind {
            EventKind::Log(record @ LogRecord::Connect { client, server }) => {
                let ip = client.as_str();
                let local_client = ip
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|a| a.is_loopback());
                let name = match self.naming {
                    Naming::Roles => e.to.clone(),
                    Naming::Addresses if local_client => "localhost".to_string(),
                    Naming::Addresses => "unknown".to_string(),
                };
                let conn = Conn {
                    client: format!("{name}[{ip}]"),
                    host: server.clone(),
                    local_client,
                };
                self.conns.insert(e.conn, conn);
                self.record(&mut out, e, record);
            }
            EventKind::Log(record) => self.record(&mut out, e, record),
            _ => {}
        }
        out
    }

    fn record(&mut self, out: &mut String, e: &Event, record: &LogRecord) {
        let conn = self.conns.get(&e.conn);
        let context = Context {
            client: self.client(e),
            now: e.at,
            local_client: conn.is_some_and(|c| c.local_client),
            host: conn.map_or(String::new(), |c| c.host.clone()),
        };
        for (program, text) in messages(record, &context, self.verbose, |at| {
            self.clock(at, "%Y%m%d%H%M%S")
        }) {
            self.line(out, e, program, &text);
        }
    }

    fn client(&self, e: &Event) -> String {
        self.conns
            .get(&e.conn)
            .map_or_else(|| format!("{}[unknown]", e.to), |c| c.client.clone())
    }

    /// One syslog line: `Mon dd hh:mm:ss HOST postfix/PROGRAM[PID]: TEXT`.
    fn line(&self, out: &mut String, e: &Event, program: &str, text: &str) {
        let host = self
            .conns
            .get(&e.conn)
            .map_or("localhost", |c| c.host.split('.').next().unwrap_or(&c.host));
        let pid = match program {
            "qmgr" => QMGR_PID,
            "cleanup" => CLEANUP_PID,
            "local" => LOCAL_PID,
            _ => SMTPD_PID_BASE + e.conn,
        };
        let stamp = self.clock(e.at, "%b %e %H:%M:%S");
        let _ = writeln!(out, "{stamp} {host} postfix/{program}[{pid}]: {text}");
    }

    /// The time `at` after the epoch in a (tiny) strftime subset: `%b %e %Y %m %d %H %M %S`.
    fn clock(&self, at: Duration, pattern: &str) -> String {
        let secs = self.epoch_secs + at.as_secs();
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
        pattern
            .replace("%b", MONTHS[(month - 1) as usize])
            .replace("%e", &format!("{day:>2}"))
            .replace("%Y", &year.to_string())
            .replace("%m", &format!("{month:02}"))
            .replace("%d", &format!("{day:02}"))
            .replace("%H", &format!("{h:02}"))
            .replace("%M", &format!("{m:02}"))
            .replace("%S", &format!("{s:02}"))
    }
}

/// The whole run's server log.
pub fn render(result: &crate::sim::RunResult, verbose: bool) -> String {
    let mut log = Maillog::new(verbose, Naming::Roles);
    result.events.iter().map(|e| log.event(e)).collect()
}

/// A live printer: each event's log lines on stdout as it happens.
pub fn printer(verbose: bool) -> crate::transcript::Tap {
    let mut log = Maillog::new(verbose, Naming::Addresses);
    Box::new(move |event: &Event| {
        let text = log.event(event);
        if !text.is_empty() {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        }
    })
}

/// What a record says, as `postfix/PROGRAM: TEXT` lines, for formats that show events one
/// at a time (JSON); `client` names the client. Empty for the `smtpd -v` dialogue lines.
pub fn describe(record: &LogRecord, client: &str, at: Duration) -> Vec<String> {
    let context = Context {
        client: client.to_string(),
        now: at,
        local_client: false,
        host: String::new(),
    };
    let epoch = Maillog::new(false, Naming::Roles);
    messages(record, &context, false, |at| {
        epoch.clock(at, "%Y%m%d%H%M%S")
    })
    .into_iter()
    .map(|(program, text)| format!("postfix/{program}: {text}"))
    .collect()
}

/// What a record's lines need to know about its connection.
struct Context {
    /// `NAME[ADDRESS]`.
    client: String,
    /// When the record was made.
    now: Duration,
    /// A loopback client (Postfix adds a Message-Id to its mail).
    local_client: bool,
    /// The server's name, for a Message-Id Postfix makes.
    host: String,
}

/// The (program, text) lines of one record.
/// `stamp`: a time as `YYYYMMDDhhmmss`.
fn messages(
    record: &LogRecord,
    c: &Context,
    verbose: bool,
    stamp: impl Fn(Duration) -> String,
) -> Vec<(&'static str, String)> {
    let client = &c.client;
    let smtpd = |text: String| vec![("smtpd", text)];
    match record {
        LogRecord::Connect { .. } => smtpd(format!("connect from {client}")),
        LogRecord::Command(line) if verbose => smtpd(format!("< {client}: {line}")),
        LogRecord::Reply(line) if verbose => smtpd(format!("> {client}: {line}")),
        LogRecord::Command(_) | LogRecord::Reply(_) => Vec::new(),
        LogRecord::RequestTooLong { limit, head } => smtpd(format!(
            "warning: {client}: request longer than {limit}: {head}..."
        )),
        LogRecord::ImproperPipelining { after, pending } => smtpd(format!(
            "improper command pipelining after {after} from {client}: {pending}"
        )),
        LogRecord::NonSmtp(line) => {
            smtpd(format!("warning: non-SMTP command from {client}: {line}"))
        }
        LogRecord::QueueOpened(id) => smtpd(format!("{id}: client={client}")),
        LogRecord::Reject {
            queue_id,
            stage,
            reply,
            from,
            to,
            protocol,
            helo,
        } => {
            let mut text = format!(
                "{}: reject: {stage} from {client}: {reply};",
                queue_id.as_deref().unwrap_or("NOQUEUE")
            );
            if let Some(from) = from {
                let _ = write!(text, " from=<{from}>");
            }
            if let Some(to) = to {
                let _ = write!(text, " to=<{to}>");
            }
            let _ = write!(text, " proto={protocol}");
            if let Some(helo) = helo {
                let _ = write!(text, " helo=<{helo}>");
            }
            smtpd(text)
        }
        LogRecord::EtrnRefused(domain) => {
            smtpd(format!("warning: reject: ETRN {domain}... from {client}"))
        }
        LogRecord::IllegalAddress { command, argument } => smtpd(format!(
            "warning: Illegal address syntax from {client} in {command} command: {argument}"
        )),
        LogRecord::UnknownNotify { value, list } => smtpd(format!(
            "warning: unknown DSN NOTIFY command value \"{value}\" in \"{list}\""
        )),
        LogRecord::BdatWarning { queue_id, warning } => smtpd(format!(
            "warning: {}: {}",
            queue_id.as_deref().unwrap_or("NOQUEUE"),
            warning.text(client)
        )),
        LogRecord::MessageId {
            queue_id: id,
            opened,
            message_id,
        } => {
            // Postfix adds a Message-Id only to mail from local clients; others log `<>`.
            let message_id = match message_id {
                Some(m) => m.clone(),
                None if c.local_client => format!("<{}.{id}@{}>", stamp(*opened), c.host),
                None => "<>".to_string(),
            };
            vec![("cleanup", format!("{id}: message-id={message_id}"))]
        }
        LogRecord::Queued {
            queue_id: id,
            opened,
            from,
            size,
            to,
        } => {
            let mut lines = vec![(
                "qmgr",
                format!(
                    "{id}: from=<{from}>, size={size}, nrcpt={} (queue active)",
                    to.len()
                ),
            )];
            let delay = pretty_delay(c.now.saturating_sub(*opened));
            for rcpt in to {
                lines.push((
                    "local",
                    format!(
                        "{id}: to=<{rcpt}>, relay=local, delay={delay}, delays={delay}/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)"
                    ),
                ));
            }
            lines.push(("qmgr", format!("{id}: removed")));
            lines
        }
        LogRecord::Ended {
            reason,
            after,
            bytes,
        } => {
            let bytes = bytes.map(|b| format!(" ({b} bytes)")).unwrap_or_default();
            smtpd(format!("{reason} after {after}{bytes} from {client}"))
        }
        LogRecord::Disconnect(summary) => smtpd(format!("disconnect from {client}{summary}")),
    }
}

/// A delay as Postfix prints it: two significant digits, at most two decimals, no trailing
/// zeros (`format_tv` with `delay_logging_resolution_limit = 2`).
pub fn pretty_delay(d: Duration) -> String {
    const MILLION: u64 = 1_000_000;
    const SIG_DIGITS: u32 = 2;
    const MAX_DECIMALS: u32 = 2;
    let (mut sec, mut usec) = (d.as_secs(), u64::from(d.subsec_micros()));
    let mut resolution = MILLION / 10u64.pow(MAX_DECIMALS);
    let width = 10u64.pow(SIG_DIGITS);
    if sec > 0 {
        let mut n = 1;
        while sec >= n && n <= width / 10 {
            n *= 10;
        }
        resolution = (MILLION / width) * n;
    } else {
        while usec >= width * resolution {
            resolution *= 10;
        }
    }
    if resolution > 1 {
        usec += resolution / 2;
        if usec >= MILLION {
            sec += 1;
            usec -= MILLION;
        }
    }
    let mut out = sec.to_string();
    if usec >= resolution {
        out.push('.');
        let (mut rest, mut n) = (usec, MILLION / 10);
        while rest >= resolution && n > 0 {
            out.push(char::from(b'0' + (rest / n) as u8));
            rest %= n;
            n /= 10;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_print_like_postfix() {
        let ms = Duration::from_millis;
        assert_eq!(pretty_delay(ms(0)), "0");
        assert_eq!(pretty_delay(ms(4)), "0");
        assert_eq!(pretty_delay(ms(5)), "0.01");
        assert_eq!(pretty_delay(ms(49)), "0.05");
        assert_eq!(pretty_delay(ms(123)), "0.12");
        assert_eq!(pretty_delay(ms(1_234)), "1.2");
        assert_eq!(pretty_delay(ms(11_049)), "11");
        assert_eq!(pretty_delay(ms(129_900)), "130");
    }

    #[test]
    fn the_epoch_is_new_year_2026() {
        let log = Maillog::new(false, Naming::Roles);
        assert_eq!(
            log.clock(Duration::ZERO, "%b %e %H:%M:%S"),
            "Jan  1 00:00:00"
        );
        assert_eq!(
            log.clock(Duration::from_secs(86_400 * 59 + 3_661), "%Y%m%d%H%M%S"),
            "20260301010101"
        );
    }
}
