//! HL7 v2.5 messages as SS-MIX2 stores them: ISO-2022-JP text whose segments end in CR, split by
//! the delimiters the message header declares (JAHIS conventions; docs/site-inputs.md).
//!
//! The whole file is decoded before anything is split: inside an ISO-2022-JP run of two-byte
//! characters (`ESC $ B … ESC ( B`) the bytes 0x21–0x7E can equal `|`, `^`, `~`, `\` or `&`, so
//! splitting the bytes first would cut characters in half. Fields are kept raw (escaped) and
//! unescaped only when read, after splitting, as HL7 requires.

use std::fmt;

/// Why a file is not an HL7 message this reader can take, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// A byte sequence ISO-2022-JP cannot decode, at this byte offset of the file.
    Undecodable { offset: usize },
    /// The file does not begin with an `MSH` segment declaring its delimiters.
    NoHeader,
    /// A segment whose name is not three letters or digits, on this segment number (1 = MSH).
    BadSegmentName { segment: usize, name: String },
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::Undecodable { offset } => {
                write!(f, "byte {offset} is not ISO-2022-JP text (the encoding SS-MIX2 prescribes)")
            }
            Unreadable::NoHeader => write!(
                f,
                "it does not begin with an MSH segment declaring its delimiters (e.g. MSH|^~\\&|): not an HL7 v2 message"
            ),
            Unreadable::BadSegmentName { segment, name } => {
                write!(f, "segment {segment} is named {name:?}: a segment name is three letters or digits")
            }
        }
    }
}

/// Decode a file's bytes from ISO-2022-JP (its ASCII part and JIS X 0208); the offset of the
/// first byte that cannot be decoded is named.
pub fn decode(bytes: &[u8]) -> Result<String, Unreadable> {
    crate::site::decode::strictly(encoding_rs::ISO_2022_JP, bytes).map_err(|offset| Unreadable::Undecodable { offset })
}

/// The delimiters a message declares in MSH-1 and MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Delimiters {
    field: char,
    component: char,
    repetition: char,
    escape: char,
    subcomponent: char,
}

/// One message: its segments in order.
#[derive(Debug, Clone)]
pub struct Message {
    delimiters: Delimiters,
    segments: Vec<Segment>,
}

/// One segment: its name and its fields, raw (still escaped). `fields[0]` is field 1.
#[derive(Debug, Clone)]
pub struct Segment {
    pub name: String,
    /// Its place in the message, 1 for the MSH segment: what messages name.
    pub number: usize,
    fields: Vec<String>,
}

/// Split decoded text into a message. Segments end in CR; a LF after it, or alone, is accepted
/// too (files copied through other systems), and empty lines are skipped.
pub fn parse(text: &str) -> Result<Message, Unreadable> {
    let header = text.strip_prefix("MSH").ok_or(Unreadable::NoHeader)?;
    let mut declared = header.chars();
    let delimiters = match (declared.next(), declared.next(), declared.next(), declared.next(), declared.next()) {
        (Some(field), Some(component), Some(repetition), Some(escape), Some(subcomponent))
            if ![component, repetition, escape, subcomponent].contains(&field) =>
        {
            Delimiters { field, component, repetition, escape, subcomponent }
        }
        _ => return Err(Unreadable::NoHeader),
    };
    let mut segments = Vec::new();
    for line in text.split(['\r', '\n']).filter(|line| !line.is_empty()) {
        let number = segments.len() + 1;
        let mut parts = line.split(delimiters.field);
        let name = parts.next().unwrap_or_default();
        if name.len() != 3 || !name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            return Err(Unreadable::BadSegmentName { segment: number, name: name.chars().take(20).collect() });
        }
        let mut fields: Vec<String> = parts.map(str::to_string).collect();
        if name == "MSH" {
            // MSH-1 is the field separator itself, MSH-2 the other delimiters.
            fields.insert(0, delimiters.field.to_string());
        }
        segments.push(Segment { name: name.to_string(), number, fields });
    }
    Ok(Message { delimiters, segments })
}

impl Message {
    /// The message type of MSH-9, e.g. `ADT^A08` as (`ADT`, `A08`).
    pub fn message_type(&self) -> (String, String) {
        let msh = self.field("MSH", 9);
        (msh.component(1), msh.component(2))
    }

    /// Every segment, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The first segment named `name`, if any.
    pub fn segment(&self, name: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.name == name)
    }

    /// Field `n` (1-based) of the first segment named `name`; empty when either is absent.
    pub fn field(&self, name: &str, n: usize) -> Field<'_> {
        match self.segment(name) {
            Some(segment) => self.field_of(segment, n),
            None => Field { raw: "", delimiters: &self.delimiters },
        }
    }

    /// Field `n` (1-based) of `segment`, a segment of this message.
    pub fn field_of<'a>(&'a self, segment: &'a Segment, n: usize) -> Field<'a> {
        let raw = n.checked_sub(1).and_then(|i| segment.fields.get(i)).map_or("", String::as_str);
        Field { raw, delimiters: &self.delimiters }
    }
}

/// A field as written, read through its message's delimiters.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    raw: &'a str,
    delimiters: &'a Delimiters,
}

impl<'a> Field<'a> {
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Each repetition of the field (`~`), the first first; one for a field that does not repeat.
    pub fn repetitions(&self) -> impl Iterator<Item = Field<'a>> + 'a {
        let delimiters = self.delimiters;
        self.raw.split(delimiters.repetition).map(move |raw| Field { raw, delimiters })
    }

    /// The whole first repetition as text, unescaped.
    pub fn text(&self) -> String {
        self.component(1)
    }

    /// Component `n` (1-based, `^`) of the first repetition, unescaped; empty when absent. A
    /// component with subcomponents (`&`) is returned whole.
    pub fn component(&self, n: usize) -> String {
        let first = self.raw.split(self.delimiters.repetition).next().unwrap_or_default();
        let component =
            n.checked_sub(1).and_then(|i| first.split(self.delimiters.component).nth(i)).unwrap_or_default();
        self.unescape(component)
    }

    /// Subcomponent `s` (1-based, `&`) of component `n` of the first repetition, unescaped.
    pub fn subcomponent(&self, n: usize, s: usize) -> String {
        let first = self.raw.split(self.delimiters.repetition).next().unwrap_or_default();
        let component =
            n.checked_sub(1).and_then(|i| first.split(self.delimiters.component).nth(i)).unwrap_or_default();
        let part =
            s.checked_sub(1).and_then(|i| component.split(self.delimiters.subcomponent).nth(i)).unwrap_or_default();
        self.unescape(part)
    }

    /// HL7's escapes: `\F\ \S\ \T\ \R\ \E\` stand for the delimiters; any other escape (`\H\`,
    /// `\X..\`, …) is formatting or hex, dropped, as it carries no value a study reads.
    fn unescape(&self, text: &str) -> String {
        let d = self.delimiters;
        if !text.contains(d.escape) {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(d.escape) {
            out.push_str(&rest[..start]);
            let after = &rest[start + d.escape.len_utf8()..];
            let Some(end) = after.find(d.escape) else {
                // An escape that is never closed is kept as written.
                out.push_str(&rest[start..]);
                return out;
            };
            match &after[..end] {
                "F" => out.push(d.field),
                "S" => out.push(d.component),
                "T" => out.push(d.subcomponent),
                "R" => out.push(d.repetition),
                "E" => out.push(d.escape),
                _ => {}
            }
            rest = &after[end + d.escape.len_utf8()..];
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header of the specification's sample (hospital-inputs.md §1.2).
    const MSH: &str = "MSH|^~\\&|HIS123|SEND|GW|RCV|20111220224447.3399||ADT^A08^ADT_A01|20111220000001|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO";

    fn jis(text: &str) -> Vec<u8> {
        encoding_rs::ISO_2022_JP.encode(text).0.into_owned()
    }

    #[test]
    fn the_header_declares_the_delimiters_and_fields_count_from_one() {
        let m = parse(&format!("{MSH}\rPID|0001||0001234567^^^^PI||\u{5c71}\u{7530}^\u{592a}\u{90ce}^^^^^L^I|||F\r"))
            .unwrap();
        assert_eq!(m.message_type(), ("ADT".into(), "A08".into()));
        assert_eq!(m.field("MSH", 1).text(), "|");
        assert_eq!(m.field("MSH", 12).text(), "2.5");
        assert_eq!(m.field("PID", 3).component(1), "0001234567");
        assert_eq!(m.field("PID", 3).component(5), "PI");
        assert_eq!(m.field("PID", 8).text(), "F");
        assert!(m.field("PID", 40).is_empty());
        assert!(m.field("PV1", 2).is_empty());
        assert_eq!(m.segments().len(), 2);
    }

    #[test]
    fn two_byte_characters_that_hold_delimiter_bytes_survive_decoding() {
        // 「囚」 is JIS X 0208 0x3C7C and 「緯」 0x305E: their second bytes are `|` and `^`.
        let name = "\u{56da}\u{7def}";
        let bytes = jis(&format!("{MSH}\rPRB|AD|20240415|20054174^{name}^MDCDX2\r"));
        assert!(bytes.windows(2).any(|w| w == [0x3c, b'|']) && bytes.windows(2).any(|w| w == [0x30, b'^']));
        let m = parse(&decode(&bytes).unwrap()).unwrap();
        assert_eq!(m.field("PRB", 3).component(2), name);
        assert_eq!(m.field("PRB", 3).component(3), "MDCDX2");
    }

    #[test]
    fn an_undecodable_byte_is_named_by_its_offset() {
        let mut bytes = jis(&format!("{MSH}\rPID|1\r"));
        bytes.insert(30, 0xff);
        assert_eq!(decode(&bytes), Err(Unreadable::Undecodable { offset: 30 }));
    }

    #[test]
    fn repetitions_components_subcomponents_and_escapes() {
        let m = parse(&format!(
            "{MSH}\rRXE||108665201^A\\S\\B\\F\\C^HOT9|1||||||||||||||||3^TAB&\u{9320}&MR9P||OHP^x^MR9P~OHI^y^MR9P\r"
        ))
        .unwrap();
        assert_eq!(m.field("RXE", 2).component(2), "A^B|C");
        assert_eq!(m.field("RXE", 19).subcomponent(2, 2), "\u{9320}");
        let classes: Vec<String> = m.field("RXE", 21).repetitions().map(|r| r.component(1)).collect();
        assert_eq!(classes, ["OHP", "OHI"]);
    }

    #[test]
    fn what_is_not_a_message_is_refused_saying_why() {
        assert_eq!(parse("PID|1\r").unwrap_err(), Unreadable::NoHeader);
        assert_eq!(parse("MSH|").unwrap_err(), Unreadable::NoHeader);
        let bad = parse(&format!("{MSH}\rpid|1\r")).unwrap_err();
        assert_eq!(bad, Unreadable::BadSegmentName { segment: 2, name: "pid".into() });
        assert!(bad.to_string().contains("segment 2"));
    }

    #[test]
    fn crlf_and_lf_line_ends_are_accepted() {
        let m = parse(&format!("{MSH}\r\nPID|1\nPV1|1|I\r\n")).unwrap();
        let names: Vec<&str> = m.segments().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["MSH", "PID", "PV1"]);
        assert_eq!(m.field("PV1", 2).text(), "I");
    }
}
