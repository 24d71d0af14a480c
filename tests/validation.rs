//! Mistakes refused by name (exit 2): type errors from a scenario or `--set` name the knob, its
//! form and an example; invalid reply templates; knobs with no effect given the others.

#[path = "support/bin.rs"]
mod bin;

/// `smtpsim ARGS...`: (exit code, stderr).
fn smtpsim(args: &[&str]) -> (i32, String) {
    let (code, _, stderr) = bin::smtpsim(args);
    (code, stderr)
}

/// Runs a scenario whose `[interceptor]` and `[server]` tables hold `interceptor` and `server`;
/// returns the exit code and stderr.
fn run_with(name: &str, interceptor: &str, server: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("smtpsim-validation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        "name = \"{name}\"\n[[client.message]]\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\n\
         body = \"x\"\n[interceptor]\n{interceptor}\n[server]\n{server}\n"
    );
    std::fs::write(&path, text).unwrap();
    smtpsim(&["run", path.to_str().unwrap()])
}

fn refused(name: &str, interceptor: &str, server: &str, expected: &str) {
    let (code, err) = run_with(name, interceptor, server);
    assert_eq!(code, 2, "{name}: {err}");
    assert!(
        err.contains(expected),
        "{name}: expected {expected:?} in:\n{err}"
    );
}

#[test]
fn type_errors_in_a_scenario_name_the_knob_its_form_and_an_example() {
    refused(
        "scan-delay-integer",
        "profile = \"symantec-rset\"\nscan_delay = 10",
        "",
        "scan-delay-integer.toml:8:14: scan_delay: a duration such as \"30s\" (units ms, s, m, h, d, w); found integer `10`",
    );
    refused(
        "local-domains-string",
        "",
        "local_domains = \"example.org\"",
        "local_domains: a list such as [\"example.org\"]; found string \"example.org\"",
    );
    refused(
        "release-on-number",
        "profile = \"symantec-rset\"\nrelease_on = 5",
        "",
        "release_on: one of `dot`, `quit`",
    );
    refused(
        "mask-banner-string",
        "mask_banner = \"yes\"",
        "",
        "mask_banner: true or false; found string \"yes\"",
    );
}

#[test]
fn type_errors_from_set_name_the_knob_its_form_and_an_example() {
    let (code, err) = smtpsim(&[
        "proxy",
        "--upstream",
        "127.0.0.1:1",
        "--set",
        "keepalive_interval=10",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--set keepalive_interval: a duration such as \"30s\" (units ms, s, m, h, d, w); found integer `10`"),
        "{err}"
    );
    let (code, err) = smtpsim(&["serve", "--set", "local_domains=example.org"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "--set local_domains: a list such as [\"example.org\"]; found string \"example.org\""
        ),
        "{err}"
    );
}

#[test]
fn invalid_reply_templates_are_refused_with_what_is_wrong() {
    refused(
        "data-reply-no-code",
        "data_reply = \"go ahead please\"",
        "",
        "data_reply = \"go ahead please\" is not a valid reply: a reply starts with a three-digit code (e.g. \"354 Please start mail input.\")",
    );
    refused(
        "data-reply-wrong-class",
        "data_reply = \"250 go ahead\"",
        "",
        "data_reply = \"250 go ahead\" is not a valid reply: here a reply is 3xx, not 2xx",
    );
    refused(
        "ack-dot-wrong-class",
        "profile = \"symantec-telnet\"\nack_dot = \"354 again\"",
        "",
        "ack_dot = \"354 again\" is not a valid reply: here a reply is 2xx or 4xx or 5xx, not 3xx",
    );
    refused(
        "ack-dot-glued-text",
        "profile = \"symantec-telnet\"\nack_dot = \"250OK\"",
        "",
        "the code 250 must be followed by a space and the text",
    );
    refused(
        "ack-dot-bad-second-digit",
        "profile = \"symantec-telnet\"\nack_dot = \"270 OK\"",
        "",
        "270 is not a reply code (second digit 0-5)",
    );
    let (code, err) = smtpsim(&[
        "proxy",
        "--upstream",
        "127.0.0.1:1",
        "--set",
        "data_reply=250 ok",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "--set data_reply = \"250 ok\" is not a valid reply: here a reply is 3xx, not 2xx"
        ),
        "{err}"
    );
}

#[test]
fn knobs_with_no_effect_are_refused_saying_what_they_need() {
    let holding = "it acts only on a message the interceptor holds: set data_reply (e.g. data_reply = \"354 Please start mail input.\")";
    refused(
        "ack-dot-on-passthrough",
        "profile = \"passthrough\"\nack_dot = \"250 OK\"",
        "",
        &format!("ack-dot-on-passthrough.toml:8:1: ack_dot has no effect here: {holding}"),
    );
    refused(
        "scan-delay-on-passthrough",
        "scan_delay = \"30s\"",
        "",
        &format!("scan_delay has no effect here: {holding}"),
    );
    refused(
        "keepalive-interval-without-command",
        "profile = \"symantec-telnet\"\nkeepalive_command = \"\"\nkeepalive_interval = \"5s\"",
        "",
        "keepalive_interval has no effect here: it is the time between keepalive commands: set keepalive_command",
    );
    refused(
        "reset-interval-with-one-reset",
        "profile = \"symantec-rset\"\nupstream_resets = 1\nreset_interval = \"2s\"",
        "",
        "reset_interval has no effect here: it is the time between upstream RSETs: set upstream_resets to 2 or more",
    );
    refused(
        "starttls-refusal-while-relaying",
        "starttls_refusal = \"454 4.7.0 no\"",
        "",
        "starttls_refusal has no effect here: it answers STARTTLS only under starttls = \"refuse\"",
    );
    refused(
        "rewritten-reply-without-allowed-commands",
        "rewritten_reply = \"250 OK\"",
        "",
        "rewritten_reply has no effect here: it answers commands turned into NOOP: set allowed_commands",
    );
    let (code, err) = smtpsim(&[
        "proxy",
        "--upstream",
        "127.0.0.1:1",
        "--profile",
        "passthrough",
        "--set",
        "ack_dot=250 OK",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("--set ack_dot has no effect here: {holding}")),
        "{err}"
    );
}

#[test]
fn every_interceptor_preset_passes_the_rules_and_a_knob_with_its_needs_is_accepted() {
    for (name, _) in smtpsim::profile::interceptor::PRESETS {
        let cfg = smtpsim::profile::InterceptorConfig::preset(name).unwrap();
        assert_eq!(
            smtpsim::profile::rules::check_interceptor(&cfg, &[]),
            Ok(()),
            "{name}"
        );
    }
    let (code, err) = run_with(
        "ack-dot-with-data-reply",
        "profile = \"passthrough\"\ndata_reply = \"354 go on\"\nack_dot = \"250 OK\"",
        "",
    );
    assert!(
        code == 0 || code == 1,
        "accepted (the run's verdict aside): {err}"
    );
}

#[test]
fn server_reply_templates_set_are_checked() {
    refused(
        "server-banner-without-code",
        "",
        "reply_banner = \"welcome {host}\"",
        "reply_banner = \"welcome {host}\" is not a valid reply: a reply starts with a three-digit code (e.g. \"250 2.0.0 Ok\")",
    );
    refused(
        "server-queued-class-1",
        "",
        "reply_queued = \"150 queued\"",
        "reply_queued = \"150 queued\" is not a valid reply: here a reply is 2xx or 3xx or 4xx or 5xx, not 1xx",
    );
    let (code, err) = smtpsim(&["serve", "--set", "reply_quit=bye"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--set reply_quit = \"bye\" is not a valid reply: a reply starts with a three-digit code"),
        "{err}"
    );
    let (code, err) = run_with(
        "server-reply-ok",
        "",
        "reply_queued = \"250 2.0.0 queued as {queue_id}\"",
    );
    assert!(
        code == 0 || code == 1,
        "a valid template is accepted (the run's verdict aside): {err}"
    );
}

#[test]
fn the_catalogue_knobs_are_refused_without_what_they_need() {
    refused(
        "blocked-reply-without-list",
        "blocked_reply = \"502 5.5.1 no\"",
        "",
        "blocked_reply has no effect here: it answers the verbs in blocked_commands: set blocked_commands",
    );
    refused(
        "detection-reply-without-signature",
        "detection_reply = \"554 5.7.1 virus\"",
        "",
        "detection_reply has no effect here: it answers a message with block_signature in it: set block_signature",
    );
    refused(
        "strip-under-ehlo-as-helo",
        "profile = \"untangle\"\nstrip_ehlo_keywords = [\"CHUNKING\"]",
        "",
        "strip_ehlo_keywords has no effect here: under ehlo_as_helo the server answers a HELO",
    );
    refused(
        "quit-reply-not-2xx",
        "quit_reply = \"500 no\"",
        "",
        "quit_reply = \"500 no\" is not a valid reply: here a reply is 2xx, not 5xx",
    );
    refused(
        "blocked-reply-not-a-reply",
        "blocked_commands = [\"BDAT\"]\nblocked_reply = \"no\"",
        "",
        "blocked_reply = \"no\" is not a valid reply: a reply starts with a three-digit code",
    );
    let (code, err) = run_with(
        "blocked-reply-with-list",
        "blocked_commands = [\"VRFY\"]\nblocked_reply = \"502 5.5.1 no\"",
        "",
    );
    assert!(code == 0 || code == 1, "accepted: {err}");
}
