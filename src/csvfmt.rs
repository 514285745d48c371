//! Writing CSV fields safely: RFC 4180 quoting, and neutralizing text a spreadsheet would run as a formula.
//!
//! Following the OWASP CSV-injection guidance, a text cell starting with `=`, `+`, `-`, `@`, tab or CR is
//! prefixed with a single quote so Excel and LibreOffice show it as text. Numbers are never touched: the
//! program's own figures go through [`push_field`], and a text field that is a plain number (`-5.25`) is
//! left as it is. Characters that hide or reorder what a reader sees (NUL and other control
//! characters but tab and line ends, the Unicode bidirectional overrides such as U+202E, and the
//! zero-width marks such as U+200B and U+FEFF) are written as a visible `\u{...}` escape, so a file
//! never shows a reader something other than it holds. The reports show them the same way.
//! Headers go through the same rules as values: a column named `=HYPERLINK(...)` is neutralized too.

use std::borrow::Cow;

/// Appends `field` to `out`, quoted if it holds a comma, quote, CR, LF or edge spaces.
pub fn push_field(out: &mut String, field: &str) {
    let bytes = field.as_bytes();
    let needs_quotes = memchr::memchr3(b',', b'"', b'\n', bytes).is_some()
        || memchr::memchr(b'\r', bytes).is_some()
        || field.starts_with(' ')
        || field.ends_with(' ');
    if needs_quotes {
        out.push('"');
        let mut parts = field.split('"');
        if let Some(first) = parts.next() {
            out.push_str(first);
        }
        for part in parts {
            out.push_str("\"\"");
            out.push_str(part);
        }
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// Reads fields joined by commas, each written by [`push_field`], back: calls `each` with every field's
/// text, quotes removed, as a CSV reader gives it. Hand-written rather than `csv_core` because it only
/// reads back this module's own output, where a line with no quote (nearly all) is split on commas.
pub fn for_each_field(line: &str, mut each: impl FnMut(&str)) {
    if memchr::memchr(b'"', line.as_bytes()).is_none() {
        // A byte loop: `str::split` searches for each comma with a call of its own, and fields are a
        // few bytes (it was 4% of the Parquet write stage).
        let mut start = 0;
        for (at, &b) in line.as_bytes().iter().enumerate() {
            if b == b',' {
                each(&line[start..at]);
                start = at + 1;
            }
        }
        each(&line[start..]);
        return;
    }
    let mut field = String::new();
    let mut rest = line;
    loop {
        field.clear();
        let mut quoted = false;
        // A field is text up to a comma outside quotes; in quotes, `""` is a quote (RFC 4180).
        let end = loop {
            let at = if quoted {
                memchr::memchr(b'"', rest.as_bytes())
            } else {
                memchr::memchr2(b'"', b',', rest.as_bytes())
            };
            let Some(at) = at else {
                field.push_str(rest);
                break None;
            };
            field.push_str(&rest[..at]);
            let (mark, after) = (rest.as_bytes()[at], &rest[at + 1..]);
            rest = after;
            match mark {
                b',' => break Some(()),
                _ if quoted && rest.starts_with('"') => {
                    field.push('"');
                    rest = &rest[1..];
                }
                _ => quoted = !quoted,
            }
        };
        each(&field);
        if end.is_none() {
            return;
        }
    }
}

/// Appends a text field from the input (ids, names, reasons, raw records), neutralized and quoted.
pub fn push_text(out: &mut String, field: &str) {
    // Most text (ids, VINs, makes, states) needs neither: check that in one pass first.
    let b = field.as_bytes();
    // Control characters (below 0x20, DEL), 0xE2 (the lead byte of the bidi controls and zero-width
    // marks) and 0xEF (of U+FEFF) take the slow path; so do some harmless characters (`€`, `—`),
    // which it leaves as they are.
    let plain = !matches!(
        b.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b' ' | b'\'')
    ) && b.last() != Some(&b' ')
        && !b
            .iter()
            .any(|&c| c < 0x20 || matches!(c, b',' | b'"' | 0x7f | 0xe2 | 0xef));
    if plain {
        out.push_str(field);
    } else {
        push_field(out, &neutralize(&visible(field)));
    }
}

/// Characters that hide or reorder text: controls other than tab and line ends, the bidi
/// embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), and the zero-width and
/// invisible marks (U+200B-U+200F, U+2060-U+2064, U+FEFF).
fn hidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                // Zero-width and invisible marks: an id with one looks like another id.
                | '\u{200b}'..='\u{200f}'
                | '\u{2060}'..='\u{2064}'
                | '\u{feff}'
        )
}

/// `text` with every [`hidden`] character written as a visible `\u{...}` escape.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What a rejects file quotes at most of a reason: enough to find the row and see what is wrong with
/// it. One unclosed quote can make the rest of a file one row, repeated in its reason.
pub const MAX_REASON_BYTES: usize = 500;

/// At most `max` bytes of `text` (cut at a character boundary), saying how much was left out: a
/// reject reason or raw record never repeats a whole runaway field.
pub fn shortened(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{}… ({} more bytes not shown)",
        &text[..end],
        text.len() - end
    ))
}

/// The OWASP neutralization of one text cell, made reversible: a text that starts with a quote gets
/// one more, so [`unneutralize`] gives back exactly the text that went in (as Excel shows `''x` as
/// `'x`).
pub fn neutralize(field: &str) -> Cow<'_, str> {
    let risky = match field.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => !is_plain_number(field),
        Some(b'\'') => true,
        _ => false,
    };
    if risky {
        Cow::Owned(format!("'{field}"))
    } else {
        Cow::Borrowed(field)
    }
}

/// The text a neutralized cell of underwater's own CSVs held: one leading quote removed. Every reader
/// of a file underwater wrote (`--previous`, `query`) reads text cells through it.
pub fn unneutralize(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

/// `-12.5`, `-3`, `+4` are numbers, not formulas: a spreadsheet reads them as values.
fn is_plain_number(field: &str) -> bool {
    let body = field.strip_prefix(['-', '+']).unwrap_or(field);
    let mut parts = body.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !(int.is_empty() && frac.is_none_or(str::is_empty)) && digits(int) && frac.is_none_or(digits)
}

/// Appends a whole number, as `Display` would.
pub fn push_u32(out: &mut String, n: u32) {
    let mut buf = [0u8; 10];
    let mut at = buf.len();
    let mut rest = n;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    push_ascii(out, &buf[at..]);
}

/// Appends a date as `YYYY-MM-DD`, as its `Display` does.
pub fn push_date(out: &mut String, date: crate::date::Date) {
    let (y, m, d) = date.ymd();
    if (0..=9999).contains(&y) {
        let two = |n: u32| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        let y = y as u32;
        let mut buf = [0u8; 10];
        buf[..2].copy_from_slice(&two(y / 100));
        buf[2..4].copy_from_slice(&two(y % 100));
        buf[4] = b'-';
        buf[5..7].copy_from_slice(&two(m));
        buf[7] = b'-';
        buf[8..].copy_from_slice(&two(d));
        push_ascii(out, &buf);
    } else {
        use std::fmt::Write as _;
        let _ = write!(out, "{date}");
    }
}

/// Appends a decimal exactly as `Decimal`'s `Display` would (all of its scale's digits), without the
/// temporary string `Display` builds: this runs for every figure of every account.
pub fn push_decimal(out: &mut String, d: rust_decimal::Decimal) {
    let m = d.mantissa();
    let scale = d.scale() as usize;
    if m < 0 {
        out.push('-');
    }
    // The mantissa's digits, right-aligned, with leading zeros up to one more than the scale (a
    // mantissa has at most 29 digits and a scale at most 28, so 32 bytes hold them).
    let mut digits = [b'0'; 32];
    let written = match u64::try_from(m.unsigned_abs()) {
        // Every cent figure of a book: two digits per division (a tenth of the write stage was this
        // loop one digit at a time).
        Ok(small) => digits_u64(&mut digits, small),
        Err(_) => {
            let (mut rest, mut at) = (m.unsigned_abs(), digits.len());
            while rest > 0 {
                at -= 1;
                digits[at] = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
            digits.len() - at
        }
    };
    let shown = written.max(scale + 1);
    let (whole, fraction) = digits[digits.len() - shown..].split_at(shown - scale);
    push_ascii(out, whole);
    if scale > 0 {
        out.push('.');
        push_ascii(out, fraction);
    }
}

/// Writes `n`'s digits at the end of `buf` (at least one), two at a time; returns how many.
fn digits_u64(buf: &mut [u8; 32], mut n: u64) -> usize {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
                                2021222324252627282930313233343536373839\
                                4041424344454647484950515253545556575859\
                                6061626364656667686970717273747576777879\
                                8081828384858687888990919293949596979899";
    let mut at = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + n as u8;
    }
    buf.len() - at
}

/// Appends what the number writers above put in their buffers: ASCII digits, `.` and `-` only. Not
/// checked again as UTF-8 (`from_utf8` on each number was 6% of writing accounts.csv).
#[inline(always)]
fn push_ascii(out: &mut String, bytes: &[u8]) {
    debug_assert!(bytes.is_ascii());
    // SAFETY: the three callers pass bytes they wrote themselves, each b'0'..=b'9', b'.' or b'-'
    // (ASCII, hence UTF-8), so `out` stays valid UTF-8.
    unsafe { out.as_mut_vec() }.extend_from_slice(bytes);
}

/// Appends a line of fields and a newline: a header, or a line of labels. Each field is text (column
/// names come from the input), so it is neutralized like any other text.
pub fn push_line<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_text(out, f);
    }
    out.push('\n');
}

/// Appends a record of exact text, quoted per RFC 4180 and nothing else: for an intermediate file
/// underwater reads back itself (an XML tape as CSV), where neutralizing would change the data.
pub fn push_plain_line<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, f);
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_text_fast_path_agrees_with_neutralize_and_quote() {
        for t in [
            "",
            "AC1",
            "Jeep",
            "a b",
            " lead",
            "trail ",
            "=1+2",
            "-5.25",
            "+x",
            "@a",
            "\tx",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\r",
            "x=1",
            "-",
            "a\0b",
            "\u{202e}gpj.exe",
            "5 €",
            "x\u{7f}",
        ] {
            let mut fast = String::new();
            push_text(&mut fast, t);
            let mut slow = String::new();
            push_field(&mut slow, &neutralize(&visible(t)));
            assert_eq!(fast, slow, "{t:?}");
        }
    }

    /// NUL and U+202E passed into outputs and reject reasons as they were: a NUL ends a field for many
    /// tools, and U+202E shows `exe.gpj` as `jpg.exe`.
    #[test]
    fn regression_nul_and_bidi_overrides_passed_into_outputs() {
        let mut s = String::new();
        push_text(&mut s, "a\0b");
        push_text(&mut s, ",\u{202e}txt");
        push_text(&mut s, "5 €");
        assert_eq!(s, "a\\u{0}b\",\\u{202e}txt\"5 €");
        let mut h = String::new();
        push_line(&mut h, ["=HYPERLINK(\"x\")", "@SUM(1+1)", "ok"]);
        assert_eq!(h, "\"'=HYPERLINK(\"\"x\"\")\",'@SUM(1+1),ok\n");
    }

    #[test]
    fn shortened_cuts_at_a_character_boundary_and_says_so() {
        assert_eq!(shortened("abc", 3), "abc");
        assert_eq!(shortened("aé€x", 4), "aé… (4 more bytes not shown)");
    }

    /// Random fields written with `push_field` and joined by commas read back the same, and the same
    /// as the `csv` crate reads them.
    #[test]
    fn for_each_field_reads_back_what_push_field_wrote() {
        use proptest::prelude::*;
        let field = proptest::string::string_regex("[a\",\n\r é]{0,6}").unwrap();
        proptest!(|(fields in proptest::collection::vec(field, 1..6))| {
            let mut line = String::new();
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                push_field(&mut line, f);
            }
            let mut read = Vec::new();
            for_each_field(&line, |f| read.push(f.to_string()));
            prop_assert_eq!(&read, &fields);
            // `csv` reads an empty line as no record at all: a single empty field has no reading to
            // compare with.
            if !line.is_empty() {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(line.as_bytes());
                let record = reader.records().next().unwrap().unwrap();
                let by_csv: Vec<String> = record.iter().map(str::to_string).collect();
                prop_assert_eq!(by_csv, fields);
            }
        });
    }

    #[test]
    fn quotes_only_when_needed() {
        let mut s = String::new();
        push_line(&mut s, ["a", "b,c", "say \"hi\"", "x\ny", " pad"]);
        assert_eq!(s, "a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\",\" pad\"\n");
    }

    #[test]
    fn push_u32_and_push_date_match_display() {
        for n in [0, 7, 10, 999, 4_294_967_295] {
            let mut s = String::new();
            push_u32(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        for text in ["2025-06-30", "0001-01-01", "1999-12-31", "2024-02-29"] {
            let d = crate::date::Date::parse(text).unwrap();
            let mut s = String::new();
            push_date(&mut s, d);
            assert_eq!(s, d.to_string());
        }
    }

    #[test]
    fn push_decimal_matches_display() {
        for text in [
            "0",
            "0.00",
            "-3500.00",
            "1.2258",
            "12345678901.2345",
            "-0.0001",
            "7",
            "79228162514264337593543950335",
            "-7922816251426433759354395033.5",
            "0.0000000000000000000000000001",
            "18446744073709551616.00",
        ] {
            let d: rust_decimal::Decimal = text.parse().unwrap();
            let mut s = String::new();
            push_decimal(&mut s, d);
            assert_eq!(s, d.to_string());
        }
        // Any mantissa at any scale, both sides of the 64-bit edge: the same text as `Display`.
        use proptest::prelude::*;
        let mantissa = prop_oneof![
            any::<i64>().prop_map(i128::from),
            -(1i128 << 96) + 1..(1i128 << 96) - 1,
            -1000i128..1000,
        ];
        proptest!(|(m in mantissa, scale in 0u32..=28)| {
            let d = rust_decimal::Decimal::from_i128_with_scale(m, scale);
            let mut s = String::from("x");
            push_decimal(&mut s, d);
            prop_assert_eq!(s, format!("x{d}"));
        });
    }

    #[test]
    fn neutralizes_formulas_but_not_numbers() {
        for (input, want) in [
            ("=1+1", "'=1+1"),
            ("+SUM(A1)", "'+SUM(A1)"),
            ("-cmd", "'-cmd"),
            ("@x", "'@x"),
            ("\tx", "'\tx"),
            ("-5.25", "-5.25"),
            ("+4", "+4"),
            ("-", "'-"),
            ("ok", "ok"),
            ("'quoted", "''quoted"),
        ] {
            assert_eq!(neutralize(input), want, "{input:?}");
        }
    }

    #[test]
    fn regression_neutralized_text_reads_back_as_written() {
        for text in [
            "-A1", "@A2", "=Kia", "+x", "\tx", "\rx", "'", "'-A1", "''", "ok", "-5.25", "-",
        ] {
            let mut line = String::new();
            push_text(&mut line, text);
            let cell = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(line.as_bytes())
                .records()
                .next()
                .expect("one record")
                .expect("a valid record");
            assert_eq!(unneutralize(&cell[0]), text, "{line:?}");
        }
    }
}
