//! `--set KNOB=VALUE` for `serve` and `proxy`: any list of values gives a configuration or an
//! error, never a panic; a server configuration that is accepted then serves a whole
//! conversation (an `ssmtp` client sending one message) in memory.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smtpsim::profile::ClientConfig;
use smtpsim::proto::client::Message;
use smtpsim::proto::Time;

#[derive(Arbitrary, Debug)]
struct Input {
    proxy: bool,
    preset: u8,
    set: Vec<String>,
}

fuzz_target!(|input: Input| {
    let set = &input.set[..input.set.len().min(8)];
    if input.proxy {
        let presets = smtpsim::profile::interceptor::PRESETS;
        let (name, _) = presets[usize::from(input.preset) % presets.len()];
        if let Err(e) = smtpsim::app::proxy_config(name, set) {
            assert!(!e.is_empty());
        }
        return;
    }
    let presets = smtpsim::profile::server::PRESETS;
    let (name, _) = presets[usize::from(input.preset) % presets.len()];
    let no_main_cf = smtpsim::cli::Postconf {
        postconf: None,
        strict: false,
    };
    match smtpsim::app::serve_config(name, set, &no_main_cf) {
        Err(e) => assert!(!e.is_empty()),
        Ok((server, _, _)) => {
            let message = Message {
                id: 0,
                from: "a@example.org".into(),
                to: vec!["b@example.org".into()],
                body: b"Subject: x\r\n\r\nhello\r\n".to_vec(),
                at: Time::ZERO,
            };
            smtpsim_fuzz::converse(
                ClientConfig::preset("ssmtp").unwrap(),
                vec![message],
                server,
            );
        }
    }
});
