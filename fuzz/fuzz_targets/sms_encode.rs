//! Any text through the SMS-SUBMIT encoder (with or without national language tables)
//! and back: the encoder must not panic, every PDU must decode, the parts must join to
//! the text, and the preview must count what the encoder produces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais_core::sms::pdu::{
    self, Address, EncodingChoice, PhoneNumber, SmscField, SubmitHeader, TextPlan, Tpdu,
};
use relais_core::sms::{ConcatWidth, NationalLanguage, preview_national};

fuzz_target!(|input: (bool, bool, u16, &str)| {
    let (wide, national, reference, text) = input;
    let languages: &[NationalLanguage] = if national {
        &NationalLanguage::ALL
    } else {
        &[]
    };
    let (width, reference) = if wide {
        (ConcatWidth::Ref16, reference)
    } else {
        (ConcatWidth::Ref8, reference & 0xFF)
    };
    let Ok(plan) = TextPlan::with_national(text, EncodingChoice::Auto, width, reference, languages)
    else {
        assert!(preview_national(text, languages).segments.get() > 255);
        return;
    };
    if !wide {
        // The preview assumes the default 8-bit reference.
        assert_eq!(
            plan.segment_count(),
            preview_national(text, languages).segments
        );
    }
    let to = Address::Number(PhoneNumber::parse("+15551234567").unwrap());
    let header = SubmitHeader::new(&to);
    let mut joined = String::new();
    for seg in plan.segments() {
        let mut out = [0u8; pdu::MAX_PDU_LEN];
        let e = pdu::encode_submit(&header, &seg, &mut out).expect("segment encodes");
        let Ok(Tpdu::Submit(s)) = pdu::decode(&out[..e.pdu_len], SmscField::Present) else {
            panic!("our SUBMIT does not decode");
        };
        s.user_data.write_text(&mut joined).unwrap();
    }
    assert_eq!(joined, text);
});
