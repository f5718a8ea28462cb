//! SMS codec against published vectors.
//!
//! Sources (each vector names its own):
//! - [AT-PDU §6.3] /work/shared/reference/AT-PDU.md §6.3: the SMS-DELIVER
//!   `07915892000000F0040B9158…` (Developer's Home AT-command SMS tutorial message, also
//!   python-gsmmodem's test_pdu.py) and the SMS-STATUS-REPORT `0006D60B9113…`
//!   (python-gsmmodem test_pdu.py), with python-gammu's decoded fields.
//! - [gammu sendsms] AT-PDU.md §6.4: the PDU gammu 1.42 writes for
//!   `gammu sendsms TEXT +15551234567 -text "Hello World!"` (observed on the wire).
//! - [gammu EncodePDU] PDUs produced by Debian python3-gammu 3.2.4 / libgammu 1.42 with the
//!   `encode_submit` helper of AT-PDU.md §6.3 (G2, G4, G5 there; the others with the same
//!   helper): SMSC +15550000000, TP-VP 0xFF, TP-MR 0, fixed concatenation reference.
//! - [TS 23.040] 3GPP TS 23.040 §9.2.3.24 (fill bits, UDL counting the header),
//!   §9.2.3.15 (TP-ST), TS 23.038 §6.2.1 (alphabet, extension table).

use relais_core::sms::pdu::{
    self, Address, DeliverHeader, EncodingChoice, MessageClass, MessageReference, PhoneNumber,
    RelativeValidity, SmscField, Status, StatusKind, StatusReportFields, SubmitHeader, TextPlan,
    Timestamp, Tpdu, encode_deliver, encode_status_report, encode_submit,
};
use relais_core::sms::{ConcatWidth, Encoding};

fn unhex(h: &str) -> Vec<u8> {
    let mut buf = vec![0u8; h.len() / 2 + 1];
    let n = pdu::hex::decode(h, &mut buf).expect("hex");
    buf.truncate(n);
    buf
}

fn hex(b: &[u8]) -> String {
    let mut s = String::new();
    pdu::hex::write(b, &mut s).unwrap();
    s
}

/// Encodes `text` as SMS-SUBMITs the way gammu's helper does (SMSC +15550000000,
/// VP 0xFF, MR 0) and returns `(tpdu_len, hex)` per segment.
fn gammu_like_submit(
    text: &str,
    choice: EncodingChoice,
    width: ConcatWidth,
    reference: u16,
    class: Option<MessageClass>,
) -> Vec<(usize, String)> {
    let smsc = PhoneNumber::parse("+15550000000").unwrap();
    let to = Address::Number(PhoneNumber::parse("+15551234567").unwrap());
    let mut h = SubmitHeader::new(&to);
    h.smsc = Some(&smsc);
    h.validity = Some(RelativeValidity(0xFF));
    h.class = class;
    let plan = TextPlan::new(text, choice, width, reference).unwrap();
    plan.segments()
        .map(|seg| {
            let mut out = [0u8; pdu::MAX_PDU_LEN];
            let e = encode_submit(&h, &seg, &mut out).unwrap();
            (e.tpdu_len, hex(&out[..e.pdu_len]))
        })
        .collect()
}

fn decode_hex(h: &str) -> (Vec<u8>, SmscField) {
    (unhex(h), SmscField::Present)
}

#[test]
fn deliver_7bit_developershome() {
    // [AT-PDU §6.3]
    let (b, s) = decode_hex(
        "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E",
    );
    let Tpdu::Deliver(d) = pdu::decode(&b, s).unwrap() else {
        panic!("not a DELIVER")
    };
    assert_eq!(d.smsc.unwrap().to_string(), "+85290000000");
    assert_eq!(d.from.to_string(), "+85291234567");
    assert_eq!(d.timestamp.to_string(), "2007-04-12T23:25:42+08:00");
    assert_eq!(d.dcs.encoding, Encoding::Gsm7);
    assert_eq!(d.dcs.class, None);
    assert_eq!(
        d.user_data.text().as_str(),
        "It is easy to read text messages via AT commands."
    );
    assert_eq!(d.user_data.udh.concat, None);
}

#[test]
fn status_report_python_gsmmodem() {
    // [AT-PDU §6.3]: MR 214, recipient +31628870634, status 0 (delivered).
    let (b, s) = decode_hex("0006D60B911326880736F4111011719551401110117195714000");
    let Tpdu::StatusReport(r) = pdu::decode(&b, s).unwrap() else {
        panic!("not a report")
    };
    assert_eq!(r.smsc, None);
    assert_eq!(r.message_reference, MessageReference(214));
    assert_eq!(r.recipient.to_string(), "+31628870634");
    assert_eq!(r.timestamp.to_string(), "2011-01-11T17:59:15+01:00");
    assert_eq!(r.discharge_time.to_string(), "2011-01-11T17:59:17+01:00");
    assert_eq!(r.status, Status(0));
    assert_eq!(r.status.kind(), StatusKind::Delivered);
}

#[test]
fn status_kinds_ts23040() {
    // [TS 23.040] §9.2.3.15 ranges.
    assert_eq!(Status(0x01).kind(), StatusKind::Delivered);
    assert_eq!(Status(0x21).kind(), StatusKind::Pending);
    assert_eq!(Status(0x46).kind(), StatusKind::PermanentFailure);
    assert_eq!(Status(0x46).description(), "SM validity period expired");
    assert_eq!(Status(0x62).kind(), StatusKind::TemporaryFailure);
    assert_eq!(Status(0x80).kind(), StatusKind::Reserved);
}

#[test]
fn submit_hello_world_gammu_sendsms() {
    // [gammu sendsms]: AT+CMGS=25 and this exact PDU.
    let segs = gammu_like_submit(
        "Hello World!",
        EncodingChoice::Auto,
        ConcatWidth::Ref8,
        0,
        None,
    );
    assert_eq!(
        segs,
        vec![(
            25,
            "07915155000000F011000B915155214365F70000FF0CC8329BFD065DDF72363904".into()
        )]
    );
}

#[test]
fn submit_extension_chars() {
    // [gammu EncodePDU] "Price: 5€ [x]": €, [ and ] cost two septets each (16 septets).
    let segs = gammu_like_submit(
        "Price: 5€ [x]",
        EncodingChoice::Auto,
        ConcatWidth::Ref8,
        0,
        None,
    );
    assert_eq!(
        segs[0].1,
        "07915155000000F011000B915155214365F70000FF1050797A5CD6816A9B3268C3C36F7C"
    );
}

#[test]
fn submit_ucs2_emoji_surrogate_pair() {
    // [gammu EncodePDU] G2: "Hi 😀" in UCS-2, 😀 as D83D DE00.
    let segs = gammu_like_submit(
        "Hi \u{1F600}",
        EncodingChoice::Ucs2,
        ConcatWidth::Ref8,
        0,
        None,
    );
    assert_eq!(
        segs[0].1,
        "07915155000000F011000B915155214365F70008FF0A004800690020D83DDE00"
    );
    // Auto picks UCS-2 too (😀 is not in GSM 7-bit).
    let auto = gammu_like_submit(
        "Hi \u{1F600}",
        EncodingChoice::Auto,
        ConcatWidth::Ref8,
        0,
        None,
    );
    assert_eq!(auto, segs);
}

#[test]
fn submit_multipart_7bit() {
    // [gammu EncodePDU] G5: 161 × 'A', reference 0x42: UDL 0xA0 = 7 header septets + 153,
    // one fill bit after the 6-octet UDH ([TS 23.040] §9.2.3.24).
    let segs = gammu_like_submit(
        &"A".repeat(161),
        EncodingChoice::Auto,
        ConcatWidth::Ref8,
        0x42,
        None,
    );
    assert_eq!(segs.len(), 2);
    assert!(
        segs[0].1.starts_with(
            "07915155000000F051000B915155214365F70000FFA005000342020182C16030180C0683"
        )
    );
    assert_eq!(segs[0].0, 154); // gammu: AT+CMGS=154 (AT-PDU.md §6.4)
    assert_eq!(
        segs[1].1,
        "07915155000000F051000B915155214365F70000FF0F05000342020282C16030180C0601"
    );
}

#[test]
fn submit_multipart_7bit_16bit_reference() {
    // [gammu EncodePDU] 200 × 'B', 16-bit reference 0x1234: 7-octet UDH, no fill bits,
    // 152 septets in part 1.
    let segs = gammu_like_submit(
        &"B".repeat(200),
        EncodingChoice::Auto,
        ConcatWidth::Ref16,
        0x1234,
        None,
    );
    assert_eq!(segs.len(), 2);
    assert!(
        segs[0].1.starts_with(
            "07915155000000F051000B915155214365F70000FFA00608041234020142A15028140A85"
        )
    );
    assert_eq!(
        segs[1].1,
        "07915155000000F051000B915155214365F70000FF380608041234020242A15028140A8542A15028140A8542A15028140A8542A15028140A8542A15028140A8542A15028140A85"
    );
}

#[test]
fn submit_multipart_ucs2() {
    // [gammu EncodePDU] "Привет! " × 10 (80 UTF-16 units) with reference 0x99: 67 + 13.
    let segs = gammu_like_submit(
        &"Привет! ".repeat(10),
        EncodingChoice::Auto,
        ConcatWidth::Ref8,
        0x99,
        None,
    );
    assert_eq!(segs.len(), 2);
    assert!(
        segs[0]
            .1
            .starts_with("07915155000000F051000B915155214365F70008FF8C050003990201041F")
    );
    assert_eq!(
        segs[1].1,
        "07915155000000F051000B915155214365F70008FF2005000399020204320435044200210020041F0440043804320435044200210020"
    );
}

#[test]
fn class0_flash() {
    // [gammu EncodePDU] G4 uses DCS 0xF0 (data coding group); we write 0x10 (general group
    // with class bits, as python-gsmmodem `sendFlash` does). Both mean 7-bit class 0
    // (TS 23.038 §4); we must read gammu's and ours alike.
    let gammu = unhex("07915155000000F011000B915155214365F700F0FF064676788E0E01");
    let Tpdu::Submit(s) = pdu::decode(&gammu, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!(
        (s.dcs.encoding, s.dcs.class),
        (Encoding::Gsm7, Some(MessageClass::Class0))
    );
    assert_eq!(s.user_data.text().as_str(), "Flash!");
    let ours = gammu_like_submit(
        "Flash!",
        EncodingChoice::Auto,
        ConcatWidth::Ref8,
        0,
        Some(MessageClass::Class0),
    );
    assert_eq!(
        ours[0].1,
        "07915155000000F011000B915155214365F70010FF064676788E0E01"
    );
}

#[test]
fn deliver_alphanumeric_originator() {
    // Originator "Megafon" = 0DD0CDF2396C7EBB01 ([AT-PDU §4.2], python-gsmmodem test_pdu.py);
    // python-gammu DecodePDU reads this PDU as Number 'Megafon', text 'Your code is 1234'.
    let h =
        "07915155000000F0040DD0CDF2396C7EBB0100004250607080900011D9775D0E1ABFC965507A0E8AC96634";
    let bytes = unhex(h);
    let Tpdu::Deliver(d) = pdu::decode(&bytes, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!(d.from, Address::alphanumeric("Megafon").unwrap());
    assert_eq!(d.user_data.text().as_str(), "Your code is 1234");
    assert_eq!(d.timestamp.to_string(), "2024-05-06T07:08:09+00:00");
    // And our DELIVER encoder writes the same octets.
    let smsc = PhoneNumber::parse("+15550000000").unwrap();
    let header = DeliverHeader {
        smsc: Some(&smsc),
        from: &d.from,
        timestamp: d.timestamp,
        class: None,
        protocol_id: 0,
        more_messages: false,
        status_report_indication: false,
    };
    let plan = TextPlan::new(
        "Your code is 1234",
        EncodingChoice::Auto,
        ConcatWidth::Ref8,
        0,
    )
    .unwrap();
    let seg = plan.segments().next().unwrap();
    let mut out = [0u8; pdu::MAX_PDU_LEN];
    let e = encode_deliver(&header, &seg, &mut out).unwrap();
    assert_eq!(hex(&out[..e.pdu_len]), h);
}

#[test]
fn status_report_encode_round_trip() {
    let to = Address::Number(PhoneNumber::parse("+31628870634").unwrap());
    let ts = |second| Timestamp {
        year: 2011,
        month: 1,
        day: 11,
        hour: 17,
        minute: 59,
        second,
        offset_quarters: 4,
    };
    let f = StatusReportFields {
        smsc: None,
        message_reference: MessageReference(214),
        recipient: &to,
        timestamp: ts(15),
        discharge_time: ts(17),
        status: Status(0),
    };
    let mut out = [0u8; pdu::MAX_PDU_LEN];
    let e = encode_status_report(&f, &mut out).unwrap();
    // [AT-PDU §6.3] byte for byte.
    assert_eq!(
        hex(&out[..e.pdu_len]),
        "0006D60B911326880736F4111011719551401110117195714000"
    );
    assert_eq!(e.tpdu_len, 25);
}

#[test]
fn hostile_inputs_are_errors() {
    use pdu::DecodeError::*;
    let d = |h: &str| pdu::decode(&unhex(h), SmscField::Present).map(|_| ());
    assert_eq!(d(""), Err(Truncated));
    assert_eq!(d("00"), Err(Truncated));
    assert_eq!(d("0003"), Err(UnsupportedType(3)));
    // UDL 161 septets.
    assert_eq!(d("0004038121F3000042506070809000A1"), Err(UserDataTooLong));
    // UDL says 10 septets, data has 2 octets.
    assert_eq!(d("0004038121F300004250607080900A0A4142"), Err(Truncated));
    // UDHI set, UDHL 9 but UD only 5 octets.
    assert_eq!(
        d("0044038121F30004425060708090000509000003AA"),
        Err(InvalidUdh)
    );
    // UCS-2 with 3 octets.
    assert_eq!(
        d("0004038121F3000842506070809000030041FF"),
        Err(OddUcs2Length)
    );
    // Month 13.
    assert_eq!(
        d("0004038121F30000421360708090000141"),
        Err(InvalidTimestamp)
    );
    // Compressed.
    assert_eq!(d("0004038121F30020425060708090000141"), Err(Compressed));
    let mut buf = [0u8; 4];
    assert_eq!(pdu::hex::decode("0G", &mut buf), Err(InvalidHex));
    assert_eq!(pdu::hex::decode("123", &mut buf), Err(InvalidHex));
    assert_eq!(
        pdu::hex::decode("0011223344", &mut buf),
        Err(BufferTooSmall)
    );
}

#[test]
fn eight_bit_deliver() {
    // DCS 0x04, UDL 3: bytes 00 FF 7F kept as they are.
    let b = unhex("0004038121F30004425060708090000300FF7F");
    let Tpdu::Deliver(d) = pdu::decode(&b, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!(d.dcs.encoding, Encoding::EightBit);
    assert_eq!(d.user_data.octets(), Some(&[0x00, 0xFF, 0x7F][..]));
    assert_eq!(d.from.to_string(), "123");
}

#[test]
fn national_language_shift_tables() {
    // [TS 23.040] §9.2.3.24.15-16 and TS 23.038 A.2.1/A.3.1, octets worked out by hand:
    // UDH `03 24 01 01` (single shift, Turkish) is 4 octets = 5 septets with 3 fill bits;
    // `ğ` is ESC 0x67 in the Turkish single shift table: septets 1B 67 → D8 9C 01.
    let to = Address::Number(PhoneNumber::parse("+905321234567").unwrap());
    let header = SubmitHeader::new(&to);
    let encode = |text: &str| {
        let plan = TextPlan::with_national(
            text,
            EncodingChoice::Gsm7,
            ConcatWidth::Ref8,
            0,
            &[relais_core::sms::NationalLanguage::Turkish],
        )
        .unwrap();
        let seg = plan.segments().next().unwrap();
        let mut out = [0u8; pdu::MAX_PDU_LEN];
        let e = encode_submit(&header, &seg, &mut out).unwrap();
        hex(&out[..e.pdu_len])
    };
    assert_eq!(encode("ğ"), "0041000C9109351232547600000703240101D89C01");
    // Decoding it back, and the locking shift form of `ş` (septet 0x1D): `03 25 01 01 E8 00`.
    let b = unhex("0041000C9109351232547600000703240101D89C01");
    let Tpdu::Submit(s) = pdu::decode(&b, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!(s.user_data.text().as_str(), "ğ");
    let b = unhex("0041000C9109351232547600000603250101E800");
    let Tpdu::Submit(s) = pdu::decode(&b, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!(s.user_data.udh.locking_shift, Some(1));
    assert_eq!(s.user_data.text().as_str(), "ş");
    // Language id 6 (Hindi) has no table here: the default alphabet is used (0x1D = æ).
    let b = unhex("0041000C9109351232547600000603250106E800");
    let Tpdu::Submit(s) = pdu::decode(&b, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!(s.user_data.text().as_str(), "æ");
}

#[test]
fn submit_validity_formats_and_report_parameters() {
    use pdu::Validity;
    // [TS 23.040] §9.2.3.3/§9.2.3.12: VPF 11 absolute (7 octets), VPF 01 enhanced (7 octets).
    let abs = unhex("0019000B915155214365F70000425060708090000141");
    let Tpdu::Submit(s) = pdu::decode(&abs, SmscField::Present).unwrap() else {
        panic!()
    };
    assert!(
        matches!(s.validity, Validity::Absolute(t) if t.to_string() == "2024-05-06T07:08:09+00:00")
    );
    assert_eq!(s.user_data.text().as_str(), "A");
    let enh = unhex("0009000B915155214365F70000010200000000000141");
    let Tpdu::Submit(s) = pdu::decode(&enh, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!(s.validity, Validity::Enhanced([1, 2, 0, 0, 0, 0, 0]));
    // STATUS-REPORT with TP-PI = 0x03 (PID and DCS present), then PI = 0xFF with nothing
    // after it: the latter is truncated.
    let base = String::from("0006D60B911326880736F4111011719551401110117195714000");
    let with_pi = unhex(&(base.clone() + "030008"));
    let Tpdu::StatusReport(r) = pdu::decode(&with_pi, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!(
        (r.protocol_id, r.dcs.map(|d| d.encoding)),
        (Some(0), Some(Encoding::Ucs2))
    );
    let hostile = unhex(&(base + "FF"));
    assert_eq!(
        pdu::decode(&hostile, SmscField::Present),
        Err(pdu::DecodeError::Truncated)
    );
}
