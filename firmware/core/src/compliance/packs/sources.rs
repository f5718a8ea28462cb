//! The sources the packs cite; docs/compliance.md describes each under the section named
//! above its group.

use super::{Reliability, Source};

const fn s(cite: &'static str, url: &'static str, reliability: Reliability) -> Source {
    Source {
        cite,
        url: super::text(url),
        reliability,
    }
}
use Reliability::{Industry as I, Law as L, Product as D, Provider as P, Secondary as S};

/// The relais product decisions (docs/compliance.md § Decisions).
pub const RELAIS: Source = s(
    "relais docs/compliance.md",
    "docs/compliance.md#decisions",
    D,
);

// § France
/// AF2M Business Messaging charter, 2024-09-01.
pub const AF2M: Source = s(
    "AF2M charter 2024",
    "https://af2m.org/la-charte-de-deontologie-applicable-aux-services-de-business-messaging-est-effective-depuis-le-1er-septembre-2024",
    I,
);
/// Older Vonage rules and French vendor blogs: 08:00–20:00 (profile `strict`).
pub const FR_STRICT: Source = s(
    "SureSMS/Vonage FR rules, 08-20",
    "https://suresms.com/dk/en/country-specific-rules-and-restrictions/landespecifikke-regler-og-begraensninger-land/?country=FR",
    S,
);
/// Code du travail L3133-1: the 11 fêtes légales.
pub const FR_L3133: Source = s(
    "Code du travail L3133-1",
    "https://www.legifrance.gouv.fr/codes/id/LEGISCTA000033008129/",
    L,
);
/// Alsace-Moselle local law (1892 ordinance).
pub const FR_ALSACE: Source = s(
    "Alsace-Moselle local law",
    "http://drelsassblogfumernest-emile.hautetfort.com/archive/2019/04/20/vendredi-saint-ferie-en-alsace-droit-ou-usage-6145326.html",
    S,
);
/// ARCEP 2022-1583: 06/07 numbers are person-to-person only since 2023-01-01.
pub const ARCEP_2022_1583: Source = s(
    "ARCEP decision 2022-1583",
    "https://legal.tricoteuses.fr/articles/JORFARTI000046830295",
    L,
);
/// CM.com: 36xxx marketing only, 38xxx transactional only; undeclared = marketing.
pub const CM_FR: Source = s(
    "CM.com France",
    "https://help.cmtelecom.com/en/text/countries/sending-sms-to-france",
    P,
);
/// OpenMarket/CALLR: alpha senders must name a 36xxx code for STOP.
pub const OPENMARKET_FR: Source = s(
    "OpenMarket France",
    "https://www.openmarket.com/blog/france-sms/",
    P,
);
/// CPCE L.34-5 as explained by the CNIL: prior consent, free objection in each message.
pub const CNIL_L34_5: Source = s(
    "CPCE L.34-5 (CNIL)",
    "https://cnil.fr./la-prospection-commerciale-par-sms-mms",
    L,
);
/// Twilio France short codes: STOP confirmation, at most 10 segments.
pub const TWILIO_FR: Source = s(
    "Twilio France short codes",
    "https://support.twilio.com/hc/en-us/articles/1260803521969-France-Short-Code-Best-Practices",
    P,
);
/// Bird France: content not allowed.
pub const BIRD_FR: Source = s(
    "Bird France",
    "https://docs.bird.com/connectivity-platform/country-restrictions-and-regulations/france",
    P,
);
/// Brevo: a STOP mention makes a transactional SMS marketing.
pub const BREVO: Source = s(
    "Brevo sendTransacSms",
    "https://developers.brevo.com/reference/sendtransacsms",
    P,
);

// § United States, § US state overlays
/// 47 CFR 64.1200(c)(1): 08:00–21:00 called party's local time.
pub const CFR_64_1200: Source = s(
    "47 CFR 64.1200(c)(1)",
    "https://www.nwdebtresolution.com/post/telephone-consumer-protection-act-call-time-restrictions",
    L,
);
/// TCPA prior express written consent.
pub const TCPA_CONSENT: Source = s(
    "TCPA written consent",
    "https://flowroute.ladesk.com/755975-Messaging-Guidelines---Consumer-Consent",
    P,
);
/// FCC 12-143 (SoundBite): one confirmation text within 5 minutes.
pub const FCC_12_143: Source = s(
    "FCC 12-143 (SoundBite)",
    "http://www.fcc.gov/document/declaratory-ruling-re-soundbite-tcpa-petition",
    L,
);
/// FCC 24-24: revocation by any reasonable means.
pub const FCC_24_24: Source = s(
    "FCC 24-24",
    "https://www.govinfo.gov/content/pkg/FR-2024-03-05/html/2024-04587.htm",
    L,
);
/// CTIA / carrier practice: opt-out instructions in messages.
pub const CTIA: Source = s(
    "CTIA via Twilio",
    "http://www.twilio.com/help/faq/short-codes/what-does-a-compliant-help-and-stop-message-look-like",
    P,
);
/// Telnyx: no alphanumeric senders to US/CA.
pub const TELNYX_ALPHA: Source = s(
    "Telnyx alphanumeric sender ID",
    "https://developers.telnyx.com/docs/messaging/messages/alphanumeric-sender-id",
    P,
);
/// Unregistered 10DLC A2P traffic is blocked.
pub const US_10DLC: Source = s(
    "10DLC registration",
    "https://voxtelesys.com/blog/SMS-Registration",
    S,
);
/// SHAFT + cannabis.
pub const US_SHAFT: Source = s(
    "Postscript SHAFT criteria",
    "https://help.postscript.io/hc/en-us/articles/1260804681769-SHAFT-Compliance-Criteria",
    P,
);
/// Florida 501.616(6), 501.059.
pub const FL_501: Source = s(
    "Fla. Stat. 501.616(6), 501.059",
    "http://www.lawserver.com/law/state/florida/statutes/florida_statutes_501-616",
    L,
);
/// Florida 3-per-24-hours cap.
pub const FL_CAP: Source = s(
    "Fla. Stat. 501.616 (3 per 24 h)",
    "https://blog.clickpointsoftware.com/federal-and-local-call-time-and-date-compliance",
    S,
);
/// Oklahoma Telephone Solicitation Act 2022.
pub const OK_TSA: Source = s(
    "Oklahoma Telephone Solicitation Act 2022",
    "https://dnc.dreamhosters.com/?p=1309",
    S,
);
/// Washington RCW 19.158.040(2).
pub const WA_RCW: Source = s(
    "RCW 19.158.040(2)",
    "https://app.leg.wa.gov/RCW/default.aspx?cite=19.158.040",
    L,
);
/// Texas SB 140.
pub const TX_SB140: Source = s(
    "Texas SB 140",
    "https://www.foster.com/newsroom-alerts-texas-expands-telemarketing-law-to-cover-text-messagesms-marketing-what-companies-need-to-know",
    S,
);
/// Multi-state calling-hours tables.
pub const STATE_TABLES: Source = s(
    "state calling-hours tables",
    "https://www.dropcowboy.com/state-compliance",
    S,
);
/// Holiday-restricted states.
pub const DNC_HOLIDAYS: Source = s(
    "dnc.com holiday alerts",
    "https://dnc.com/holiday-alerts?year=2023",
    S,
);

// § India
/// Exotel's TCCCPR 2018 summary: promotional 9 AM – 9 PM IST.
pub const TCCCPR: Source = s(
    "TRAI TCCCPR 2018 (Exotel)",
    "https://developer.exotel.com/docs/faqs/tcccpr-2018",
    P,
);
/// TCCCPR second amendment 2025: no 10-digit numbers for commercial traffic.
pub const TCCCPR_2025: Source = s(
    "TCCCPR 2nd amendment 2025",
    "https://khaitanco.com/thought-leadership/Efforts-to-Curb-Spam-Continue-TRAI-Releases-Second-Amendment-to-the-TCCCPR-2018",
    S,
);
/// Twilio India: prohibited content.
pub const TWILIO_IN: Source = s(
    "Twilio India guidelines",
    "https://www.twilio.com/en-us/guidelines/in/sms",
    P,
);
/// DLT registered headers.
pub const DLT_HEADERS: Source = s(
    "Vonage India (DLT headers)",
    "https://help.nexmo.com/hc/en-us/articles/204017423-India-Features-Restrictions",
    P,
);

// § Canada
/// CASL unsubscribe mechanism.
pub const CASL: Source = s(
    "CASL",
    "http://www.mondaq.com/canada/x/301380/Charities+Non-Profits/CASL+FAQ+What+Are+The+General+Unsubscribe+Requirements",
    S,
);
/// CWTA mandatory keywords.
pub const CWTA: Source = s(
    "CWTA keywords (Infobip)",
    "https://support.infobip.com/docs/essentials/usa-and-canada-compliance/canadian-mandatory-keyword-responses",
    P,
);
/// CRTC telemarketing rules (unclear for SMS).
pub const CRTC: Source = s(
    "CRTC Unsolicited Telecommunications Rules",
    "https://www.lnnte-dncl.gc.ca/ind/ntr-nrt-eng",
    L,
);

// § United Kingdom
/// PECR regs 22/23.
pub const PECR: Source = s(
    "PECR regs 22/23 (ICO)",
    "http://qqq.informationcommissioner.gov.uk/for_organisations/privacy_and_electronic_communications/the_guide/electronic_mail.aspx",
    L,
);

// § Germany
/// UWG §7.
pub const UWG_7: Source = s("UWG §7", "https://lxgesetze.de/uwg/7", L);
/// Twilio Germany short codes: no hour restrictions.
pub const TWILIO_DE: Source = s(
    "Twilio Germany short codes",
    "https://support.twilio.com/hc/en-us/articles/1260803518849--Germany-Short-Code-Best-Practices",
    P,
);

// § Spain
/// LSSI art. 21.
pub const LSSI: Source = s(
    "LSSI art. 21",
    "https://www.jraulfernandez.es/comunicaciones-comerciales-medios-electronicos/",
    S,
);
/// Spain's hours come only from weak sources (docs/compliance.md § Spain).
pub const ES_NO_HOURS: Source = s(
    "ES hours: only [W] claims",
    "https://www.sent.dm/resources/spain-sms-guide",
    S,
);

// § Italy
/// AGCOM delibera 12/23/CIR: alias register.
pub const AGCOM: Source = s(
    "AGCOM delibera 12/23/CIR",
    "https://promotionplus.it/sms-con-mittente-personalizzato-alfanumerico",
    L,
);
/// Twilio Italy short codes.
pub const TWILIO_IT: Source = s(
    "Twilio Italy short codes",
    "https://support.twilio.com/hc/en-us/articles/4409339027739-Italy-Short-Code-Best-Practises",
    P,
);

// § Belgium
/// GOF guidelines.
pub const GOF: Source = s(
    "GOF guidelines (CM.com)",
    "https://help.cmtelecom.com/en/text/belgium/what-are-the-guidelines-for-sms-in-belgium",
    P,
);
/// Mailpro: no time restrictions, alpha overwritten.
pub const MAILPRO_BE: Source = s(
    "Mailpro Belgium",
    "https://de.mailpro.com/faq/sms-regulierungen-belgien",
    S,
);

// § Brazil
/// Twilio Brazil: Mon–Sat 09–22, no Sunday.
pub const TWILIO_BR: Source = s(
    "Twilio Brazil guidelines",
    "https://www.twilio.com/en/guidelines/br/sms",
    P,
);
/// ClickSend Brazil: no public holidays.
pub const CLICKSEND_BR: Source = s(
    "ClickSend Brazil",
    "https://help.clicksend.com/article/an2xy6g7zu-brazil",
    P,
);
/// Anatel: SAIR.
pub const ANATEL: Source = s(
    "Anatel (SAIR)",
    "https://link.estadao.com.br/noticias/geral,publicidade-via-sms-podera-ser-bloqueada,10000035375",
    S,
);

// § Kenya
/// Safaricom rules as relayed by Uwazii.
pub const SAFARICOM: Source = s(
    "Safaricom rules (Uwazii)",
    "https://support.uwaziimobile.com/portal/en/kb/articles/new-messaging-regulation-safaricom-kenya",
    I,
);
/// Kenya DP (General) Regulations 2021 reg. 15.
pub const KE_DPR: Source = s(
    "KE DP (General) Regs 2021 reg. 15",
    "http://www.privacywatch.co.ke/portal/the-data-protection-regulations-2021/the-data-protection-general-regulations-2021/part-iii-restrictions-on-the-commercial-use-of-personal-data/15-permitted-commercial-use-of-personal-data/",
    L,
);
/// Kenya Consumer Protection Regulations 2010.
pub const KE_CPR: Source = s(
    "KE Consumer Protection Regs 2010",
    "https://new.kenyalaw.org/akn/ke/act/ln/2010/54/eng@2022-12-31",
    L,
);
/// Clickatell Kenya.
pub const CLICKATELL_KE: Source = s(
    "Clickatell Kenya",
    "https://www.clickatell.com/help-center/sms/country-regulations/kenya-sms-messaging-regulations-and-restrictions",
    P,
);

// § Nigeria
/// NCC rule via Africa's Talking: no promotional SMS 20:00–08:00.
pub const NCC_AT: Source = s(
    "NCC rule (Africa's Talking)",
    "https://status.africastalking.com/incident/538/",
    P,
);
/// NCC Short Code Guidelines s.6.
pub const NCC_SC: Source = s(
    "NCC Short Code Guidelines s.6",
    "https://www.clxcommunications.com/privacy-policy/compliance-guide/nigeria/",
    P,
);

// § South Africa
/// CPA s.12 + Regulation 4 (GN R293).
pub const ZA_R293: Source = s(
    "CPA s.12 + Reg. 4 (GN R293)",
    "https://www.acts.co.za/consumer-protection-act-2008/r293_prohibited_time_for_contacting_consumers",
    L,
);
/// POPIA s.69.
pub const POPIA: Source = s(
    "POPIA s.69",
    "https://www.popiact-compliance.co.za/popia-information/13-direct-marketing",
    S,
);
/// WASPA code.
pub const WASPA: Source = s(
    "WASPA code of conduct",
    "https://prionyx.waspa.org.za/code-of-conduct/17.9",
    I,
);
