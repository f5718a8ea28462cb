//! SMS codec against published vectors.
//!
//! Sources (each vector names its own):
//! - [modems.md vectors] docs/modems.md § Oracle calls and vectors: the SMS-DELIVER
//!   `07915892000000F0040B9158…` (Developer's Home AT-command SMS tutorial message, also
//!   python-gsmmodem's test_pdu.py) and the SMS-STATUS-REPORT `0006D60B9113…`
//!   (python-gsmmodem test_pdu.py), with python-gammu's decoded fields.
//! - [gammu sendsms] docs/modems.md § Oracle calls and vectors: the PDU gammu 1.42 writes for
//!   `gammu sendsms TEXT +15551234567 -text "Hello World!"` (observed on the wire).
//! - [gammu EncodePDU] PDUs produced by Debian python3-gammu 3.2.4 / libgammu 1.42 with the
//!   helper of tests/oracle/gammu_pdu.py (docs/modems.md § Oracle calls and vectors): SMSC
//!   +15550000000, TP-VP 0xFF, TP-MR 0, fixed concatenation reference.
//! - [gammu at-sms] gammu's collection of `AT+CMGR` answers from real modems
//!   (github.com/gammu/gammu, `tests/at-sms/NN.dump`), each vector naming its file.
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
    // [modems.md vectors]
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
    // [modems.md vectors]: MR 214, recipient +31628870634, status 0 (delivered).
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
    assert_eq!(segs[0].0, 154); // gammu: AT+CMGS=154 (docs/modems.md § Oracle calls and vectors)
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
    // Originator "Megafon" = 0DD0CDF2396C7EBB01 (docs/modems.md § Address fields,
    // python-gsmmodem test_pdu.py); python-gammu DecodePDU reads this PDU as Number
    // 'Megafon', text 'Your code is 1234'.
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
    // [modems.md vectors] byte for byte.
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
    // UDHI set, UDHL 9 but UD only 5 octets: no usable header, but not an error either
    // (`udhi_without_a_usable_header_is_read_as_text`).
    assert_eq!(d("0044038121F30004425060708090000509000003AA"), Ok(()));
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
    // STATUS-REPORT with TP-PI = 0x03 (PID and DCS present); TP-PI = 0xFF is storage
    // padding, not parameters (`status_report_parameters_are_read_leniently`).
    let base = String::from("0006D60B911326880736F4111011719551401110117195714000");
    let with_pi = unhex(&(base.clone() + "030008"));
    let Tpdu::StatusReport(r) = pdu::decode(&with_pi, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!(
        (r.protocol_id, r.dcs.map(|d| d.encoding)),
        (Some(0), Some(Encoding::Ucs2))
    );
    let padded = unhex(&(base + "FF"));
    let Tpdu::StatusReport(r) = pdu::decode(&padded, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!((r.protocol_id, r.dcs, r.user_data), (None, None, None));
}

/// [gammu at-sms] 32.dump: a status report read from storage, 0xFF after the TPDU.
fn sr_storage_padded() -> String {
    let record = "079124602009999002AB098106845688F8907080517375809070805183018000";
    format!("{record}{}", "FF".repeat(143))
}

#[test]
fn status_report_from_sr_storage_padded_with_ff() {
    // [gammu at-sms] 32.dump: `AT+CMGR=1` → `+CMGR: 3,,29` and 175 octets: the SMSC field,
    // a 24-octet SMS-STATUS-REPORT and 0xFF up to the end of the storage record, from
    // where TP-PI would be. libgammu reads it; it used to fail here as truncated (TP-PI 0xFF
    // read as "extension octet follows", forever).
    let b = unhex(&sr_storage_padded());
    assert_eq!(b.len(), 175);
    let Tpdu::StatusReport(r) = pdu::decode(&b, SmscField::Present).unwrap() else {
        panic!("not a report")
    };
    assert_eq!(r.smsc.unwrap().to_string(), "+420602909909");
    assert_eq!(r.message_reference, MessageReference(171));
    // A national-form recipient (TON unknown), as the SC wrote it.
    assert_eq!(r.recipient.to_string(), "604865888");
    assert_eq!(r.timestamp.to_string(), "2009-07-08T15:37:57+02:00");
    assert_eq!(r.discharge_time.to_string(), "2009-07-08T15:38:10+02:00");
    assert_eq!(r.status, Status::DELIVERED);
    assert!(r.more_messages);
    assert_eq!((r.protocol_id, r.dcs, r.user_data), (None, None, None));
}

#[test]
fn status_report_parameters_are_read_leniently() {
    // [TS 23.040] §9.2.3.27: reserved TP-PI bits are ignored; 0xFF is storage filler;
    // an extension octet or an announced field that is not there leaves the parameters
    // out, never the report. MR 214 / ST 0 always come through.
    let base = "0006D60B911326880736F4111011719551401110117195714000";
    let report = |tail: &str| {
        let b = unhex(&format!("{base}{tail}"));
        match pdu::decode(&b, SmscField::Present) {
            Ok(Tpdu::StatusReport(r)) => {
                assert_eq!(
                    (r.message_reference.0, r.status),
                    (214, Status(0)),
                    "{tail}"
                );
                let text = r.user_data.map(|u| u.text().as_str().to_owned());
                (r.protocol_id, r.dcs.map(|d| d.raw), text)
            }
            other => panic!("{tail}: {other:?}"),
        }
    };
    let nothing = (None, None, None);
    for tail in [
        "", "FF", "FFFFFFFF", "80", "8000", "80FFFF", "78", "7F", "04", "04FF",
    ] {
        assert_eq!(report(tail), nothing, "TP-PI and what follows: {tail}");
    }
    // Real parameters are still read, through an extension octet and reserved bits.
    let hello = (None, Some(0), Some("Hello".to_owned()));
    assert_eq!(report("060005C8329BFD06"), hello);
    // TP-PI 0x86: extension octet 00 follows, then DCS and UDL/UD.
    assert_eq!(report("86000005C8329BFD06"), hello);
    assert_eq!(report("7E0005C8329BFD06"), hello);
    assert_eq!(report("0142"), (Some(0x42), None, None));
    // [gammu at-sms] 34.dump: TP-PI 06 with an empty GSM 7-bit user data.
    let b = unhex("07911614786007F006060B911634092142F4019071011000040190710110450400060000");
    let Tpdu::StatusReport(r) = pdu::decode(&b, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!(r.recipient.to_string(), "+61439012244");
    assert_eq!(r.dcs.map(|d| d.encoding), Some(Encoding::Gsm7));
    assert_eq!(r.user_data.map(|u| u.units()), Some(0));
}

#[test]
fn udhi_without_a_usable_header_is_read_as_text() {
    // (TP-MR, TP-DA, header elements, text) of an SMS-SUBMIT.
    let submit = |h: &str| match pdu::decode(&unhex(h), SmscField::Present) {
        Ok(Tpdu::Submit(s)) => (
            s.message_reference.0,
            s.to.to_string(),
            s.user_data.udh,
            s.user_data.text().as_str().to_owned(),
        ),
        other => panic!("{h}: {other:?}"),
    };
    let no_udh = pdu::Udh::default();
    // [gammu at-sms] 20.dump: a stored SMS-SUBMIT (`+CMGR: 1,,78`), first octet 0xD5 with
    // TP-UDHI set, and TP-UDL 0: no header, no text. It used to be refused.
    assert_eq!(
        submit("058163465010D5B00C8163460653332000000000"),
        (176, "366460353302".into(), no_udh, String::new())
    );
    // [gammu at-sms] 19.dump: a stored SMS-SUBMIT with TP-UDHI and an empty header
    // (UDHL 0): the text starts after it, at septet 2.
    let s = submit(
        "069134660405F151000C8160460653332000F1001600C034DC86B3CBA063B8DDAE83DAE5F93C7C2E03",
    );
    assert_eq!((s.2, s.3.as_str()), (no_udh, "Sample Gammu message"));
    // TP-UDHI set over plain GSM 7-bit text: the first octet (0xC8, from `H`) read as
    // UDHL runs past the user data, so there is no header and all of it is text.
    let s = submit("0051000B915155214365F70000A705C8329BFD06");
    assert_eq!((s.2, s.3.as_str()), (no_udh, "Hello"));
    // The same over UCS-2 text: UDHL 0 (the high octet of `H`) would leave 9 octets of
    // UCS-2; without a header the 10 octets are 5 characters.
    let s = submit("0051000B915155214365F70008A70A00480065006C006C006F");
    assert_eq!((s.2, s.3.as_str()), (no_udh, "Hello"));
    // [TS 23.040] §9.2.3.24: a header that fits but whose last element runs past UDHL
    // (`00 05 17` in UDHL 3) is ignored as a whole; the text after it stays.
    let b = unhex("0044038121F3000042506070809000070300051740A601");
    let Tpdu::Deliver(d) = pdu::decode(&b, SmscField::Present).unwrap() else {
        panic!()
    };
    assert_eq!(d.user_data.udh, no_udh);
    assert_eq!(d.user_data.text().as_str(), "Hi");
    // What still fails: user data shorter than TP-UDL says, and UCS-2 text of an odd
    // length whichever way it is read.
    let d = |h: &str| pdu::decode(&unhex(h), SmscField::Present).map(|_| ());
    assert_eq!(
        d("0051000B915155214365F70000A70AC8329BFD06"),
        Err(pdu::DecodeError::Truncated)
    );
    assert_eq!(
        d("0051000B915155214365F70008A70B0500480065006C006C006F"),
        Err(pdu::DecodeError::OddUcs2Length)
    );
}

#[test]
fn writing_stays_strict() {
    // Reading is lenient; what we write always has TP-UDHI exactly when a header is
    // written, and a header that fits its UDHL (the 7-bit concat header of a two-part
    // text: `05 00 03 RR 02 01`).
    let to = Address::Number(PhoneNumber::parse("+15551234567").unwrap());
    let header = SubmitHeader::new(&to);
    let text = "x".repeat(200);
    let plan = TextPlan::new(&text, EncodingChoice::Auto, ConcatWidth::Ref8, 7).unwrap();
    for seg in plan.segments() {
        let mut out = [0u8; pdu::MAX_PDU_LEN];
        let e = encode_submit(&header, &seg, &mut out).unwrap();
        let h = hex(&out[..e.pdu_len]);
        // SMSC 00, first octet 0x41 (SUBMIT + UDHI), then the header after UDL.
        assert!(h.starts_with("0041"), "{h}");
        assert!(h[28..].starts_with("05000307"), "{h}");
    }
    let single = TextPlan::new("Hello", EncodingChoice::Auto, ConcatWidth::Ref8, 7).unwrap();
    let seg = single.segments().next().unwrap();
    let mut out = [0u8; pdu::MAX_PDU_LEN];
    let e = encode_submit(&header, &seg, &mut out).unwrap();
    assert!(hex(&out[..e.pdu_len]).starts_with("0001"));
}
