//! `+CMS ERROR` and `+CME ERROR` codes, and whether retrying later can help.
//!
//! Codes and meanings: 3GPP TS 27.005 §3.2.5 (`+CMS ERROR`: 0–127 RP-cause from
//! TS 24.011 Annex E-2, 128–255 TP-FCS from TS 23.040 §9.2.3.22, 300–511 TS 27.005,
//! 512+ manufacturer specific) and TS 27.007 §9.2 (`+CME ERROR`), as tabulated in
//! docs/modems.md § Error codes (gammu's `CMSErrorCodes[]`/`CMEErrorCodes[]`). Codes
//! without a named variant are kept as `Unknown(code)`, never dropped.

use core::fmt;

use super::fields;

/// Whether an error is worth retrying later with the same message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ErrorClass {
    /// A temporary condition (network, congestion, busy SIM or modem): try again later.
    RetryLater,
    /// The message or its parameters are refused and will be refused again.
    Permanent,
}

/// A `+CMS ERROR: <err>` code (TS 27.005 §3.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CmsError {
    /// 1: unassigned (unallocated) number (RP-cause, TS 24.011 Annex E-2).
    UnassignedNumber,
    /// 8: operator determined barring.
    OperatorBarring,
    /// 10: call barred.
    CallBarred,
    /// 21: short message transfer rejected.
    TransferRejected,
    /// 27: destination out of service.
    DestinationOutOfService,
    /// 28: unidentified subscriber.
    UnidentifiedSubscriber,
    /// 29: facility rejected.
    FacilityRejected,
    /// 30: unknown subscriber.
    UnknownSubscriber,
    /// 38: network out of order.
    NetworkOutOfOrder,
    /// 41: temporary failure.
    TemporaryFailure,
    /// 42: congestion.
    Congestion,
    /// 47: resources unavailable, unspecified.
    ResourcesUnavailable,
    /// 50: requested facility not subscribed.
    FacilityNotSubscribed,
    /// 69: requested facility not implemented.
    FacilityNotImplemented,
    /// 81: invalid short message transfer reference value.
    InvalidTransferReference,
    /// 95: invalid message, unspecified.
    InvalidMessage,
    /// 96: invalid mandatory information.
    InvalidMandatoryInformation,
    /// 97: message type non-existent or not implemented.
    MessageTypeNotImplemented,
    /// 98: message not compatible with short message protocol state.
    MessageNotCompatible,
    /// 99: information element non-existent or not implemented.
    InformationElementNotImplemented,
    /// 111: protocol error, unspecified.
    ProtocolError,
    /// 127: interworking, unspecified.
    Interworking,
    /// 0xC0: SC busy (TP-FCS, TS 23.040 §9.2.3.22).
    ScBusy,
    /// 0xC1: no SC subscription.
    NoScSubscription,
    /// 0xC2: SC system failure.
    ScSystemFailure,
    /// 0xC3: invalid SME address.
    InvalidSmeAddress,
    /// 0xC4: destination SME barred.
    DestinationBarred,
    /// 0xC5: SM rejected, duplicate SM.
    DuplicateRejected,
    /// 300: ME failure (TS 27.005 §3.2.5).
    MeFailure,
    /// 301: SMS service of ME reserved.
    ServiceReserved,
    /// 302: operation not allowed.
    NotAllowed,
    /// 303: operation not supported.
    NotSupported,
    /// 304: invalid PDU mode parameter.
    InvalidPduParameter,
    /// 305: invalid text mode parameter.
    InvalidTextParameter,
    /// 310: SIM not inserted.
    SimNotInserted,
    /// 311: SIM PIN required.
    SimPinRequired,
    /// 312: PH-SIM PIN required.
    PhSimPinRequired,
    /// 313: SIM failure.
    SimFailure,
    /// 314: SIM busy.
    SimBusy,
    /// 315: SIM wrong.
    SimWrong,
    /// 316: SIM PUK required.
    SimPukRequired,
    /// 320: memory failure.
    MemoryFailure,
    /// 321: invalid memory index.
    InvalidMemoryIndex,
    /// 322: memory full.
    MemoryFull,
    /// 330: SMSC address unknown.
    SmscAddressUnknown,
    /// 331: no network service.
    NoNetworkService,
    /// 332: network timeout.
    NetworkTimeout,
    /// 340: no `+CNMA` acknowledgement expected.
    NoCnmaExpected,
    /// 500: unknown error (SIMCom's catch-all).
    UnknownError,
    /// Any other code, kept as received.
    Unknown(u16),
    /// A verbose (`AT+CMEE=2`) text that is not in our table.
    UnrecognisedText,
}

/// Named CMS codes, in one table so that `from_code` and `code` cannot drift.
const CMS_CODES: &[(u16, CmsError)] = &[
    (1, CmsError::UnassignedNumber),
    (8, CmsError::OperatorBarring),
    (10, CmsError::CallBarred),
    (21, CmsError::TransferRejected),
    (27, CmsError::DestinationOutOfService),
    (28, CmsError::UnidentifiedSubscriber),
    (29, CmsError::FacilityRejected),
    (30, CmsError::UnknownSubscriber),
    (38, CmsError::NetworkOutOfOrder),
    (41, CmsError::TemporaryFailure),
    (42, CmsError::Congestion),
    (47, CmsError::ResourcesUnavailable),
    (50, CmsError::FacilityNotSubscribed),
    (69, CmsError::FacilityNotImplemented),
    (81, CmsError::InvalidTransferReference),
    (95, CmsError::InvalidMessage),
    (96, CmsError::InvalidMandatoryInformation),
    (97, CmsError::MessageTypeNotImplemented),
    (98, CmsError::MessageNotCompatible),
    (99, CmsError::InformationElementNotImplemented),
    (111, CmsError::ProtocolError),
    (127, CmsError::Interworking),
    (0xC0, CmsError::ScBusy),
    (0xC1, CmsError::NoScSubscription),
    (0xC2, CmsError::ScSystemFailure),
    (0xC3, CmsError::InvalidSmeAddress),
    (0xC4, CmsError::DestinationBarred),
    (0xC5, CmsError::DuplicateRejected),
    (300, CmsError::MeFailure),
    (301, CmsError::ServiceReserved),
    (302, CmsError::NotAllowed),
    (303, CmsError::NotSupported),
    (304, CmsError::InvalidPduParameter),
    (305, CmsError::InvalidTextParameter),
    (310, CmsError::SimNotInserted),
    (311, CmsError::SimPinRequired),
    (312, CmsError::PhSimPinRequired),
    (313, CmsError::SimFailure),
    (314, CmsError::SimBusy),
    (315, CmsError::SimWrong),
    (316, CmsError::SimPukRequired),
    (320, CmsError::MemoryFailure),
    (321, CmsError::InvalidMemoryIndex),
    (322, CmsError::MemoryFull),
    (330, CmsError::SmscAddressUnknown),
    (331, CmsError::NoNetworkService),
    (332, CmsError::NetworkTimeout),
    (340, CmsError::NoCnmaExpected),
    (500, CmsError::UnknownError),
];

/// Verbose texts (`AT+CMEE=2`) of the TS 27.005 §3.2.5 range.
const CMS_TEXTS: &[(&str, u16)] = &[
    ("ME failure", 300),
    ("SMS service of ME reserved", 301),
    ("operation not allowed", 302),
    ("operation not supported", 303),
    ("invalid PDU mode parameter", 304),
    ("invalid text mode parameter", 305),
    ("SIM not inserted", 310),
    ("SIM PIN required", 311),
    ("PH-SIM PIN required", 312),
    ("SIM failure", 313),
    ("SIM busy", 314),
    ("SIM wrong", 315),
    ("SIM PUK required", 316),
    ("memory failure", 320),
    ("invalid memory index", 321),
    ("memory full", 322),
    ("SMSC address unknown", 330),
    ("no network service", 331),
    ("network timeout", 332),
    ("no +CNMA acknowledgement expected", 340),
    ("unknown error", 500),
];

impl CmsError {
    /// The error for a numeric code; codes without a name become [`CmsError::Unknown`].
    pub fn from_code(code: u16) -> Self {
        CMS_CODES
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(CmsError::Unknown(code), |&(_, e)| e)
    }

    /// The numeric code, if known (`None` only for [`CmsError::UnrecognisedText`]).
    pub fn code(self) -> Option<u16> {
        match self {
            CmsError::Unknown(code) => Some(code),
            CmsError::UnrecognisedText => None,
            named => CMS_CODES.iter().find(|(_, e)| *e == named).map(|&(c, _)| c),
        }
    }

    /// Parses the parameter of `+CMS ERROR:`: a number, or a verbose text.
    pub fn parse(param: &[u8]) -> Self {
        if let Some(code) = fields::parse_u16(param) {
            return Self::from_code(code);
        }
        let text = fields::trim(param);
        CMS_TEXTS
            .iter()
            .find(|(t, _)| t.as_bytes().eq_ignore_ascii_case(text))
            .map_or(CmsError::UnrecognisedText, |&(_, c)| Self::from_code(c))
    }

    /// Whether sending the same message again later can succeed.
    ///
    /// RP-causes follow the temporary/permanent split of TS 24.011 Annex E-2 (27, 38,
    /// 41, 42, 47 temporary); TP-FCS "SC busy" and "SC system failure" are temporary;
    /// SIM, network and ME conditions (300, 310–316, 320, 322, 331, 332, 500) concern
    /// the device, not the message, so the message is retried after recovery. 304
    /// ("invalid PDU mode parameter") is retried too: our PDUs are checked against
    /// gammu, so in the field 304 means the hex was garbled on the serial line, and the
    /// modem sent nothing (the agent bounds the retries). Other codes describing a bad
    /// PDU or a refused destination are permanent. Unknown codes in
    /// the manufacturer range (512+) are mostly "busy"/"not ready" (gammu's table:
    /// 515, 522, 532, 535) and retry, except the PDU-format ones (549–554).
    pub fn class(self) -> ErrorClass {
        use CmsError::*;
        match self {
            DestinationOutOfService
            | NetworkOutOfOrder
            | TemporaryFailure
            | Congestion
            | ResourcesUnavailable
            | ScBusy
            | ScSystemFailure
            | MeFailure
            | SimNotInserted
            | SimPinRequired
            | PhSimPinRequired
            | SimFailure
            | SimBusy
            | SimWrong
            | SimPukRequired
            | MemoryFailure
            | MemoryFull
            | NoNetworkService
            | NetworkTimeout
            | UnknownError
            | InvalidPduParameter
            | UnrecognisedText => ErrorClass::RetryLater,
            Unknown(code) => match code {
                549..=554 => ErrorClass::Permanent,
                512.. => ErrorClass::RetryLater,
                0xD0..=0xFF => ErrorClass::RetryLater,
                _ => ErrorClass::Permanent,
            },
            _ => ErrorClass::Permanent,
        }
    }
}

impl fmt::Display for CmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code() {
            Some(code) => write!(f, "+CMS ERROR {code} ({self:?})"),
            None => f.write_str("+CMS ERROR (unrecognised text)"),
        }
    }
}

impl core::error::Error for CmsError {}

/// A `+CME ERROR: <err>` code (TS 27.007 §9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CmeError {
    /// 0: phone failure.
    PhoneFailure,
    /// 3: operation not allowed.
    NotAllowed,
    /// 4: operation not supported.
    NotSupported,
    /// 5: PH-SIM PIN required.
    PhSimPinRequired,
    /// 10: SIM not inserted.
    SimNotInserted,
    /// 11: SIM PIN required.
    SimPinRequired,
    /// 12: SIM PUK required.
    SimPukRequired,
    /// 13: SIM failure.
    SimFailure,
    /// 14: SIM busy.
    SimBusy,
    /// 15: SIM wrong.
    SimWrong,
    /// 16: incorrect password.
    IncorrectPassword,
    /// 20: memory full.
    MemoryFull,
    /// 21: invalid index.
    InvalidIndex,
    /// 22: not found.
    NotFound,
    /// 23: memory failure.
    MemoryFailure,
    /// 30: no network service.
    NoNetworkService,
    /// 31: network timeout.
    NetworkTimeout,
    /// 32: network not allowed, emergency calls only.
    EmergencyOnly,
    /// 100: unknown.
    Unknown100,
    /// 515: device busy, please wait (vendor, Wavecom; python-gsmmodem retries it).
    DeviceBusy,
    /// Any other code, kept as received.
    Unknown(u16),
    /// A verbose (`AT+CMEE=2`) text that is not in our table.
    UnrecognisedText,
}

const CME_CODES: &[(u16, CmeError, &str)] = &[
    (0, CmeError::PhoneFailure, "phone failure"),
    (3, CmeError::NotAllowed, "operation not allowed"),
    (4, CmeError::NotSupported, "operation not supported"),
    (5, CmeError::PhSimPinRequired, "PH-SIM PIN required"),
    (10, CmeError::SimNotInserted, "SIM not inserted"),
    (11, CmeError::SimPinRequired, "SIM PIN required"),
    (12, CmeError::SimPukRequired, "SIM PUK required"),
    (13, CmeError::SimFailure, "SIM failure"),
    (14, CmeError::SimBusy, "SIM busy"),
    (15, CmeError::SimWrong, "SIM wrong"),
    (16, CmeError::IncorrectPassword, "incorrect password"),
    (20, CmeError::MemoryFull, "memory full"),
    (21, CmeError::InvalidIndex, "invalid index"),
    (22, CmeError::NotFound, "not found"),
    (23, CmeError::MemoryFailure, "memory failure"),
    (30, CmeError::NoNetworkService, "no network service"),
    (31, CmeError::NetworkTimeout, "network timeout"),
    (
        32,
        CmeError::EmergencyOnly,
        "network not allowed - emergency calls only",
    ),
    (100, CmeError::Unknown100, "unknown"),
    (515, CmeError::DeviceBusy, "device busy"),
];

impl CmeError {
    /// The error for a numeric code; codes without a name become [`CmeError::Unknown`].
    pub fn from_code(code: u16) -> Self {
        CME_CODES
            .iter()
            .find(|(c, _, _)| *c == code)
            .map_or(CmeError::Unknown(code), |&(_, e, _)| e)
    }

    /// The numeric code, if known (`None` only for [`CmeError::UnrecognisedText`]).
    pub fn code(self) -> Option<u16> {
        match self {
            CmeError::Unknown(code) => Some(code),
            CmeError::UnrecognisedText => None,
            named => CME_CODES
                .iter()
                .find(|(_, e, _)| *e == named)
                .map(|&(c, _, _)| c),
        }
    }

    /// Parses the parameter of `+CME ERROR:`: a number, or a verbose text.
    pub fn parse(param: &[u8]) -> Self {
        if let Some(code) = fields::parse_u16(param) {
            return Self::from_code(code);
        }
        let text = fields::trim(param);
        CME_CODES
            .iter()
            .find(|(_, _, t)| t.as_bytes().eq_ignore_ascii_case(text))
            .map_or(CmeError::UnrecognisedText, |&(_, e, _)| e)
    }

    /// Whether the same command can succeed later: busy, SIM, network and unknown
    /// conditions retry (python-gsmmodem retries 14 and 515, docs/modems.md § Quirk 6);
    /// "not allowed", "not supported", wrong passwords and bad indexes are permanent.
    pub fn class(self) -> ErrorClass {
        use CmeError::*;
        match self {
            NotAllowed | NotSupported | IncorrectPassword | InvalidIndex | NotFound
            | SimPukRequired | SimPinRequired | PhSimPinRequired => ErrorClass::Permanent,
            _ => ErrorClass::RetryLater,
        }
    }
}

impl fmt::Display for CmeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code() {
            Some(code) => write!(f, "+CME ERROR {code} ({self:?})"),
            None => f.write_str("+CME ERROR (unrecognised text)"),
        }
    }
}

impl core::error::Error for CmeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_kept() {
        for &(code, err) in CMS_CODES {
            assert_eq!(CmsError::from_code(code), err);
            assert_eq!(err.code(), Some(code));
        }
        for &(code, err, _) in CME_CODES {
            assert_eq!(CmeError::from_code(code), err);
            assert_eq!(err.code(), Some(code));
        }
        assert_eq!(CmsError::from_code(549), CmsError::Unknown(549));
        assert_eq!(CmsError::Unknown(549).code(), Some(549));
        assert_eq!(CmeError::parse(b"9999"), CmeError::Unknown(9999));
    }

    #[test]
    fn verbose_forms() {
        assert_eq!(
            CmsError::parse(b"invalid memory index"),
            CmsError::InvalidMemoryIndex
        );
        assert_eq!(
            CmeError::parse(b"SIM not inserted"),
            CmeError::SimNotInserted
        );
        assert_eq!(CmeError::parse(b"sim busy"), CmeError::SimBusy);
        assert_eq!(CmsError::parse(b"gremlins"), CmsError::UnrecognisedText);
    }

    #[test]
    fn classification_per_cited_cause() {
        // TS 24.011 Annex E-2: congestion and network out of order are temporary.
        assert_eq!(CmsError::parse(b"42").class(), ErrorClass::RetryLater);
        assert_eq!(CmsError::parse(b"38").class(), ErrorClass::RetryLater);
        // Unassigned number, barred, bad PDU: permanent.
        assert_eq!(CmsError::parse(b"1").class(), ErrorClass::Permanent);
        assert_eq!(CmsError::parse(b"549").class(), ErrorClass::Permanent);
        // 304 is what a PDU garbled on the serial line gets: send it again.
        assert_eq!(CmsError::parse(b"304").class(), ErrorClass::RetryLater);
        // Device-side trouble: retry after recovery.
        assert_eq!(CmsError::parse(b"331").class(), ErrorClass::RetryLater);
        assert_eq!(CmsError::parse(b"535").class(), ErrorClass::RetryLater);
        assert_eq!(CmeError::parse(b"14").class(), ErrorClass::RetryLater);
        assert_eq!(CmeError::parse(b"3").class(), ErrorClass::Permanent);
    }
}
