//! Byte transcripts of the interpreter and random input that must never panic.

use super::*;
use crate::sim::rng::Rng;

/// A network that accepts everything instantly and remembers it.
#[derive(Default)]
struct Net {
    sent: Vec<Submission>,
    latency: i64,
}

impl Network for Net {
    fn submit(&mut self, _: &str, _: SimInstant, s: Submission) -> SubmitOutcome {
        self.sent.push(s);
        SubmitOutcome {
            result: Ok(()),
            latency: SimDuration(self.latency),
        }
    }
    fn ussd(&mut self, _: &str, _: &str) -> Option<String> {
        None
    }
}

const T0: SimInstant = SimInstant(1_772_784_000_000); // 2026-03-06T08:00:00Z

fn modem(profile: &str) -> Modem {
    Modem::new("m", ModemConfig::preset(profile).unwrap(), UtcOffset(4))
}

fn say(m: &mut Modem, net: &mut Net, input: &str) -> String {
    m.feed(input.as_bytes(), T0, net);
    String::from_utf8(m.take_output()).unwrap()
}

fn inbound(text: &str) -> Inbound {
    Inbound {
        from: "+33611111111".into(),
        scts: T0,
        data: pdu::segment_text(text, 1).remove(0),
    }
}

#[test]
fn numeric_results_with_v0() {
    let (mut m, mut n) = (modem("sim800"), Net::default());
    say(&mut m, &mut n, "ATE0V0\r");
    assert_eq!(say(&mut m, &mut n, "AT\r"), "0\r");
    assert_eq!(say(&mut m, &mut n, "AT+BOGUS\r"), "4\r");
    assert_eq!(say(&mut m, &mut n, "AT+CGMI\r"), "SIMCOM_Ltd\r\n0\r");
}

#[test]
fn urc_waits_while_the_client_is_typing_a_command() {
    let (mut m, mut n) = (modem("sim800"), Net::default());
    say(&mut m, &mut n, "ATE0\r");
    assert_eq!(say(&mut m, &mut n, "AT+CS"), "");
    m.deliver(inbound("hi")).unwrap();
    assert_eq!(m.take_output(), b"", "not in the middle of a command line");
    assert_eq!(
        say(&mut m, &mut n, "Q\r"),
        "\r\n+CSQ: 20,0\r\n\r\nOK\r\n\r\n+CMTI: \"SM\",1\r\n"
    );
}

#[test]
fn urc_race_puts_the_urc_between_echo_and_answer() {
    let mut cfg = ModemConfig::preset("sim800").unwrap();
    cfg.urc_race = 1.0;
    let (mut m, mut n) = (Modem::new("m", cfg, UtcOffset(4)), Net::default());
    assert_eq!(say(&mut m, &mut n, "AT+CS"), "AT+CS");
    m.deliver(inbound("hi")).unwrap();
    assert_eq!(
        say(&mut m, &mut n, "Q\r"),
        "Q\r\r\n+CMTI: \"SM\",1\r\n\r\n+CSQ: 20,0\r\n\r\nOK\r\n"
    );
}

#[test]
fn cnmi_mode_0_buffers_sms_indications_until_mode_2() {
    let (mut m, mut n) = (modem("sim800"), Net::default());
    say(&mut m, &mut n, "ATE0;+CNMI=0,1,0,0,0\r");
    m.deliver(inbound("one")).unwrap();
    assert_eq!(m.take_output(), b"");
    assert_eq!(
        say(&mut m, &mut n, "AT+CNMI=2,1,0,0,0\r"),
        "\r\nOK\r\n\r\n+CMTI: \"SM\",1\r\n"
    );
}

#[test]
fn write_then_send_from_storage() {
    let (mut m, mut n) = (modem("sim800"), Net::default());
    say(&mut m, &mut n, "ATE0;+CMGF=1\r");
    assert_eq!(say(&mut m, &mut n, "AT+CMGW=\"+33612345678\"\r"), "\r\n> ");
    assert_eq!(
        say(&mut m, &mut n, "Stored text\x1a"),
        "\r\n+CMGW: 1\r\n\r\nOK\r\n"
    );
    assert_eq!(
        say(&mut m, &mut n, "AT+CMSS=1\r"),
        "\r\n+CMSS: 1\r\n\r\nOK\r\n"
    );
    assert_eq!(n.sent[0].text, "Stored text");
    assert_eq!(n.sent[0].to, "+33612345678");
    // Listed in PDU mode as STO SENT (3) with the SUBMIT PDU it was stored as.
    say(&mut m, &mut n, "AT+CMGF=0\r");
    let list = say(&mut m, &mut n, "AT+CMGL=4\r");
    assert!(list.starts_with("\r\n+CMGL: 1,3,,"), "{list:?}");
    // CMSS to another number overrides the destination.
    say(&mut m, &mut n, "AT+CMSS=1,\"+33687654321\"\r");
    assert_eq!(n.sent[1].to, "+33687654321");
}

#[test]
fn cmgs_answers_after_the_submit_latency_and_ignores_input_meanwhile() {
    let (mut m, mut n) = (modem("sim800"), Net::default());
    n.latency = 3000;
    say(&mut m, &mut n, "ATE0;+CMGF=1\r");
    say(&mut m, &mut n, "AT+CMGS=\"+33612345678\"\r");
    assert_eq!(say(&mut m, &mut n, "x\x1a"), "");
    assert_eq!(say(&mut m, &mut n, "AT\r"), "", "busy: input discarded");
    m.tick(T0 + SimDuration(2999));
    assert_eq!(m.take_output(), b"");
    m.tick(T0 + SimDuration(3000));
    assert_eq!(m.take_output(), b"\r\n+CMGS: 1\r\n\r\nOK\r\n");
}

#[test]
fn sim7600_indexes_from_zero_and_bare_prompt() {
    let mut cfg = ModemConfig::preset("sim7600").unwrap();
    cfg.bare_prompt = true;
    let (mut m, mut n) = (Modem::new("m", cfg, UtcOffset(0)), Net::default());
    say(&mut m, &mut n, "ATE0\r");
    m.deliver(inbound("x")).unwrap();
    assert_eq!(m.take_output(), b"\r\n+CMTI: \"SM\",0\r\n");
    assert_eq!(say(&mut m, &mut n, "AT+CMGS=20\r"), "\r\n>\r\n");
}

#[test]
fn pin_unlock_flow() {
    let mut cfg = ModemConfig::preset("sim800").unwrap();
    cfg.pin = Some("1234".into());
    let (mut m, mut n) = (Modem::new("m", cfg, UtcOffset(0)), Net::default());
    say(&mut m, &mut n, "ATE0;+CMEE=1\r");
    assert_eq!(
        say(&mut m, &mut n, "AT+CPIN?\r"),
        "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
    );
    assert_eq!(
        say(&mut m, &mut n, "AT+CMGL=4\r"),
        "\r\n+CMS ERROR: 311\r\n"
    );
    assert_eq!(
        say(&mut m, &mut n, "AT+CPIN=\"0000\"\r"),
        "\r\n+CME ERROR: 16\r\n"
    );
    assert_eq!(
        say(&mut m, &mut n, "AT+CPIN=\"1234\"\r"),
        "\r\nOK\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"
    );
    assert_eq!(
        say(&mut m, &mut n, "AT+CREG?\r"),
        "\r\n+CREG: 0,1\r\n\r\nOK\r\n"
    );
}

#[test]
fn three_wrong_pins_block_the_sim_until_its_puk() {
    let mut cfg = ModemConfig::preset("sim800").unwrap();
    cfg.pin = Some("1234".into());
    let (mut m, mut n) = (Modem::new("m", cfg, UtcOffset(0)), Net::default());
    say(&mut m, &mut n, "ATE0;+CMEE=1\r");
    for left in [2, 1, 0] {
        assert_eq!(
            say(&mut m, &mut n, "AT+CPIN=\"0000\"\r"),
            "\r\n+CME ERROR: 16\r\n"
        );
        assert_eq!(m.pin_attempts(), left);
    }
    assert_eq!(m.sim_lock(), "puk");
    assert_eq!(
        say(&mut m, &mut n, "AT+CPIN?\r"),
        "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n"
    );
    assert_eq!(
        say(&mut m, &mut n, "AT+CMGL=4\r"),
        "\r\n+CMS ERROR: 316\r\n"
    );
    // Even the right PIN is refused now, and a reboot does not help.
    assert_eq!(
        say(&mut m, &mut n, "AT+CPIN=\"1234\"\r"),
        "\r\n+CME ERROR: 12\r\n"
    );
    m.tick(T0);
    m.reboot(T0);
    m.tick(T0 + SimDuration::from_secs(5));
    assert!(
        String::from_utf8_lossy(&m.take_output()).contains("+CPIN: SIM PUK"),
        "boot URCs"
    );
    assert_eq!(m.sim_lock(), "puk");
}

#[test]
fn a_correct_pin_restores_the_attempts() {
    let mut cfg = ModemConfig::preset("sim800").unwrap();
    cfg.pin = Some("1234".into());
    let (mut m, mut n) = (Modem::new("m", cfg, UtcOffset(0)), Net::default());
    say(&mut m, &mut n, "ATE0;+CMEE=1\r");
    say(&mut m, &mut n, "AT+CPIN=\"0000\"\r");
    say(&mut m, &mut n, "AT+CPIN=\"0000\"\r");
    assert_eq!(m.pin_attempts(), 1);
    say(&mut m, &mut n, "AT+CPIN=\"1234\"\r");
    assert_eq!((m.sim_lock(), m.pin_attempts()), ("none", 3));
}

#[test]
fn sim_busy_after_reboot() {
    let mut cfg = ModemConfig::preset("sim800").unwrap();
    cfg.sim_busy = SimDuration::from_secs(8);
    let (mut m, mut n) = (Modem::new("m", cfg, UtcOffset(0)), Net::default());
    m.tick(T0);
    m.reboot(T0);
    m.tick(T0 + SimDuration::from_secs(3));
    m.take_output();
    let at = |m: &mut Modem, n: &mut Net, secs: i64, line: &str| {
        m.feed(line.as_bytes(), T0 + SimDuration::from_secs(secs), n);
        String::from_utf8(m.take_output()).unwrap()
    };
    at(&mut m, &mut n, 3, "ATE0;+CMEE=1\r");
    assert_eq!(at(&mut m, &mut n, 4, "AT+CIMI\r"), "\r\n+CME ERROR: 14\r\n");
    assert_eq!(
        at(&mut m, &mut n, 5, "AT+CPMS?\r"),
        "\r\n+CMS ERROR: 314\r\n"
    );
    assert!(at(&mut m, &mut n, 11, "AT+CPMS?\r").starts_with("\r\n+CPMS: "));
}

#[test]
fn delete_flags() {
    let (mut m, mut n) = (modem("sim800"), Net::default());
    say(&mut m, &mut n, "ATE0;+CNMI=2,0,0,0,0\r");
    for t in ["a", "b", "c"] {
        m.deliver(inbound(t)).unwrap();
    }
    say(&mut m, &mut n, "AT+CMGR=2\r");
    say(&mut m, &mut n, "AT+CMGD=1,1\r"); // read ones only
    assert_eq!(
        say(&mut m, &mut n, "AT+CPMS?\r"),
        "\r\n+CPMS: \"SM\",2,30,\"SM\",2,30,\"SM\",2,30\r\n\r\nOK\r\n"
    );
    say(&mut m, &mut n, "AT+CMGD=1,4\r");
    assert_eq!(say(&mut m, &mut n, "AT+CMGL=4\r"), "\r\nOK\r\n");
}

/// Nothing a client sends may panic the modem: random bytes, random AT-shaped
/// lines, and prompts fed with garbage, in both modes.
#[test]
fn random_input_never_panics() {
    let mut rng = Rng::keyed(99, "fuzz");
    let words = [
        "AT",
        "+CMGS=",
        "+CMGW=",
        "+CMGL=",
        "+CMGR=",
        "+CMGD=",
        "+CPMS=",
        "+CNMI=",
        "+CMGF=1",
        "+CMGF=0",
        "+CSCS=\"UCS2\"",
        "+CSCS=\"HEX\"",
        "+CSCA=",
        "+CCLK=",
        "+CUSD=1,",
        "+CMSS=",
        "+CFUN=",
        "E0",
        "V0",
        "\"",
        ",",
        ";",
        "?",
        "=?",
        "9",
        "0",
        "255",
        "99999999999999999999",
        "\x1a",
        "\x1b",
        "\r",
        "00",
        "FF",
        "07",
        "11",
        "41",
        "0791",
        "ZZ",
        "-1",
    ];
    for round in 0..300 {
        let (mut m, mut n) = (
            modem(if round % 2 == 0 { "sim800" } else { "sim7600" }),
            Net::default(),
        );
        for k in 0..200 {
            let input: Vec<u8> = if k % 3 == 0 {
                (0..rng.below(40))
                    .map(|_| (rng.next_u64() & 0xFF) as u8)
                    .collect()
            } else {
                (0..rng.below(8))
                    .flat_map(|_| words[rng.below(words.len())].bytes())
                    .collect()
            };
            m.feed(&input, T0 + SimDuration(k), &mut n);
            m.tick(T0 + SimDuration(k * 1000));
            if rng.chance(0.05) {
                let _ = m.deliver(inbound("random"));
            }
            if rng.chance(0.02) {
                m.reboot(T0);
            }
            let _ = m.take_output();
        }
    }
}
