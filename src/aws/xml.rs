//! The one XML reader, for the two documents aws-oidc reads: STS answers
//! (`<…Response><…Result>…`, `<ErrorResponse><Error>…`) and SAML assertions.
//!
//! A small scanner, no XML crate: [`walk`] hands each element's start and end to a visitor,
//! with the local names of the open elements, so elements are matched by local name whatever
//! their prefix (`saml:`, `saml2:`, none) or namespace. It checks what a reader of these
//! documents must: one root, matching end tags, no text outside the root. Text is decoded
//! (the five predefined entities, character references, CDATA); comments and processing
//! instructions are skipped; a DOCTYPE is refused (no entity expansion, ever).

/// Why a document could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("{0}")]
    Malformed(&'static str),
    #[error("a DOCTYPE")]
    Doctype,
}

/// One step of [`walk`].
pub enum Event<'a> {
    /// A start tag (`empty`: `<…/>`, which gets no [`Event::End`]) at byte offset `at`.
    /// `open` holds the local names of the enclosing elements, the root first.
    Start {
        open: &'a [&'a str],
        name: &'a str,
        /// Raw values: decode them with [`unescape`].
        attrs: &'a [(&'a str, &'a str)],
        empty: bool,
        at: usize,
    },
    /// An end tag, `after` the offset just past its `>`. `text`: the element's own decoded
    /// text since the last start or end tag, trimmed. `open` as in [`Event::Start`].
    End {
        open: &'a [&'a str],
        name: &'a str,
        text: &'a str,
        after: usize,
    },
}

enum Token<'a> {
    /// Start tag: its name, attributes (raw values), whether it is `<…/>`, its byte offset.
    Start {
        name: &'a str,
        attrs: Vec<(&'a str, &'a str)>,
        empty: bool,
        at: usize,
    },
    /// End tag and the offset just past its `>`.
    End { name: &'a str, after: usize },
    /// Character data, raw (entities not yet decoded), or CDATA content (`cdata`).
    Text { raw: &'a str, cdata: bool },
}

/// `name` without its prefix.
pub fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// The raw value of attribute `name` (as written, prefix included).
pub fn attr<'a>(attrs: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

/// Reads `xml`, calling `visit` for every start and end tag, in document order.
pub fn walk<E: From<XmlError>>(
    xml: &str,
    mut visit: impl FnMut(Event<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let malformed = |what| E::from(XmlError::Malformed(what));
    let tokens = tokenize(xml)?;
    // Local names of the open elements.
    let mut open: Vec<&str> = Vec::new();
    let mut root_seen = false;
    let mut text = String::new();
    for token in &tokens {
        match token {
            Token::Start {
                name,
                attrs,
                empty,
                at,
            } => {
                let name = local(name);
                if open.is_empty() {
                    if root_seen {
                        return Err(malformed("a second root element"));
                    }
                    root_seen = true;
                }
                visit(Event::Start {
                    open: &open,
                    name,
                    attrs,
                    empty: *empty,
                    at: *at,
                })?;
                text.clear();
                if !*empty {
                    open.push(name);
                }
            }
            Token::Text { raw, cdata } => {
                if open.is_empty() {
                    if !raw.trim().is_empty() {
                        return Err(malformed("text outside the root element"));
                    }
                } else if *cdata {
                    text.push_str(raw);
                } else {
                    text.push_str(&unescape(raw)?);
                }
            }
            Token::End { name, after } => {
                let name = local(name);
                if open.pop() != Some(name) {
                    return Err(malformed("mismatched end tag"));
                }
                visit(Event::End {
                    open: &open,
                    name,
                    text: text.trim(),
                    after: *after,
                })?;
                text.clear();
            }
        }
    }
    if !open.is_empty() || !root_seen {
        return Err(malformed("the root element is not closed"));
    }
    Ok(())
}

/// Splits `xml` into tokens. Comments and processing instructions are skipped.
fn tokenize(xml: &str) -> Result<Vec<Token<'_>>, XmlError> {
    let malformed = XmlError::Malformed;
    let mut tokens = Vec::new();
    let mut i = 0;
    let b = xml.as_bytes();
    while i < b.len() {
        if b[i] != b'<' {
            let end = xml[i..].find('<').map_or(b.len(), |p| i + p);
            tokens.push(Token::Text {
                raw: &xml[i..end],
                cdata: false,
            });
            i = end;
            continue;
        }
        let rest = &xml[i..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").ok_or(malformed("unclosed comment"))?;
            i += end + 3;
        } else if rest.starts_with("<![CDATA[") {
            let end = rest.find("]]>").ok_or(malformed("unclosed CDATA"))?;
            tokens.push(Token::Text {
                raw: &rest[9..end],
                cdata: true,
            });
            i += end + 3;
        } else if rest.starts_with("<!") {
            return Err(XmlError::Doctype);
        } else if rest.starts_with("<?") {
            let end = rest.find("?>").ok_or(malformed("unclosed <?"))?;
            i += end + 2;
        } else if let Some(close) = rest.strip_prefix("</") {
            let end = close.find('>').ok_or(malformed("unclosed end tag"))?;
            tokens.push(Token::End {
                name: close[..end].trim_end(),
                after: i + 2 + end + 1,
            });
            i += 2 + end + 1;
        } else {
            let (token, len) = start_tag(rest, i)?;
            tokens.push(token);
            i += len;
        }
    }
    Ok(tokens)
}

/// A start tag at the beginning of `s` (which is at offset `at`), and its length.
fn start_tag(s: &str, at: usize) -> Result<(Token<'_>, usize), XmlError> {
    let malformed = XmlError::Malformed;
    let b = s.as_bytes();
    let name_end = s[1..]
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .map(|p| p + 1)
        .ok_or(malformed("unclosed start tag"))?;
    let name = &s[1..name_end];
    if name.is_empty() {
        return Err(malformed("an element without a name"));
    }
    let mut attrs = Vec::new();
    let mut i = name_end;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i) {
            None => return Err(malformed("unclosed start tag")),
            Some(b'>') => {
                let token = Token::Start {
                    name,
                    attrs,
                    empty: false,
                    at,
                };
                return Ok((token, i + 1));
            }
            Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                let token = Token::Start {
                    name,
                    attrs,
                    empty: true,
                    at,
                };
                return Ok((token, i + 2));
            }
            Some(_) => {
                let eq = s[i..]
                    .find('=')
                    .map(|p| p + i)
                    .ok_or(malformed("an attribute without a value"))?;
                let key = s[i..eq].trim();
                if key.is_empty() || key.contains(|c: char| c.is_ascii_whitespace() || c == '>') {
                    return Err(malformed("a bad attribute"));
                }
                let mut j = eq + 1;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                let quote = *b.get(j).ok_or(malformed("unclosed start tag"))?;
                if quote != b'"' && quote != b'\'' {
                    return Err(malformed("an unquoted attribute value"));
                }
                let end = s[j + 1..]
                    .find(quote as char)
                    .map(|p| p + j + 1)
                    .ok_or(malformed("an unclosed attribute value"))?;
                let value = &s[j + 1..end];
                if value.contains('<') {
                    return Err(malformed("`<` in an attribute value"));
                }
                attrs.push((key, value));
                i = end + 1;
            }
        }
    }
}

/// Decodes the five predefined entities and character references.
pub fn unescape(raw: &str) -> Result<String, XmlError> {
    let malformed = XmlError::Malformed;
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        let end = after.find(';').ok_or(malformed("a broken entity"))?;
        let entity = &after[..end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or(malformed("an unknown entity"))?
            }
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (open elements joined by `/`, name, text) of every end tag.
    fn ends(xml: &str) -> Result<Vec<(String, String, String)>, XmlError> {
        let mut out = Vec::new();
        walk(xml, |e| {
            if let Event::End {
                open, name, text, ..
            } = e
            {
                out.push((open.join("/"), name.to_string(), text.to_string()));
            }
            Ok::<(), XmlError>(())
        })?;
        Ok(out)
    }

    #[test]
    fn local_names_text_entities_and_whitespace() {
        let xml = "<?xml version=\"1.0\"?>\n<a:R xmlns:a=\"urn:x\">\n  <a:M> x &amp; &lt;y&gt; &quot;&apos;&#233;&#x263A; </a:M><!-- c --><N><![CDATA[<raw>&amp;]]></N>\n</a:R>\n";
        assert_eq!(
            ends(xml).unwrap(),
            [
                ("R".into(), "M".into(), "x & <y> \"'é☺".into()),
                ("R".into(), "N".into(), "<raw>&amp;".into()),
                (String::new(), "R".into(), String::new()),
            ]
        );
    }

    #[test]
    fn refuses_what_is_not_one_well_formed_document() {
        assert_eq!(
            ends("<!DOCTYPE x [<!ENTITY a 'b'>]><R/>"),
            Err(XmlError::Doctype)
        );
        for bad in [
            "",
            "<R>",
            "<R><M>x</R>",
            "<R a=b></R>",
            "<R>&bogus;</R>",
            "<R>&#xD800;</R>",
            "<R></R><R></R>",
            "x<R></R>",
            "<R",
            "<R><!-- x</R>",
        ] {
            assert!(matches!(ends(bad), Err(XmlError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn start_events_carry_attributes_and_offsets() {
        let xml = "<R><E k='v &amp; w' empty=\"\"/></R>";
        let mut seen = Vec::new();
        walk(xml, |e| {
            if let Event::Start {
                open,
                name,
                attrs,
                empty,
                at,
            } = e
            {
                let k = attr(attrs, "k").map(|v| unescape(v).unwrap());
                seen.push((open.len(), name.to_string(), k, empty, at));
            }
            Ok::<(), XmlError>(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (0, "R".into(), None, false, 0),
                (1, "E".into(), Some("v & w".into()), true, 3)
            ]
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// Review: hostile answers (any mix of markup, entities, CDATA, multi-byte text) are
        /// refused or read, never a panic.
        #[test]
        fn never_panics(parts in proptest::collection::vec(proptest::sample::select(vec![
            "<", ">", "</", "/>", "<a", "<b:c", " x='1'", " y=\"<\"", "=", "&", "&amp;", "&#x", "&#",
            ";", "é", "☺", "<![CDATA[", "]]>", "<!--", "-->", "<?", "?>", "<!DOCTYPE", "a", " ",
            "\n", "'", "\"", ":", "&#xD800;", "&#1114112;",
        ]), 0..40)) {
            let xml: String = parts.concat();
            let _ = walk(&xml, |_| Ok::<(), XmlError>(()));
            let _ = unescape(&xml);
        }
    }
}
