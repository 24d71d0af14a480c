//! The scenario loader: any bytes give a scenario or an error positioned inside the text,
//! never a panic. A scenario that loads is then played, client against server, in memory.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smtpsim::scenario::Scenario;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    match Scenario::parse(text, "fuzz.toml") {
        Err(e) => {
            if let Some((line, col)) = e.position {
                let lines = text.split('\n').count();
                assert!((1..=lines).contains(&line), "{e} in {lines} lines");
                assert!(col >= 1, "{e}");
            }
            assert!(e.to_string().starts_with("fuzz.toml:"));
        }
        Ok(scenario) => {
            let _ = scenario.with_fault_profile("lossy-network");
            smtpsim_fuzz::converse(scenario.client, scenario.messages, scenario.server);
        }
    }
});
