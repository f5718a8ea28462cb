//! Kannel's XML sendsms format (Kannel user guide, "XML Post"; gw/smsbox.c,
//! `get_x_kannel_from_xml`), read by a small strict XML reader of our own.
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <message>
//!   <submit>
//!     <da><number>+4512345678</number></da>
//!     <da><number>+4587654321</number></da>
//!     <oa><number>relais</number></oa>
//!     <ud>Hello%20world</ud>
//!     <from><username>foo</username><password>bar</password></from>
//!   </submit>
//! </message>
//! ```
//!
//! The reader takes well-formed XML 1.0 without entity declarations: elements,
//! attributes (read and ignored), character and predefined entity references, CDATA,
//! comments, processing instructions and a DOCTYPE (skipped), in UTF-8 or in a
//! single-byte charset named by the XML declaration. Anything else makes the document
//! unreadable, which Kannel (libxml2 failing) and we answer as a request without
//! credentials. Elements are looked up by absolute paths as Kannel's XPath expressions
//! do; elements Kannel does not look at are ignored.

use super::cgi::{hex_decode, url_decode, xpath_number};
use super::charset::Charset;

/// Deeper documents are refused (libxml2 stops at 256; Kannel's format needs 4).
const MAX_DEPTH: usize = 64;

/// What a `<message><submit>` document gives. Strings are stripped of blanks like
/// Kannel's; numbers are XPath numbers truncated to integers (`XML_NAN`
/// for one that is not a number).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Submit {
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) account: Option<String>,
    pub(super) binfo: Option<String>,
    pub(super) from: Option<String>,
    /// Every `<da><number>` text, in document order, blank ones left out.
    pub(super) to: Vec<String>,
    pub(super) udh: Option<Vec<u8>>,
    pub(super) smsc: Option<String>,
    pub(super) pid: Option<i64>,
    pub(super) rpi: Option<i64>,
    pub(super) mclass: Option<i64>,
    pub(super) mwi: Option<i64>,
    pub(super) coding: Option<i64>,
    pub(super) compress: Option<i64>,
    pub(super) alt_dcs: Option<i64>,
    pub(super) dlr_mask: Option<i64>,
    pub(super) dlr_url: Option<String>,
    pub(super) validity: Option<i64>,
    pub(super) deferred: Option<i64>,
    pub(super) priority: Option<i64>,
    pub(super) meta_data: Option<String>,
    /// The encoding the XML declaration names, UTF-8 without one.
    pub(super) charset: String,
    /// `<ud>`: hexadecimal or URL-encoded bytes in the document's charset.
    pub(super) text: Vec<u8>,
    /// `<ud>` holds a character reference its document's charset cannot encode.
    pub(super) text_invalid: bool,
}

/// Reads a sendsms XML document; None when it is not one this reader takes.
pub(super) fn read_submit(body: &[u8]) -> Option<Submit> {
    let doc = Doc::parse(body)?;
    let string = |path: &[&str]| doc.first(path).map(|e| strip(&doc.string_value(e)));
    let number = |path: &[&str]| doc.first(path).map(|e| xpath_number(&doc.string_value(e)));

    let mut submit = Submit {
        username: string(&["message", "submit", "from", "username"])
            .or_else(|| string(&["message", "submit", "from", "user"])),
        password: string(&["message", "submit", "from", "password"])
            .or_else(|| string(&["message", "submit", "from", "pass"])),
        account: string(&["message", "submit", "from", "account"]),
        binfo: string(&["message", "submit", "from", "binfo"]),
        from: string(&["message", "submit", "oa", "number"]),
        to: Vec::new(),
        udh: None,
        // Kannel's user guide gives the smsc-id as <to>; its code looks for <smsc>
        // (and means to fall back to <to>). We take <smsc>, else <to>.
        smsc: string(&["message", "submit", "smsc"])
            .or_else(|| string(&["message", "submit", "to"])),
        pid: number(&["message", "submit", "pid"]),
        rpi: number(&["message", "submit", "rpi"]),
        mclass: number(&["message", "submit", "dcs", "mclass"]),
        mwi: number(&["message", "submit", "dcs", "mwi"]),
        coding: number(&["message", "submit", "dcs", "coding"]),
        compress: number(&["message", "submit", "dcs", "compress"]),
        alt_dcs: number(&["message", "submit", "dcs", "alt-dcs"]),
        dlr_mask: number(&["message", "submit", "statusrequest", "dlr-mask"]),
        dlr_url: string(&["message", "submit", "statusrequest", "dlr-url"]),
        validity: number(&["message", "submit", "vp", "delay"]),
        deferred: number(&["message", "submit", "timing", "delay"]),
        priority: number(&["message", "submit", "priority"]),
        meta_data: string(&["message", "submit", "meta-data"]),
        charset: doc.encoding.clone().unwrap_or_else(|| "UTF-8".into()),
        text: Vec::new(),
        text_invalid: false,
    };

    for number in doc.find(&["message", "submit", "da", "number"]) {
        for text in doc.direct_texts(number) {
            let receiver = strip(text);
            if !receiver.is_empty() {
                submit.to.push(receiver);
            }
        }
    }

    if let Some(udh) = string(&["message", "submit", "udh"]) {
        submit.udh = Some(hex_or_url(udh.as_bytes()));
    }

    if let Some(ud) = string(&["message", "submit", "ud"]) {
        // Literal characters go back to the document's own bytes, so that they and the
        // %XX escapes next to them are read in one charset.
        let mut bytes = Vec::with_capacity(ud.len());
        for c in ud.chars() {
            if !doc.charset.encode_char(c, &mut bytes) {
                submit.text_invalid = true;
            }
        }
        submit.text = hex_or_url(&bytes);
    }
    Some(submit)
}

/// Kannel's reading of `<ud>`, `<udh>` and X-Kannel-UDH: hexadecimal when the field is
/// nothing else, URL-encoded otherwise.
fn hex_or_url(field: &[u8]) -> Vec<u8> {
    hex_decode(field).unwrap_or_else(|| url_decode(field).0)
}

/// Kannel's `octstr_strip_blanks` on a string.
fn strip(s: &str) -> String {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r'))
        .to_owned()
}

/// A parsed document: its elements in document order (the root first).
#[derive(Debug)]
struct Doc {
    elements: Vec<Element>,
    encoding: Option<String>,
    charset: Charset,
}

#[derive(Debug)]
struct Element {
    name: String,
    children: Vec<Child>,
}

#[derive(Debug)]
enum Child {
    Element(usize),
    /// A text node or a CDATA section.
    Text(String),
}

impl Doc {
    fn parse(body: &[u8]) -> Option<Doc> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let encoding = declared_encoding(body)?;
        let charset = match &encoding {
            None => Charset::Utf8,
            Some(name) => Charset::from_name(name)?,
        };
        if charset != Charset::Utf8 && !charset.is_single_byte() {
            return None;
        }
        let text = charset.decode(body)?;
        if !text.chars().all(is_xml_char) {
            return None;
        }
        // XML end-of-line handling: CR LF and lone CR read as LF.
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let mut parser = Parser {
            s: &text,
            pos: 0,
            elements: Vec::new(),
        };
        parser.document()?;
        Some(Doc {
            elements: parser.elements,
            encoding,
            charset,
        })
    }

    /// The elements at an absolute path, in document order.
    fn find(&self, path: &[&str]) -> Vec<usize> {
        let mut found = Vec::new();
        let (Some(root), Some(first)) = (self.elements.first(), path.first()) else {
            return found;
        };
        if root.name != *first {
            return found;
        }
        let mut stack = vec![(0usize, 0usize)];
        while let Some((index, depth)) = stack.pop() {
            if depth + 1 == path.len() {
                found.push(index);
                continue;
            }
            let (Some(element), Some(next)) = (self.elements.get(index), path.get(depth + 1))
            else {
                continue;
            };
            for child in element.children.iter().rev() {
                if let Child::Element(c) = child
                    && self.elements.get(*c).is_some_and(|e| e.name == *next)
                {
                    stack.push((*c, depth + 1));
                }
            }
        }
        found
    }

    fn first(&self, path: &[&str]) -> Option<usize> {
        self.find(path).first().copied()
    }

    /// XPath's string-value: every text below the element, in document order.
    fn string_value(&self, index: usize) -> String {
        let mut out = String::new();
        // (element, next child) frames: iterative, so depth costs no stack.
        let mut frames = vec![(index, 0usize)];
        while let Some((i, next)) = frames.pop() {
            let Some(child) = self.elements.get(i).and_then(|e| e.children.get(next)) else {
                continue;
            };
            frames.push((i, next + 1));
            match child {
                Child::Text(t) => out.push_str(t),
                Child::Element(c) => frames.push((*c, 0)),
            }
        }
        out
    }

    /// The text nodes directly inside an element (XPath `text()`).
    fn direct_texts(&self, index: usize) -> impl Iterator<Item = &str> {
        self.elements
            .get(index)
            .into_iter()
            .flat_map(|e| e.children.iter())
            .filter_map(|c| match c {
                Child::Text(t) => Some(t.as_str()),
                Child::Element(_) => None,
            })
    }
}

/// XML 1.0's `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The `encoding` of an XML declaration at the start of `body`: Ok(None) without a
/// declaration or without the pseudo-attribute, None when the declaration is broken.
fn declared_encoding(body: &[u8]) -> Option<Option<String>> {
    let Some(rest) = body.strip_prefix(b"<?xml") else {
        return Some(None);
    };
    if !rest.first().is_some_and(|b| b.is_ascii_whitespace()) {
        // "<?xml-stylesheet" and the like: a processing instruction, not a declaration.
        return Some(None);
    }
    let end = rest.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(rest.get(..end)?).ok()?;
    let mut encoding = None;
    let mut attrs = decl.trim();
    while !attrs.is_empty() {
        let (name, after) = attrs.split_once('=')?;
        let after = after.trim_start();
        let quote = after.chars().next().filter(|&q| q == '"' || q == '\'')?;
        let after = after.get(1..)?;
        let (value, rest) = after.split_once(quote)?;
        if name.trim() == "encoding" {
            encoding = Some(value.to_owned());
        }
        attrs = rest.trim_start();
    }
    Some(encoding)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    elements: Vec<Element>,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn starts_with(&self, prefix: &str) -> bool {
        self.rest().starts_with(prefix)
    }

    fn advance(&mut self, bytes: usize) {
        self.pos = (self.pos + bytes).min(self.s.len());
    }

    fn skip_space(&mut self) -> bool {
        let rest = self.rest();
        let trimmed = rest.trim_start_matches([' ', '\t', '\n', '\r']);
        let skipped = rest.len() - trimmed.len();
        self.advance(skipped);
        skipped > 0
    }

    /// Moves past the next `end`, returning what came before it.
    fn until(&mut self, end: &str) -> Option<String> {
        let rest = self.rest();
        let at = rest.find(end)?;
        let before = rest.get(..at)?.to_owned();
        self.advance(at + end.len());
        Some(before)
    }

    fn document(&mut self) -> Option<()> {
        // The declaration was read from the bytes; step over it.
        if self.starts_with("<?xml") && self.rest().chars().nth(5).is_some_and(char::is_whitespace)
        {
            self.until("?>")?;
        }
        let mut seen_doctype = false;
        loop {
            self.skip_space();
            if self.starts_with("<!--") {
                self.comment()?;
            } else if self.starts_with("<?") {
                self.pi()?;
            } else if self.starts_with("<!DOCTYPE") && !seen_doctype {
                self.doctype()?;
                seen_doctype = true;
            } else if self.starts_with("<") {
                break;
            } else {
                return None;
            }
        }
        self.element_tree()?;
        loop {
            self.skip_space();
            if self.rest().is_empty() {
                return Some(());
            } else if self.starts_with("<!--") {
                self.comment()?;
            } else if self.starts_with("<?") {
                self.pi()?;
            } else {
                return None;
            }
        }
    }

    fn comment(&mut self) -> Option<()> {
        self.advance(4);
        let body = self.until("-->")?;
        if body.contains("--") || body.ends_with('-') {
            return None;
        }
        Some(())
    }

    fn pi(&mut self) -> Option<()> {
        self.advance(2);
        let body = self.until("?>")?;
        let target = body.split(char::is_whitespace).next().unwrap_or("");
        if target.is_empty() || target.eq_ignore_ascii_case("xml") {
            return None;
        }
        Some(())
    }

    /// Skips `<!DOCTYPE ...>`, an internal subset in brackets included.
    fn doctype(&mut self) -> Option<()> {
        self.advance("<!DOCTYPE".len());
        let mut quote: Option<char> = None;
        let mut in_subset = false;
        let rest = self.rest();
        for (i, c) in rest.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '[') if !in_subset => in_subset = true,
                (None, ']') if in_subset => in_subset = false,
                (None, '>') if !in_subset => {
                    self.advance(i + 1);
                    return Some(());
                }
                _ => {}
            }
        }
        None
    }

    fn name(&mut self) -> Option<String> {
        let rest = self.rest();
        let end = rest
            .char_indices()
            .find(|&(i, c)| !is_name_char(c) || (i == 0 && !is_name_start(c)))
            .map_or(rest.len(), |(i, _)| i);
        if end == 0 {
            return None;
        }
        let name = rest.get(..end)?.to_owned();
        self.advance(end);
        Some(name)
    }

    /// The root element and everything in it, without recursion.
    fn element_tree(&mut self) -> Option<()> {
        let mut open: Vec<usize> = Vec::new();
        let mut text = String::new();
        loop {
            if self.starts_with("</") {
                self.advance(2);
                let name = self.name()?;
                self.skip_space();
                if !self.starts_with(">") {
                    return None;
                }
                self.advance(1);
                let index = open.pop()?;
                let element = self.elements.get_mut(index)?;
                if element.name != name {
                    return None;
                }
                flush_text(element, &mut text);
                if open.is_empty() {
                    return Some(());
                }
            } else if self.starts_with("<!--") {
                self.comment()?;
                self.flush_into(&open, &mut text)?;
            } else if self.starts_with("<![CDATA[") {
                self.advance("<![CDATA[".len());
                let data = self.until("]]>")?;
                self.flush_into(&open, &mut text)?;
                let parent = self.elements.get_mut(*open.last()?)?;
                parent.children.push(Child::Text(data));
            } else if self.starts_with("<?") {
                self.pi()?;
                self.flush_into(&open, &mut text)?;
            } else if self.starts_with("<") {
                self.advance(1);
                if open.len() >= MAX_DEPTH {
                    return None;
                }
                self.flush_into(&open, &mut text)?;
                let name = self.name()?;
                let empty = self.attributes()?;
                let index = self.elements.len();
                self.elements.push(Element {
                    name,
                    children: Vec::new(),
                });
                if let Some(&parent) = open.last() {
                    self.elements
                        .get_mut(parent)?
                        .children
                        .push(Child::Element(index));
                } else if index != 0 {
                    return None;
                }
                if empty {
                    if open.is_empty() {
                        return Some(());
                    }
                } else {
                    open.push(index);
                }
            } else if self.starts_with("&") {
                if open.is_empty() {
                    return None;
                }
                text.push(self.reference()?);
            } else if let Some(c) = self.rest().chars().next() {
                if open.is_empty() {
                    return None;
                }
                if self.starts_with("]]>") {
                    return None;
                }
                text.push(c);
                self.advance(c.len_utf8());
            } else {
                return None;
            }
        }
    }

    /// Ends the current text node, if any, in the innermost open element.
    fn flush_into(&mut self, open: &[usize], text: &mut String) -> Option<()> {
        if let Some(&index) = open.last() {
            flush_text(self.elements.get_mut(index)?, text);
        }
        Some(())
    }

    /// Reads the attributes of a start tag and its end; true for `/>`.
    fn attributes(&mut self) -> Option<bool> {
        loop {
            let spaced = self.skip_space();
            if self.starts_with("/>") {
                self.advance(2);
                return Some(true);
            }
            if self.starts_with(">") {
                self.advance(1);
                return Some(false);
            }
            if !spaced {
                return None;
            }
            self.name()?;
            self.skip_space();
            if !self.starts_with("=") {
                return None;
            }
            self.advance(1);
            self.skip_space();
            let quote = self
                .rest()
                .chars()
                .next()
                .filter(|&q| q == '"' || q == '\'')?;
            self.advance(1);
            loop {
                let c = self.rest().chars().next()?;
                if c == quote {
                    self.advance(1);
                    break;
                } else if c == '<' {
                    return None;
                } else if c == '&' {
                    self.reference()?;
                } else {
                    self.advance(c.len_utf8());
                }
            }
        }
    }

    /// `&name;` (the five predefined entities) or `&#N;` / `&#xH;`.
    fn reference(&mut self) -> Option<char> {
        let rest = self.rest();
        let end = rest.bytes().take(16).position(|b| b == b';')?;
        let name = rest.get(1..end)?;
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let digits = name.strip_prefix('#')?;
                let code = match digits.strip_prefix('x') {
                    Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        u32::from_str_radix(hex, 16).ok()?
                    }
                    None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                        digits.parse().ok()?
                    }
                    _ => return None,
                };
                char::from_u32(code).filter(|&c| is_xml_char(c))?
            }
        };
        self.advance(end + 1);
        Some(c)
    }
}

fn flush_text(element: &mut Element, text: &mut String) {
    if !text.is_empty() {
        element.children.push(Child::Text(std::mem::take(text)));
    }
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == ':' || !c.is_ascii()
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == '-' || c == '.'
}
