use super::cgi::{XML_NAN, hex_decode, scan_int, strip_blanks, url_decode, xpath_number};
use super::*;

const NO_HEADERS: &[(&str, &[u8])] = &[];

fn get(query: &str) -> RawRequest<'_> {
    RawRequest {
        post: false,
        query: Some(query),
        content_type: None,
        headers: NO_HEADERS,
        body: b"",
    }
}

fn post<'a>(
    query: Option<&'a str>,
    content_type: Option<&'a str>,
    headers: &'a [(&'a str, &'a [u8])],
    body: &'a [u8],
) -> RawRequest<'a> {
    RawRequest {
        post: true,
        query,
        content_type,
        headers,
        body,
    }
}

/// Parse, check the credentials are foo/bar, validate with the defaults.
fn run(req: &RawRequest<'_>) -> Result<SendSms, Answer> {
    run_with(req, &Limits::default())
}

fn run_with(req: &RawRequest<'_>, limits: &Limits) -> Result<SendSms, Answer> {
    let params = parse(req)?;
    let creds = params.credentials()?;
    if creds.username != "foo" || creds.password != "bar" {
        return Err(Answer::authorization_failed());
    }
    params.validate(limits)
}

fn ok(req: &RawRequest<'_>) -> SendSms {
    match run(req) {
        Ok(sms) => sms,
        Err(answer) => panic!("refused: {answer:?}"),
    }
}

fn refused(req: &RawRequest<'_>) -> Answer {
    match run(req) {
        Ok(sms) => panic!("accepted: {sms:?}"),
        Err(answer) => answer,
    }
}

fn get_ok(query: &str) -> SendSms {
    ok(&get(query))
}

fn get_refused(query: &str) -> Answer {
    refused(&get(query))
}

const AUTH: &str = "username=foo&password=bar&to=4512345678";

// ---------------------------------------------------------------- answers

#[test]
fn every_answer_has_kannels_status_and_words() {
    let all = [
        (Answer::accepted(), 202, "0: Accepted for delivery"),
        (Answer::queued(), 202, "3: Queued for later delivery"),
        (
            Answer::not_routable(),
            403,
            "Not routable. Do not try again.",
        ),
        (
            Answer::temporal_failure(),
            503,
            "Temporal failure, try again later.",
        ),
        (Answer::unknown_request(), 404, "Unknown request."),
        (
            Answer::authorization_failed(),
            403,
            "Authorization failed for sendsms",
        ),
        (Answer::invalid_content_type(), 400, "Invalid content-type"),
        (
            Answer::unsupported_content_type(),
            415,
            "Unsupported content-type, rejected",
        ),
        (
            Answer::missing_receiver(),
            400,
            "Missing receiver number, rejected",
        ),
        (
            Answer::missing_receivers(),
            400,
            "Missing receiver(s) number(s), rejected",
        ),
        (
            Answer::empty_receiver(),
            400,
            "Empty receiver number not allowed, rejected",
        ),
        (
            Answer::udh_misformed(),
            400,
            "UDH field misformed, rejected",
        ),
        (
            Answer::udh_too_long(),
            400,
            "UDH field is too long, rejected",
        ),
        (
            Answer::receivers_denied(),
            400,
            "Number(s) has/have been denied by white- and/or black-lists.",
        ),
        (
            Answer::sender_missing(),
            400,
            "Sender missing and no global set, rejected",
        ),
        (
            Answer::account_misformed(),
            400,
            "Account field misformed or too long, rejected",
        ),
        (
            Answer::dlr_url_misformed(),
            400,
            "DLR-URL field misformed, rejected",
        ),
        (
            Answer::dlr_mask_misformed(),
            400,
            "DLR-Mask field misformed, rejected",
        ),
        (
            Answer::mclass_misformed(),
            400,
            "MClass field misformed, rejected",
        ),
        (
            Answer::pid_misformed(),
            400,
            "PID field misformed, rejected",
        ),
        (
            Answer::rpi_misformed(),
            400,
            "RPI field misformed, rejected",
        ),
        (
            Answer::alt_dcs_misformed(),
            400,
            "Alt-DCS field misformed, rejected",
        ),
        (
            Answer::mwi_misformed(),
            400,
            "MWI field misformed, rejected",
        ),
        (
            Answer::coding_misformed(),
            400,
            "Coding field misformed, rejected",
        ),
        (
            Answer::compress_misformed(),
            400,
            "Compress field misformed, rejected",
        ),
        (
            Answer::validity_misformed(),
            400,
            "Validity field misformed, rejected",
        ),
        (
            Answer::deferred_misformed(),
            400,
            "Deferred field misformed, rejected",
        ),
        (
            Answer::priority_misformed(),
            400,
            "Priority field misformed, rejected",
        ),
        (
            Answer::charset_misformed(),
            400,
            "Charset or body misformed, rejected",
        ),
    ];
    for (answer, status, body) in all {
        assert_eq!(answer.status, status, "{body}");
        assert_eq!(answer.body, body);
        assert!(!answer.body.ends_with('\n'));
    }
}

#[test]
fn sent_and_sending_failed_carry_their_details() {
    assert_eq!(Answer::sent(&[], 1).body, "Sent.");
    assert_eq!(Answer::sent(&[], 1).status, 202);
    assert_eq!(
        Answer::sent(&["12a".into(), "x".into()], 3).body,
        "Sent. Denied receivers are: 12a x Message splits: 3"
    );
    assert_eq!(
        Answer::sending_failed(&["1".into()], 1).body,
        "Sending failed."
    );
    let failed = Answer::sending_failed(&["1".into(), "2".into()], 3);
    assert_eq!(failed.status, 500);
    assert_eq!(failed.body, "Sending failed. Failed receivers are: 1 2");
}

#[test]
fn reply_headers_are_kannels() {
    assert_eq!(REPLY_HEADERS[0], ("Content-Type", "text/html"));
    assert!(REPLY_HEADERS.contains(&("Pragma", "no-cache")));
    assert!(REPLY_HEADERS.contains(&("Cache-Control", "no-cache")));
}

// ---------------------------------------------------------------- GET

#[test]
fn get_minimal() {
    let sms = get_ok("username=foo&password=bar&to=4512345678&text=Hello+world");
    assert_eq!(sms.to, ["4512345678"]);
    assert_eq!(sms.text, "Hello world");
    assert_eq!(sms.coding, Coding::SevenBit);
    assert_eq!(sms.from, None);
    assert_eq!(sms.binary, None);
    assert!(sms.denied.is_empty());
}

#[test]
fn get_aliases() {
    let sms = get_ok("user=foo&pass=bar&to=1&dlrmask=3&dlrurl=http%3A%2F%2Fa%2Fb");
    assert_eq!(sms.dlr_mask, Some(3));
    assert_eq!(sms.dlr_url.as_deref(), Some("http://a/b"));
    // The new names win over the old ones.
    let sms = get_ok("username=foo&user=x&password=bar&pass=y&to=1&dlr-mask=1&dlrmask=2");
    assert_eq!(sms.dlr_mask, Some(1));
    // "dlr-mask" present but not a number: Kannel does not fall back to dlrmask.
    let sms = get_ok("username=foo&password=bar&to=1&dlr-mask=x&dlrmask=2");
    assert_eq!(sms.dlr_mask, None);
}

#[test]
fn get_first_occurrence_wins() {
    let params = parse(&get("username=foo&username=other&password=bar")).unwrap();
    assert_eq!(params.credentials().unwrap().username, "foo");
}

#[test]
fn get_every_field() {
    let sms = get_ok(
        "username=foo&password=bar&from=relais&to=4512345678&text=hi&smsc=modem1\
         &mclass=1&mwi=2&compress=0&coding=0&validity=60&deferred=5&dlr-mask=31\
         &dlr-url=https%3A%2F%2Fexample.com%2Fdlr%3Fid%3D%25i&pid=127&alt-dcs=1&rpi=2\
         &account=acct&binfo=b1&priority=3&meta-data=%3Fsmpp%3Fa%3Db",
    );
    assert_eq!(sms.from.as_deref(), Some("relais"));
    assert_eq!(sms.smsc.as_deref(), Some("modem1"));
    assert_eq!(sms.mclass, Some(1));
    assert_eq!(sms.mwi, Some(2));
    assert_eq!(sms.compress, Some(0));
    assert_eq!(sms.coding, Coding::SevenBit);
    assert_eq!(sms.validity_minutes, Some(60));
    assert_eq!(sms.deferred_minutes, Some(5));
    assert_eq!(sms.dlr_mask, Some(31));
    assert_eq!(
        sms.dlr_url.as_deref(),
        Some("https://example.com/dlr?id=%i")
    );
    assert_eq!(sms.pid, Some(127));
    assert_eq!(sms.alt_dcs, Some(1));
    assert_eq!(sms.rpi, Some(2));
    assert_eq!(sms.account.as_deref(), Some("acct"));
    assert_eq!(sms.binfo.as_deref(), Some("b1"));
    assert_eq!(sms.priority, Some(3));
    assert_eq!(sms.meta_data.as_deref(), Some("?smpp?a=b"));

    let recorded = sms.recorded();
    assert_eq!(recorded["smsc"], "modem1");
    assert_eq!(recorded["mclass"], 1);
    assert_eq!(recorded["mwi"], 2);
    assert_eq!(recorded["pid"], 127);
    assert_eq!(recorded["account"], "acct");
    assert_eq!(recorded["priority"], 3);
    assert_eq!(recorded["validity"], 60);
    assert_eq!(recorded["alt-dcs"], 1);
    assert_eq!(recorded["rpi"], 2);
    assert_eq!(recorded["binfo"], "b1");
    assert_eq!(recorded["compress"], 0);
    assert_eq!(recorded["meta-data"], "?smpp?a=b");
    assert_eq!(recorded["coding"], 0);
    assert!(!recorded.contains_key("udh"));
    assert!(!recorded.contains_key("charset"));
    assert!(!recorded.contains_key("deferred"));
}

#[test]
fn empty_and_unparsable_numbers_are_unset() {
    // PHP clients send every field, empty ones too; Kannel's sscanf leaves them unset.
    let sms = get_ok(&format!(
        "{AUTH}&mclass=&mwi=&coding=&validity=&deferred=&dlr-mask=&pid=abc&priority=-1"
    ));
    assert_eq!(sms.mclass, None);
    assert_eq!(sms.priority, None);
    assert_eq!(sms.pid, None);
    assert_eq!(sms.coding, Coding::SevenBit);
    // sscanf("%d") reads a prefix: "2x" is 2, " +3" is 3.
    let sms = get_ok(&format!("{AUTH}&mclass=2x&mwi=%20%2B3"));
    assert_eq!(sms.mclass, Some(2));
    assert_eq!(sms.mwi, Some(3));
}

// ---------------------------------------------------------------- order and credentials

#[test]
fn credentials_come_first() {
    assert_eq!(get_refused("to=1&mclass=9"), Answer::authorization_failed());
    assert_eq!(
        get_refused("username=foo&to=1"),
        Answer::authorization_failed()
    );
    assert_eq!(
        get_refused("password=bar&to=1"),
        Answer::authorization_failed()
    );
    assert_eq!(
        get_refused("username=foo&password=wrong&to=1"),
        Answer::authorization_failed()
    );
    let params = parse(&get("user=foo&pass=")).unwrap();
    let creds = params.credentials().unwrap();
    assert_eq!((creds.username, creds.password), ("foo", ""));
    assert!(!format!("{creds:?}").contains("bar"));
    let params = parse(&get("user=foo&pass=secret")).unwrap();
    assert!(!format!("{params:?}").contains("secret"));
}

#[test]
fn receivers_are_checked_before_the_fields() {
    assert_eq!(
        get_refused("username=foo&password=bar&mclass=9"),
        Answer::missing_receiver()
    );
    assert_eq!(
        get_refused("username=foo&password=bar&to=&mclass=9"),
        Answer::empty_receiver()
    );
}

#[test]
fn fields_are_checked_in_kannels_order() {
    let limits = Limits {
        sender_configured: false,
        ..Limits::default()
    };
    let all_bad = "username=foo&password=bar&to=1&udh=%05&account=%5B&dlr-url=ftp%3A%2F%2Fx\
                   &dlr-mask=64&mclass=4&pid=256&rpi=3&alt-dcs=2&mwi=8&coding=3&compress=2\
                   &validity=-2&deferred=-2&priority=4&charset=nope&text=x";
    let order = [
        ("udh=%05", Answer::udh_misformed()),
        ("to=1", Answer::sender_missing()),
        ("account=%5B", Answer::account_misformed()),
        ("dlr-url=ftp%3A%2F%2Fx", Answer::dlr_url_misformed()),
        ("dlr-mask=64", Answer::dlr_mask_misformed()),
        ("mclass=4", Answer::mclass_misformed()),
        ("pid=256", Answer::pid_misformed()),
        ("rpi=3", Answer::rpi_misformed()),
        ("alt-dcs=2", Answer::alt_dcs_misformed()),
        ("mwi=8", Answer::mwi_misformed()),
        ("coding=3", Answer::coding_misformed()),
        ("compress=2", Answer::compress_misformed()),
        ("validity=-2", Answer::validity_misformed()),
        ("deferred=-2", Answer::deferred_misformed()),
        ("priority=4", Answer::priority_misformed()),
        ("charset=nope", Answer::charset_misformed()),
    ];
    // Fix the fields one by one, in order: each time the next answer shows.
    let mut query = all_bad.to_owned();
    for (bad, answer) in order {
        assert_eq!(run_with(&get(&query), &limits), Err(answer), "{query}");
        let fixed = match bad {
            "to=1" => "to=1&from=relais",
            "udh=%05" => "udh=",
            _ => "x=",
        };
        query = query.replacen(bad, fixed, 1);
    }
    assert!(run_with(&get(&query), &limits).is_ok(), "{query}");
}

// ---------------------------------------------------------------- receivers

#[test]
fn several_receivers() {
    let sms = get_ok("username=foo&password=bar&to=4511111111+4522222222%204533333333");
    assert_eq!(sms.to, ["4511111111", "4522222222", "4533333333"]);
    // Any C white space separates; repeated receivers count once.
    let sms = get_ok("username=foo&password=bar&to=%2B111%09222%0A%2B111%20%20333%0D");
    assert_eq!(sms.to, ["+111", "222", "333"]);
    // A '+' in the query is a space: international numbers need %2B.
    let sms = get_ok("username=foo&password=bar&to=+4512345678");
    assert_eq!(sms.to, ["4512345678"]);
}

#[test]
fn receivers_outside_sendsms_chars_are_set_aside() {
    let sms = get_ok("username=foo&password=bar&to=111+12a4+222+x+12a4");
    assert_eq!(sms.to, ["111", "222"]);
    assert_eq!(sms.denied, ["12a4", "x"]);
    assert_eq!(
        get_refused("username=foo&password=bar&to=abc"),
        Answer::receivers_denied()
    );
    // A `to` of blanks only: no receiver at all, refused the same way in Kannel.
    assert_eq!(
        get_refused("username=foo&password=bar&to=%20"),
        Answer::receivers_denied()
    );
    let limits = Limits {
        number_chars: "0123456789".into(),
        ..Limits::default()
    };
    let sms = run_with(&get("username=foo&password=bar&to=%2B45+45"), &limits).unwrap();
    assert_eq!(sms.to, ["45"]);
    assert_eq!(sms.denied, ["+45"]);
}

#[test]
fn sender() {
    let no_sender = Limits {
        sender_configured: false,
        ..Limits::default()
    };
    assert_eq!(
        run_with(&get(AUTH), &no_sender).unwrap_err(),
        Answer::sender_missing()
    );
    assert_eq!(
        run_with(&get(&format!("{AUTH}&from=")), &no_sender).unwrap_err(),
        Answer::sender_missing()
    );
    let sms = run_with(&get(&format!("{AUTH}&from=Relais")), &no_sender).unwrap();
    assert_eq!(sms.from.as_deref(), Some("Relais"));
    assert_eq!(get_ok(&format!("{AUTH}&from=")).from, None);
}

// ---------------------------------------------------------------- ranges at their edges

fn check_range(name: &str, max: i64, answer: Answer) {
    for n in 0..=max {
        assert!(
            run(&get(&format!("{AUTH}&{name}={n}"))).is_ok(),
            "{name}={n}"
        );
    }
    assert!(
        run(&get(&format!("{AUTH}&{name}=-1"))).is_ok(),
        "{name}=-1 is unset"
    );
    for n in [max + 1, -2, 1 << 40, -(1 << 40)] {
        assert_eq!(
            run(&get(&format!("{AUTH}&{name}={n}"))).unwrap_err(),
            answer,
            "{name}={n}"
        );
    }
}

#[test]
fn ranges() {
    check_range("mclass", 3, Answer::mclass_misformed());
    check_range("mwi", 7, Answer::mwi_misformed());
    check_range("coding", 2, Answer::coding_misformed());
    check_range("compress", 1, Answer::compress_misformed());
    check_range("dlr-mask", 63, Answer::dlr_mask_misformed());
    check_range("pid", 255, Answer::pid_misformed());
    check_range("alt-dcs", 1, Answer::alt_dcs_misformed());
    check_range("rpi", 2, Answer::rpi_misformed());
    check_range("priority", 3, Answer::priority_misformed());
}

#[test]
fn validity_and_deferred() {
    for (name, answer) in [
        ("validity", Answer::validity_misformed()),
        ("deferred", Answer::deferred_misformed()),
    ] {
        let sms = get_ok(&format!("{AUTH}&{name}=0"));
        let minutes = if name == "validity" {
            sms.validity_minutes
        } else {
            sms.deferred_minutes
        };
        assert_eq!(minutes, Some(0));
        let sms = get_ok(&format!("{AUTH}&{name}=2147483647"));
        assert!(
            sms.validity_minutes == Some(2_147_483_647)
                || sms.deferred_minutes == Some(2_147_483_647)
        );
        assert_eq!(get_ok(&format!("{AUTH}&{name}=-1")).validity_minutes, None);
        assert_eq!(get_refused(&format!("{AUTH}&{name}=-2")), answer);
        assert_eq!(get_refused(&format!("{AUTH}&{name}=2147483648")), answer);
    }
}

#[test]
fn account_and_dlr_url() {
    let long = "a".repeat(64);
    assert_eq!(
        get_ok(&format!("{AUTH}&account={long}")).account,
        Some(long.clone())
    );
    assert_eq!(
        get_refused(&format!("{AUTH}&account={long}a")),
        Answer::account_misformed()
    );
    for bad in ["%5D", "a%0Ab", "a%0D"] {
        assert_eq!(
            get_refused(&format!("{AUTH}&account={bad}")),
            Answer::account_misformed()
        );
    }
    assert_eq!(get_ok(&format!("{AUTH}&account=")).account, None);

    for good in ["http://a", "HTTPS://x", "https://"] {
        let q = format!("{AUTH}&dlr-url={good}");
        assert_eq!(get_ok(&q).dlr_url.as_deref(), Some(good));
    }
    for bad in ["http://", "http:/x/y", "ftp://host/", "/relative/path"] {
        assert_eq!(
            get_refused(&format!("{AUTH}&dlr-url={bad}")),
            Answer::dlr_url_misformed()
        );
    }
    assert_eq!(get_ok(&format!("{AUTH}&dlr-url=")).dlr_url, None);
}

// ---------------------------------------------------------------- UDH and coding

#[test]
fn udh() {
    // Concatenation UDH: 05 00 03 2A 02 01.
    let sms = get_ok(&format!("{AUTH}&udh=%05%00%03%2A%02%01&text=abc"));
    assert_eq!(sms.udh.as_deref(), Some(&[5, 0, 3, 0x2A, 2, 1][..]));
    // With a UDH and no coding, Kannel sends 8-bit.
    assert_eq!(sms.coding, Coding::EightBit);
    assert_eq!(sms.binary.as_deref(), Some(&b"abc"[..]));
    assert_eq!(sms.text, "");
    assert_eq!(sms.recorded()["udh"], "0500032A0201");
    // With coding=0, the text stays text.
    let sms = get_ok(&format!("{AUTH}&udh=%05%00%03%2A%02%01&coding=0&text=abc"));
    assert_eq!(sms.text, "abc");
    assert_eq!(sms.binary, None);

    assert_eq!(
        get_refused(&format!("{AUTH}&udh=%06%00%03")),
        Answer::udh_misformed()
    );
    assert_eq!(
        get_refused(&format!("{AUTH}&udh=%00%00")),
        Answer::udh_misformed()
    );
    // Empty UDH: none.
    assert_eq!(get_ok(&format!("{AUTH}&udh=")).udh, None);
    // 141 bytes with a consistent length byte: too long.
    let long = format!("%8C{}", "%00".repeat(140));
    assert_eq!(
        get_refused(&format!("{AUTH}&udh={long}")),
        Answer::udh_too_long()
    );
    let max = format!("%8B{}", "%00".repeat(139));
    assert_eq!(
        get_ok(&format!("{AUTH}&udh={max}")).udh.map(|u| u.len()),
        Some(140)
    );
}

#[test]
fn binary_keeps_its_bytes() {
    let sms = get_ok(&format!(
        "{AUTH}&coding=1&text=%00%FF%C3%28&charset=nonsense"
    ));
    assert_eq!(sms.coding, Coding::EightBit);
    assert_eq!(sms.binary.as_deref(), Some(&[0, 0xFF, 0xC3, 0x28][..]));
}

// ---------------------------------------------------------------- charsets

const GREEK: &str = "Καλημέρα κόσμε";
const CYRILLIC: &str = "Привет, мир";
const EMOJI: &str = "ok 😀 👍🏽";

fn percent(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fn utf16be(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

#[test]
fn utf8_by_default() {
    for text in [GREEK, CYRILLIC, EMOJI, "Ærøskøbing"] {
        let sms = get_ok(&format!("{AUTH}&text={}", percent(text.as_bytes())));
        assert_eq!(sms.text, text);
        assert_eq!(sms.coding, Coding::SevenBit);
        assert_eq!(sms.charset, None);
    }
}

#[test]
fn invalid_utf8_is_refused() {
    for bad in [
        &[0xC3, 0x28][..],
        &[0xE2, 0x82],
        &[0xFF],
        &[0xED, 0xA0, 0x80],
    ] {
        assert_eq!(
            get_refused(&format!("{AUTH}&text={}", percent(bad))),
            Answer::charset_misformed()
        );
        assert_eq!(
            get_refused(&format!("{AUTH}&charset=utf-8&text={}", percent(bad))),
            Answer::charset_misformed()
        );
    }
}

#[test]
fn ucs2_without_charset_is_utf16be() {
    for text in [GREEK, CYRILLIC, EMOJI] {
        let sms = get_ok(&format!("{AUTH}&coding=2&text={}", percent(&utf16be(text))));
        assert_eq!(sms.text, text);
        assert_eq!(sms.coding, Coding::Ucs2);
    }
    // The surrogate pair of 😀 (U+1F600) is D83D DE00.
    assert_eq!(utf16be("😀"), [0xD8, 0x3D, 0xDE, 0x00]);
    // Odd length, or an unpaired surrogate: refused.
    for bad in [
        &[0x00, 0x41, 0x00][..],
        &[0xD8, 0x3D],
        &[0xDE, 0x00, 0x00, 0x41],
    ] {
        assert_eq!(
            get_refused(&format!("{AUTH}&coding=2&text={}", percent(bad))),
            Answer::charset_misformed()
        );
    }
}

#[test]
fn named_charsets() {
    let cases: [(&str, Vec<u8>, &str); 10] = [
        ("UTF-16BE", utf16be(EMOJI), EMOJI),
        ("ucs-2", utf16be(GREEK), GREEK),
        (
            "UTF-16LE",
            CYRILLIC.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            CYRILLIC,
        ),
        (
            "UTF-16",
            [&[0xFF, 0xFE][..], &[0x41, 0x00, 0x24, 0x04]].concat(),
            "AФ",
        ),
        (
            "ISO-8859-1",
            vec![0x43, 0x61, 0x66, 0xE9, 0xA0, 0xFF],
            "Café\u{a0}ÿ",
        ),
        ("latin1", vec![0xC6, 0xF8], "Æø"),
        ("ISO-8859-15", vec![0xA4, 0xBD], "€œ"),
        ("windows-1252", vec![0x80, 0x93, 0x94, 0xE9], "€“”é"),
        ("cp1252", vec![0x9F], "Ÿ"),
        ("US-ASCII", b"plain".to_vec(), "plain"),
    ];
    for (charset, bytes, text) in cases {
        let sms = get_ok(&format!(
            "{AUTH}&charset={charset}&text={}",
            percent(&bytes)
        ));
        assert_eq!(sms.text, text, "{charset}");
        assert_eq!(sms.charset.as_deref(), Some(charset));
        assert_eq!(sms.recorded()["charset"], charset);
        // With UCS-2 coding the charset reads the same.
        let sms = get_ok(&format!(
            "{AUTH}&coding=2&charset={charset}&text={}",
            percent(&bytes)
        ));
        assert_eq!(sms.text, text, "{charset} ucs-2");
    }
}

#[test]
fn bytes_a_charset_does_not_define_are_refused() {
    for (charset, bytes) in [
        ("windows-1252", vec![0x81]),
        ("windows-1252", vec![0x41, 0x9D]),
        ("ascii", vec![0x80]),
        ("UTF-16BE", vec![0x00]),
    ] {
        assert_eq!(
            get_refused(&format!(
                "{AUTH}&charset={charset}&text={}",
                percent(&bytes)
            )),
            Answer::charset_misformed(),
            "{charset}"
        );
    }
}

#[test]
fn unknown_charset() {
    assert_eq!(
        get_refused(&format!("{AUTH}&charset=KOI8-R&text=abc")),
        Answer::charset_misformed()
    );
    // Kannel converts nothing, so checks nothing, for an empty text or an 8-bit body.
    assert!(run(&get(&format!("{AUTH}&charset=KOI8-R"))).is_ok());
    assert!(run(&get(&format!("{AUTH}&charset=KOI8-R&coding=1&text=abc"))).is_ok());
}

#[test]
fn charset_names() {
    for name in ["utf8", "UTF-8", "Utf_8"] {
        assert_eq!(Charset::from_name(name), Some(Charset::Utf8));
    }
    for name in [
        "ISO_8859-1",
        "iso-8859-1",
        "ISO8859-1",
        "l1",
        "ISO_8859-1:1987",
    ] {
        assert_eq!(Charset::from_name(name), Some(Charset::Latin1));
    }
    for name in ["UCS-2", "UCS-2BE", "utf-16be"] {
        assert_eq!(Charset::from_name(name), Some(Charset::Utf16Be));
    }
    assert_eq!(Charset::from_name("UCS-2LE"), Some(Charset::Utf16Le));
    assert_eq!(Charset::from_name("US-ASCII"), Some(Charset::Ascii));
    assert_eq!(Charset::from_name("windows-1251"), None);
    assert_eq!(Charset::from_name(""), None);
}

// ---------------------------------------------------------------- POST with headers

#[test]
fn post_text_plain_with_headers() {
    let headers: &[(&str, &[u8])] = &[
        ("X-Kannel-Username", b" foo "),
        ("x-kannel-password", b"bar"),
        ("X-Kannel-To", b"  4511111111 4522222222  "),
        ("X-Kannel-From", b"relais"),
        ("X-Kannel-SMSC", b"modem"),
        ("X-Kannel-MClass", b"1"),
        ("X-Kannel-MWI", b"4"),
        ("X-Kannel-Compress", b"0"),
        ("X-Kannel-Validity", b"10"),
        ("X-Kannel-Deferred", b"20"),
        ("X-Kannel-DLR-Mask", b"7"),
        ("X-Kannel-DLR-Url", b"http://h/d"),
        ("X-Kannel-Account", b"acc"),
        ("X-Kannel-PID", b"64"),
        ("X-Kannel-Alt-DCS", b"0"),
        ("X-Kannel-BInfo", b"bi"),
        ("X-Kannel-RPI", b"1"),
        ("X-Kannel-Priority", b"2"),
        ("X-Kannel-Meta-Data", b"?smpp?x=y"),
        ("Other", b"ignored"),
    ];
    let body = GREEK.as_bytes();
    let sms = ok(&post(
        None,
        Some("text/plain; charset=UTF-8"),
        headers,
        body,
    ));
    assert_eq!(sms.to, ["4511111111", "4522222222"]);
    assert_eq!(sms.text, GREEK);
    assert_eq!(sms.from.as_deref(), Some("relais"));
    assert_eq!(sms.smsc.as_deref(), Some("modem"));
    assert_eq!(sms.mclass, Some(1));
    assert_eq!(sms.mwi, Some(4));
    assert_eq!(sms.compress, Some(0));
    assert_eq!(sms.validity_minutes, Some(10));
    assert_eq!(sms.deferred_minutes, Some(20));
    assert_eq!(sms.dlr_mask, Some(7));
    assert_eq!(sms.dlr_url.as_deref(), Some("http://h/d"));
    assert_eq!(sms.account.as_deref(), Some("acc"));
    assert_eq!(sms.pid, Some(64));
    assert_eq!(sms.alt_dcs, Some(0));
    assert_eq!(sms.binfo.as_deref(), Some("bi"));
    assert_eq!(sms.rpi, Some(1));
    assert_eq!(sms.priority, Some(2));
    assert_eq!(sms.meta_data.as_deref(), Some("?smpp?x=y"));
    assert_eq!(sms.coding, Coding::SevenBit);
    assert_eq!(sms.charset.as_deref(), Some("UTF-8"));
}

const CREDS: [(&str, &[u8]); 3] = [
    ("X-Kannel-Username", b"foo"),
    ("X-Kannel-Password", b"bar"),
    ("X-Kannel-To", b"4512345678"),
];

#[test]
fn post_text_plain_defaults_to_latin1() {
    let sms = ok(&post(
        None,
        Some("text/plain"),
        &CREDS,
        &[0x43, 0x61, 0x66, 0xE9],
    ));
    assert_eq!(sms.text, "Café");
    assert_eq!(sms.charset.as_deref(), Some("ISO-8859-1"));
    let sms = ok(&post(
        None,
        Some("Text/Plain; Charset=\"utf-8\""),
        &CREDS,
        "Café".as_bytes(),
    ));
    assert_eq!(sms.text, "Café");
}

#[test]
fn post_ucs2_body() {
    let headers = [CREDS[0], CREDS[1], CREDS[2], ("X-Kannel-Coding", b"2")];
    let body = utf16be(EMOJI);
    let sms = ok(&post(
        None,
        Some("application/octet-stream"),
        &headers,
        &body,
    ));
    assert_eq!(sms.text, EMOJI);
    assert_eq!(sms.coding, Coding::Ucs2);
    // text/plain with charset UTF-16BE, coding 2.
    let sms = ok(&post(
        None,
        Some("text/plain; charset=UTF-16BE"),
        &headers,
        &body,
    ));
    assert_eq!(sms.text, EMOJI);
}

#[test]
fn post_octet_stream_is_binary() {
    let sms = ok(&post(
        None,
        Some("application/octet-stream"),
        &CREDS,
        &[0, 1, 0xFF],
    ));
    assert_eq!(sms.coding, Coding::EightBit);
    assert_eq!(sms.binary.as_deref(), Some(&[0, 1, 0xFF][..]));
    // No Content-Type reads as application/octet-stream.
    let sms = ok(&post(None, None, &CREDS, &[0xFF]));
    assert_eq!(sms.binary.as_deref(), Some(&[0xFF][..]));
    // X-Kannel-Coding 0 makes it text, in UTF-8 (no charset).
    let headers = [CREDS[0], CREDS[1], CREDS[2], ("X-Kannel-Coding", b"0")];
    let sms = ok(&post(
        None,
        Some("application/octet-stream"),
        &headers,
        CYRILLIC.as_bytes(),
    ));
    assert_eq!(sms.text, CYRILLIC);
}

#[test]
fn post_udh_header_in_hex_or_url_encoded() {
    let hex = [
        CREDS[0],
        CREDS[1],
        CREDS[2],
        ("X-Kannel-UDH", b" 0605040B8423F0 "),
    ];
    let sms = ok(&post(None, Some("application/octet-stream"), &hex, b"x"));
    assert_eq!(
        sms.udh.as_deref(),
        Some(&[6, 5, 4, 0x0B, 0x84, 0x23, 0xF0][..])
    );
    let url = [
        CREDS[0],
        CREDS[1],
        CREDS[2],
        ("X-Kannel-UDH", b"%05%00%03%01%02%01"),
    ];
    let sms = ok(&post(None, Some("application/octet-stream"), &url, b"x"));
    assert_eq!(sms.udh.as_deref(), Some(&[5, 0, 3, 1, 2, 1][..]));
    // Neither: Kannel drops the header.
    let bad = [CREDS[0], CREDS[1], CREDS[2], ("X-Kannel-UDH", b"%zz")];
    let sms = ok(&post(None, Some("application/octet-stream"), &bad, b"x"));
    assert_eq!(sms.udh, None);
}

#[test]
fn post_headers_last_one_wins() {
    let headers: &[(&str, &[u8])] = &[
        ("X-Kannel-Username", b"other"),
        ("X-Kannel-Username", b"foo"),
        ("X-Kannel-Password", b"bar"),
        ("X-Kannel-To", b"111"),
        ("X-Kannel-To", b"222"),
        ("X-Kannel-MClass", b"1"),
        // Not a number: sscanf fails and the previous value stays.
        ("X-Kannel-MClass", b"x"),
    ];
    let sms = ok(&post(None, Some("text/plain"), headers, b"hi"));
    assert_eq!(sms.to, ["222"]);
    assert_eq!(sms.mclass, Some(1));
}

#[test]
fn post_answers() {
    // Unknown content type: 400 before the credentials.
    let answer = refused(&post(None, Some("application/json"), &[], b"{}"));
    assert_eq!(answer, Answer::invalid_content_type());
    assert_eq!(
        refused(&post(None, Some("text/plain"), &[], b"hi")),
        Answer::authorization_failed()
    );
    let no_to = [CREDS[0], CREDS[1]];
    assert_eq!(
        refused(&post(None, Some("text/plain"), &no_to, b"hi")),
        Answer::missing_receivers()
    );
    let empty_to = [CREDS[0], CREDS[1], ("X-Kannel-To", b"  ")];
    assert_eq!(
        refused(&post(None, Some("text/plain"), &empty_to, b"hi")),
        Answer::empty_receiver()
    );
    // HTML is read, then refused after credentials and receivers.
    assert_eq!(
        refused(&post(None, Some("text/html"), &CREDS, b"<b>hi</b>")),
        Answer::unsupported_content_type()
    );
    assert_eq!(
        refused(&post(None, Some("text/vnd.wap.wml"), &no_to, b"x")),
        Answer::missing_receivers()
    );
    assert_eq!(
        refused(&post(None, Some("text/html"), &[], b"x")),
        Answer::authorization_failed()
    );
}

#[test]
fn post_query_fills_in() {
    let sms = ok(&post(
        Some("username=foo&password=bar&to=111&mclass=2&text=ignored&charset=UTF-16BE"),
        Some("text/plain; charset=utf-8"),
        &[("X-Kannel-MClass", b"1")],
        b"body",
    ));
    assert_eq!(sms.to, ["111"]);
    assert_eq!(sms.mclass, Some(1), "the header wins");
    assert_eq!(sms.text, "body");
    assert_eq!(sms.charset.as_deref(), Some("utf-8"));
}

#[test]
fn post_form_reads_as_get() {
    let body = format!(
        "{AUTH}&text={}&coding=2&charset=utf-8",
        percent(GREEK.as_bytes())
    );
    let sms = ok(&post(
        None,
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        &[],
        body.as_bytes(),
    ));
    assert_eq!(sms.text, GREEK);
    assert_eq!(sms.coding, Coding::Ucs2);
    // The query string comes first.
    let sms = ok(&post(
        Some("username=foo&password=bar&to=222"),
        Some("application/x-www-form-urlencoded"),
        &[],
        b"to=111&text=a+b",
    ));
    assert_eq!(sms.to, ["222"]);
    assert_eq!(sms.text, "a b");
    // Missing `to` is the GET answer.
    assert_eq!(
        refused(&post(
            None,
            Some("application/x-www-form-urlencoded"),
            &[],
            b"user=foo&pass=bar"
        )),
        Answer::missing_receiver()
    );
}

#[test]
fn get_ignores_headers_and_body() {
    let req = RawRequest {
        post: false,
        query: Some("username=foo&password=bar&to=1&text=q"),
        content_type: Some("text/xml"),
        headers: &[("X-Kannel-To", b"2")],
        body: b"<message/>",
    };
    let sms = ok(&req);
    assert_eq!(sms.to, ["1"]);
    assert_eq!(sms.text, "q");
}

// ---------------------------------------------------------------- XML

const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE message SYSTEM "kannel.dtd">
<message>
  <submit>
    <da><number>4511111111</number></da>
    <da><number> 4522222222 </number></da>
    <da><number>4511111111</number></da>
    <oa><number>relais</number></oa>
    <ud>Hello%20world &amp; more</ud>
    <udh>0500032A0201</udh>
    <meta-data>?smpp?a=b</meta-data>
    <dcs>
      <mclass>1</mclass>
      <coding>0</coding>
      <mwi>3</mwi>
      <compress>0</compress>
      <alt-dcs>1</alt-dcs>
    </dcs>
    <pid>64</pid>
    <rpi>1</rpi>
    <vp><delay>60</delay></vp>
    <timing><delay>5</delay></timing>
    <statusrequest>
      <dlr-mask>31</dlr-mask>
      <dlr-url>http://example.com/dlr</dlr-url>
    </statusrequest>
    <!-- request from application to Kannel -->
    <from>
      <user>nobody</user>
      <username>foo</username>
      <pass>nothing</pass>
      <password>bar</password>
      <account>acct</account>
      <binfo>bi</binfo>
    </from>
    <to>modem1</to>
    <priority>2</priority>
    <unknown><nested>ignored</nested></unknown>
  </submit>
</message>
"#;

#[test]
fn xml_document() {
    let sms = ok(&post(None, Some("text/xml"), &[], XML.as_bytes()));
    assert_eq!(sms.to, ["4511111111", "4522222222"]);
    assert_eq!(sms.from.as_deref(), Some("relais"));
    assert_eq!(sms.text, "Hello world & more");
    assert_eq!(sms.udh.as_deref(), Some(&[5, 0, 3, 0x2A, 2, 1][..]));
    assert_eq!(sms.meta_data.as_deref(), Some("?smpp?a=b"));
    assert_eq!(sms.mclass, Some(1));
    assert_eq!(sms.coding, Coding::SevenBit);
    assert_eq!(sms.mwi, Some(3));
    assert_eq!(sms.compress, Some(0));
    assert_eq!(sms.alt_dcs, Some(1));
    assert_eq!(sms.pid, Some(64));
    assert_eq!(sms.rpi, Some(1));
    assert_eq!(sms.validity_minutes, Some(60));
    assert_eq!(sms.deferred_minutes, Some(5));
    assert_eq!(sms.dlr_mask, Some(31));
    assert_eq!(sms.dlr_url.as_deref(), Some("http://example.com/dlr"));
    assert_eq!(sms.account.as_deref(), Some("acct"));
    assert_eq!(sms.binfo.as_deref(), Some("bi"));
    assert_eq!(sms.smsc.as_deref(), Some("modem1"));
    assert_eq!(sms.priority, Some(2));
    assert_eq!(sms.charset.as_deref(), Some("UTF-8"));
}

fn xml_submit(inner: &str) -> String {
    format!(
        "<message><submit><from><username>foo</username><password>bar</password></from>\
         {inner}</submit></message>"
    )
}

fn xml_run(doc: &str) -> Result<SendSms, Answer> {
    run(&post(None, Some("text/xml"), &[], doc.as_bytes()))
}

#[test]
fn xml_text_forms() {
    let da = "<da><number>1</number></da>";
    // Literal non-Latin text, no declaration: UTF-8.
    let sms = xml_run(&xml_submit(&format!("{da}<ud>{GREEK} {EMOJI}</ud>"))).unwrap();
    assert_eq!(sms.text, format!("{GREEK} {EMOJI}"));
    // URL-encoded UTF-8 and character references.
    let doc = xml_submit(&format!("{da}<ud>%CE%9A&#x3b1;&#955;+x</ud>"));
    assert_eq!(xml_run(&doc).unwrap().text, "Καλ x");
    // All hex digits: hexadecimal (Kannel's rule), here "Hi".
    assert_eq!(
        xml_run(&xml_submit(&format!("{da}<ud>4869</ud>")))
            .unwrap()
            .text,
        "Hi"
    );
    // UCS-2 coding: <ud> is still in the document's charset (Kannel converts it from
    // there to UCS-2), here UTF-8 in hex.
    let hex: String = EMOJI.bytes().map(|b| format!("{b:02x}")).collect();
    let doc = xml_submit(&format!("{da}<dcs><coding>2</coding></dcs><ud>{hex}</ud>"));
    let sms = xml_run(&doc).unwrap();
    assert_eq!(sms.text, EMOJI);
    assert_eq!(sms.coding, Coding::Ucs2);
    // So UTF-16 bytes there are not UTF-8, and refused.
    let hex: String = utf16be(EMOJI).iter().map(|b| format!("{b:02x}")).collect();
    let doc = xml_submit(&format!("{da}<dcs><coding>2</coding></dcs><ud>{hex}</ud>"));
    assert_eq!(xml_run(&doc).unwrap_err(), Answer::charset_misformed());
    // CDATA.
    let doc = xml_submit(&format!("{da}<ud><![CDATA[a <b> & c]]></ud>"));
    assert_eq!(xml_run(&doc).unwrap().text, "a <b> & c");
    // No <ud>: empty text.
    assert_eq!(xml_run(&xml_submit(da)).unwrap().text, "");
}

#[test]
fn xml_charset_is_the_documents() {
    // The Content-Type's charset does not count for XML (Kannel takes the declaration's).
    let doc = xml_submit(&format!("<da><number>1</number></da><ud>{CYRILLIC}</ud>"));
    let req = post(
        None,
        Some("text/xml; charset=ISO-8859-1"),
        &[],
        doc.as_bytes(),
    );
    let sms = ok(&req);
    assert_eq!(sms.text, CYRILLIC);
    assert_eq!(sms.charset.as_deref(), Some("UTF-8"));
    assert_eq!(parse(&req).unwrap().shape(), Shape::Xml);
}

#[test]
fn xml_latin1_document() {
    let mut doc = b"<?xml version='1.0' encoding='ISO-8859-1'?>".to_vec();
    doc.extend_from_slice(
        xml_submit("<da><number>1</number></da><ud>Caf\u{e9}%E9</ud>")
            .replace('\u{e9}', "\u{1}")
            .as_bytes(),
    );
    // Put a real Latin-1 é (0xE9) where the marker is.
    let doc: Vec<u8> = doc
        .into_iter()
        .map(|b| if b == 1 { 0xE9 } else { b })
        .collect();
    let sms = run(&post(None, Some("text/xml"), &[], &doc)).unwrap();
    assert_eq!(sms.text, "Caféé");
    assert_eq!(sms.charset.as_deref(), Some("ISO-8859-1"));
    // A character reference Latin-1 cannot hold, in a Latin-1 document.
    let mut doc = b"<?xml version='1.0' encoding='ISO-8859-1'?>".to_vec();
    doc.extend_from_slice(xml_submit("<da><number>1</number></da><ud>&#x3b1;</ud>").as_bytes());
    assert_eq!(
        run(&post(None, Some("text/xml"), &[], &doc)).unwrap_err(),
        Answer::charset_misformed()
    );
}

#[test]
fn xml_answers() {
    // No <da>: the POST answer.
    assert_eq!(
        xml_run(&xml_submit("<ud>x</ud>")).unwrap_err(),
        Answer::missing_receivers()
    );
    // Blank numbers are no receivers.
    assert_eq!(
        xml_run(&xml_submit("<da><number> </number></da>")).unwrap_err(),
        Answer::missing_receivers()
    );
    // No credentials.
    assert_eq!(
        xml_run("<message><submit><da><number>1</number></da></submit></message>").unwrap_err(),
        Answer::authorization_failed()
    );
    // <user>/<pass> when the long names are absent.
    let doc = "<message><submit><from><user>foo</user><pass>bar</pass></from>\
               <da><number>1</number></da></submit></message>";
    assert!(xml_run(doc).is_ok());
    // Unreadable documents read as requests without credentials, as in Kannel.
    for bad in [
        "",
        "not xml",
        "<message><submit>",
        "<message></submit></message>",
        "<message>&unknown;</message>",
        "<message/><message/>",
        "<?xml version='1.0' encoding='KOI8-R'?><message/>",
        "<message>\u{1}</message>",
        "<message a=1/>",
    ] {
        let params = parse(&post(None, Some("text/xml"), &[], bad.as_bytes())).unwrap();
        assert_eq!(params.shape(), Shape::XmlUnreadable, "{bad}");
        assert_eq!(
            params.credentials().unwrap_err(),
            Answer::authorization_failed()
        );
    }
    // ... unless the query string gives them: then 415 after the receivers.
    let req = post(Some("user=foo&pass=bar&to=1"), Some("text/xml"), &[], b"<x");
    assert_eq!(refused(&req), Answer::unsupported_content_type());
}

#[test]
fn xml_numbers() {
    let da = "<da><number>1</number></da>";
    let with = |inner: &str| xml_run(&xml_submit(&format!("{da}{inner}")));
    assert_eq!(
        with("<dcs><mclass> 2 </mclass></dcs>").unwrap().mclass,
        Some(2)
    );
    assert_eq!(
        with("<dcs><mclass>2.9</mclass></dcs>").unwrap().mclass,
        Some(2)
    );
    assert_eq!(with("<dcs><mclass>-1</mclass></dcs>").unwrap().mclass, None);
    // Not a number: NaN, which Kannel ends up refusing.
    assert_eq!(
        with("<dcs><mclass></mclass></dcs>").unwrap_err(),
        Answer::mclass_misformed()
    );
    assert_eq!(
        with("<dcs><mclass>x</mclass></dcs>").unwrap_err(),
        Answer::mclass_misformed()
    );
    assert_eq!(
        with("<priority>+1</priority>").unwrap_err(),
        Answer::priority_misformed()
    );
    assert_eq!(
        with("<vp><delay>1e3</delay></vp>").unwrap_err(),
        Answer::validity_misformed()
    );
    assert_eq!(
        with("<dcs><mclass>4</mclass></dcs>").unwrap_err(),
        Answer::mclass_misformed()
    );
    // The first of several elements counts.
    assert_eq!(
        with("<dcs><mclass>1</mclass><mclass>9</mclass></dcs>")
            .unwrap()
            .mclass,
        Some(1)
    );
}

#[test]
fn xml_receivers_in_document_order() {
    let doc = xml_submit(
        "<da><number>1</number><number>2</number></da><x><da><number>9</number></da></x>\
         <da><number>3<!-- split -->4</number></da><da><number><![CDATA[5]]></number></da>",
    );
    assert_eq!(xml_run(&doc).unwrap().to, ["1", "2", "3", "4", "5"]);
}

#[test]
fn xml_deep_nesting_is_refused_not_overflowing() {
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let params = parse(&post(None, Some("text/xml"), &[], deep.as_bytes())).unwrap();
    assert_eq!(params.shape(), Shape::XmlUnreadable);
}

// ---------------------------------------------------------------- helpers

#[test]
fn helpers() {
    assert_eq!(url_decode(b"a+b%20c%2"), (b"a b c%2".to_vec(), false));
    assert_eq!(url_decode(b"%41%zz"), (b"A%zz".to_vec(), false));
    assert_eq!(url_decode(b"%C3%A9"), (vec![0xC3, 0xA9], true));
    assert_eq!(hex_decode(b"0aFF"), Some(vec![0x0A, 0xFF]));
    assert_eq!(hex_decode(b""), Some(vec![]));
    assert_eq!(hex_decode(b"abc"), None);
    assert_eq!(hex_decode(b"0g"), None);
    assert_eq!(strip_blanks(b" \t a b\r\n"), b"a b");
    assert_eq!(strip_blanks(b"   "), b"");
    assert_eq!(scan_int(b" -12x"), Some(-12));
    assert_eq!(scan_int(b"+7"), Some(7));
    assert_eq!(scan_int(b"- 7"), None);
    assert_eq!(scan_int(b""), None);
    assert_eq!(scan_int(b"99999999999999999999999"), Some(i64::MAX));
    assert_eq!(xpath_number(" 12 "), 12);
    assert_eq!(xpath_number("-3.7"), -3);
    assert_eq!(xpath_number(".5"), 0);
    assert_eq!(xpath_number("."), XML_NAN);
    assert_eq!(xpath_number("3000000000"), XML_NAN);
    assert_eq!(xpath_number("+1"), XML_NAN);
}

// ---------------------------------------------------------------- garbage

/// A small deterministic generator (xorshift), so the test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, alphabet: &[u8], max: usize) -> Vec<u8> {
        let len = (self.next() as usize) % (max + 1);
        (0..len)
            .map(|_| {
                if self.next() % 8 == 0 {
                    self.next() as u8
                } else {
                    alphabet[(self.next() as usize) % alphabet.len()]
                }
            })
            .collect()
    }
}

#[test]
fn garbage_never_panics() {
    let alphabet: &[u8] = b"<>/&;#x=%+ ?!-[]'\"abcdmnorstuvCDATA0123456789\n\t\xc3\xa9\xff";
    let fragments = [
        &b"<message>"[..],
        b"<submit>",
        b"<da><number>",
        b"</number></da>",
        b"<ud>",
        b"</ud>",
        b"&amp;",
        b"&#x1F600;",
        b"<![CDATA[",
        b"]]>",
        b"<!--",
        b"-->",
        b"<?xml version='1.0' encoding='latin1'?>",
        b"username=foo&password=bar&to=1",
        b"%",
        b"%C3",
    ];
    let content_types = [
        None,
        Some("text/plain"),
        Some("text/xml"),
        Some("application/octet-stream"),
        Some("application/x-www-form-urlencoded"),
        Some("text/html; charset=utf-16"),
        Some("text/plain; charset=\"KOI8-R\""),
        Some(";;=;"),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let mut body = Vec::new();
        for _ in 0..rng.next() % 8 {
            if rng.next() % 2 == 0 {
                body.extend_from_slice(fragments[(rng.next() as usize) % fragments.len()]);
            } else {
                body.extend(rng.bytes(alphabet, 12));
            }
        }
        let query = String::from_utf8_lossy(&rng.bytes(alphabet, 40)).into_owned();
        let header_value = rng.bytes(alphabet, 20);
        let headers: [(&str, &[u8]); 4] = [
            ("X-Kannel-Username", b"foo"),
            ("X-Kannel-Password", b"bar"),
            ("X-Kannel-To", &header_value),
            ("X-Kannel-UDH", &header_value),
        ];
        let req = RawRequest {
            post: rng.next() % 4 != 0,
            query: Some(&query),
            content_type: content_types[(rng.next() as usize) % content_types.len()],
            headers: &headers,
            body: &body,
        };
        let Ok(params) = parse(&req) else { continue };
        let _ = params.credentials();
        for limits in [
            Limits::default(),
            Limits {
                max_messages: 0,
                number_chars: String::new(),
                sender_configured: false,
            },
        ] {
            match params.validate(&limits) {
                Ok(sms) => {
                    assert!(!sms.to.is_empty());
                    let _ = sms.recorded();
                }
                Err(answer) => assert!(!answer.body.ends_with('\n')),
            }
        }
    }
}
