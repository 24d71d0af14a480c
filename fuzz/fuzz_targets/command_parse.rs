//! Command parsing: any line parses without a panic; a parsed command's wire form parses back
//! to the same command; MAIL/RCPT paths of any argument text are a path or an error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smtpsim::proto::command::{Command, Path};

fuzz_target!(|line: &[u8]| {
    let Some(command) = Command::parse(line) else {
        assert!(
            line.iter().all(|b| b" \t\r\n\x0b\x0c".contains(b))
                || String::from_utf8_lossy(line).trim().is_empty()
        );
        return;
    };
    let wire = command.to_wire();
    let again = Command::parse(&wire[..wire.len() - 2]).expect("a command's wire form parses");
    assert_eq!(
        again,
        command,
        "wire form {:?}",
        String::from_utf8_lossy(&wire)
    );
    let _ = command.verb.is_rfc821_minimum();
    if let Ok(path) = command.path() {
        let _ = path.domain();
        let _ = path.param("SIZE");
        assert!(!path.address.contains(['<', '>', ' ', '\t']));
    }
    for keyword in ["FROM:", "TO:"] {
        let _ = Path::parse(&command.args, keyword);
    }
});
