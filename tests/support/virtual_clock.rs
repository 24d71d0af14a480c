//! A sans-IO session driven by hand on a virtual clock, as the proto tests drive the client,
//! server, interceptor and script sessions: take every event due now, then move the clock to
//! the session's next timer while it falls within the limit.

#![allow(dead_code)]

use smtpsim::proto::client::{ClientEvent, ClientProtocol, ClientSession};
use smtpsim::proto::interceptor::{InterceptorEvent, InterceptorSession};
use smtpsim::proto::script::ScriptSession;
use smtpsim::proto::server::{ServerEvent, ServerSession};
use std::time::Duration;

/// The three calls every session answers, whatever its events.
pub trait Timed {
    type Event;
    fn poll_event(&mut self, now: Duration) -> Option<Self::Event>;
    fn poll_timeout(&self) -> Option<Duration>;
    fn handle_timeout(&mut self, now: Duration);
}

/// Takes every event due, firing the session's timers up to and including `until` (`now`
/// moves with them); each event rendered by `render` (given the time; `None` or an empty list:
/// left out) into lines, each with its time.
pub fn settle_until<S: Timed, Lines: IntoIterator<Item = String>>(
    session: &mut S,
    now: &mut Duration,
    until: Duration,
    mut render: impl FnMut(Duration, S::Event) -> Lines,
) -> Vec<(Duration, String)> {
    let mut out = Vec::new();
    loop {
        while let Some(event) = session.poll_event(*now) {
            let at = *now;
            out.extend(render(at, event).into_iter().map(|text| (at, text)));
        }
        match session.poll_timeout() {
            Some(at) if at <= until => {
                *now = (*now).max(at);
                session.handle_timeout(*now);
            }
            _ => return out,
        }
    }
}

/// `Timed` for each session type, through the methods of `$via` (the type itself, or the
/// `ClientProtocol` trait for the client sessions).
macro_rules! timed {
    ($($session:ty => $event:ty, $via:ident;)*) => {$(
        impl Timed for $session {
            type Event = $event;
            fn poll_event(&mut self, now: Duration) -> Option<$event> {
                $via::poll_event(self, now)
            }
            fn poll_timeout(&self) -> Option<Duration> {
                $via::poll_timeout(self)
            }
            fn handle_timeout(&mut self, now: Duration) {
                $via::handle_timeout(self, now)
            }
        }
    )*};
}
timed! {
    InterceptorSession => InterceptorEvent, InterceptorSession;
    ServerSession => ServerEvent, ServerSession;
    ClientSession => ClientEvent, ClientProtocol;
    ScriptSession => ClientEvent, ClientProtocol;
}
