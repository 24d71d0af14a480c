//! Postfix's reading of MAIL/RCPT arguments, case by case (each case observed on Postfix 3.7.11;
//! the parity scripts 62-68 play them against the real server).

use smtpsim::proto::envelope::{
    check_addr, extract, rcpt_params, rcpt_params_warning, resolve, tokens, Token,
};

fn words(args: &str) -> Vec<String> {
    tokens(args).into_iter().map(|t| t.text).collect()
}

#[test]
fn the_tokenizer_cuts_like_smtpd_token() {
    assert_eq!(words("FROM:<a@b> SIZE=1"), ["FROM:", "<a@b>", "SIZE=1"]);
    assert_eq!(words("FROM: <a b@c>"), ["FROM:", "<a b@c>"]);
    assert_eq!(words("FROM :<a@b>"), ["FROM", ":<a@b>"]);
    assert_eq!(words("TO<a@b>"), ["TO<a@b>"]);
    assert_eq!(
        words("FROM:Bob Smith <a@b>"),
        ["FROM:", "Bob", "Smith", "<a@b>"]
    );
    assert_eq!(words("FROM:<a@b>(comment)"), ["FROM:", "<a@b>(comment)"]);
    assert!(tokens("FROM:<\"a@b").iter().any(|t: &Token| t.unclosed));
}

#[test]
fn extraction_drops_brackets_routes_comments_and_quotes() {
    assert_eq!(extract("bob@example.org>"), Ok("bob@example.org".into()));
    assert_eq!(extract("<a@b.example>(comment)"), Ok("a@b.example".into()));
    assert_eq!(extract("< a@b.example >"), Ok("a@b.example".into()));
    assert_eq!(extract("<@r.example,@s.example:a@b>"), Ok("a@b".into()));
    assert_eq!(
        extract("<\"b o b\"@example.org>"),
        Ok("b o b@example.org".into())
    );
    assert_eq!(extract("<>"), Ok(String::new()));
    assert_eq!(extract(">"), Ok(String::new()));
    assert!(extract("<a@b, c@d>").is_err());
    assert!(extract("x;y@z").is_err());
}

#[test]
fn resolution_follows_trivial_rewrite() {
    let local = |d: &str| ["example.org", "localhost", "mail.example.org"].contains(&d);
    let r = |a: &str| resolve(a, &local, "mail.example.org");
    assert_eq!(r("bob%example.org@localhost").address, "bob@example.org");
    assert_eq!(r("example.org!bob@example.org").address, "bob@example.org");
    assert_eq!(r("bob@x@example.org").address, "bob@x");
    assert_eq!(r("@example.org").local, "mailer-daemon");
    assert_eq!(r("bob").address, "bob@mail.example.org");
    assert_eq!(r("bob@example.org.").domain, "example.org");
    assert!(r("example.com!bob@example.com").routed);
    assert!(!r("bob@example.com").routed);
    for bad in [
        "a@exa..mple.org",
        "a@-example.org",
        "a@127.0.0.1",
        "a@[300.1.1.1]",
        "a@",
    ] {
        assert!(!check_addr(bad, false, &local, "mail.example.org"), "{bad}");
    }
    for good in [
        "a@ex_ample.org",
        "a@[1.2.3.4]",
        "a@[IPv6:::1]",
        "\u{fc}ser@example.org",
    ] {
        assert!(
            check_addr(good, false, &local, "mail.example.org"),
            "{good}"
        );
    }
    // A non-ASCII domain only with SMTPUTF8.
    assert!(!check_addr("a@ex\u{e4}mple.org", false, &local, "x"));
    assert!(check_addr("a@ex\u{e4}mple.org", true, &local, "x"));
}

#[test]
fn rcpt_parameters_are_postfixs() {
    let p = |s: &str| rcpt_params(&tokens(s));
    assert!(p("NOTIFY=never ORCPT=rfc822;bob+2Bx@example.org").is_ok());
    assert!(p("NOTIFY=SUCCESS,FAILURE,DELAY").is_ok());
    assert_eq!(
        p("NOTIFY=NEVER,SUCCESS").unwrap_err(),
        "501 5.5.4 Error: Bad NOTIFY parameter syntax"
    );
    assert_eq!(
        p("ORCPT=bogus").unwrap_err(),
        "501 5.5.4 Error: Bad ORCPT parameter syntax"
    );
    assert_eq!(
        p("BODY=8BITMIME").unwrap_err(),
        "555 5.5.4 Unsupported option: BODY=8BITMIME"
    );
}

#[test]
fn an_unknown_notify_value_is_warned_about_once_as_postfix_does() {
    let warn = |s: &str| {
        let mut warning = None;
        let result = rcpt_params_warning(&tokens(s), &mut warning);
        (result.is_ok(), warning)
    };
    let pair = |v: &str, l: &str| Some((v.to_string(), l.to_string()));
    assert_eq!(warn("NOTIFY=bogus"), (false, pair("bogus", "bogus")));
    assert_eq!(
        warn("NOTIFY=Success,sometimes"),
        (false, pair("sometimes", "Success,sometimes"))
    );
    // Known values, an empty list or a second NOTIFY: refused or not, no warning.
    assert_eq!(warn("NOTIFY=success"), (true, None));
    assert_eq!(warn("NOTIFY="), (false, None));
    assert_eq!(warn("NOTIFY=never NOTIFY=bogus"), (false, None));
    // A parameter refused before NOTIFY is read.
    assert_eq!(warn("XFOO NOTIFY=bogus"), (false, None));
}
