//! Checks on event `data` that JSON syntax alone lets through.
//!
//! `data` is kept as the client's bytes (a `RawValue`), which only proves it is JSON.
//! Some JSON that parses here breaks common receivers: nesting deep enough to overflow
//! a recursive parser, `\u` escapes of lone UTF-16 surrogates (not Unicode text), and
//! numbers no double can hold. Such `data` is refused at ingest, naming the problem,
//! rather than delivered to endpoints that will fail on it.

/// The deepest nesting of arrays and objects accepted in `data`.
pub(crate) const MAX_DATA_DEPTH: usize = 64;

/// Checks JSON text that is already known to be valid JSON.
pub(crate) fn check_json_text(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'"' => {
                index = string_end(bytes, index + 1)?;
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DATA_DEPTH {
                    return Err(format!(
                        "must not nest arrays and objects more than {MAX_DATA_DEPTH} levels deep"
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let start = index;
                while bytes
                    .get(index)
                    .is_some_and(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                {
                    index += 1;
                }
                let number = &text[start..index];
                if !number.parse::<f64>().is_ok_and(f64::is_finite) {
                    return Err(format!(
                        "holds the number {number}, beyond what a double can hold"
                    ));
                }
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    Ok(())
}

/// The index just past the string whose contents start at `index`; refuses escapes of
/// lone surrogates.
fn string_end(bytes: &[u8], mut index: usize) -> Result<usize, String> {
    const LONE: &str = "holds a \\u escape of a lone UTF-16 surrogate, which is not text";
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'"' => return Ok(index + 1),
            b'\\' if bytes.get(index + 1) == Some(&b'u') => {
                let unit = hex4(bytes, index + 2);
                if (0xDC00..0xE000).contains(&unit) {
                    return Err(LONE.to_owned());
                }
                if (0xD800..0xDC00).contains(&unit) {
                    let paired = bytes.get(index + 6) == Some(&b'\\')
                        && bytes.get(index + 7) == Some(&b'u')
                        && (0xDC00..0xE000).contains(&hex4(bytes, index + 8));
                    if !paired {
                        return Err(LONE.to_owned());
                    }
                    index += 12;
                } else {
                    index += 6;
                }
            }
            b'\\' => index += 2,
            _ => index += 1,
        }
    }
    Ok(index)
}

/// The value of four hex digits at `index` (valid JSON has them after `\u`); a value
/// outside every surrogate range if they are missing.
fn hex4(bytes: &[u8], index: usize) -> u32 {
    bytes
        .get(index..index + 4)
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .and_then(|digits| u32::from_str_radix(digits, 16).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_json_passes() {
        for text in [
            r#"{"a":[1,-2.5e10,{"b":"c\"d\\"}],"e":null,"f":"\u00e9\ud83d\ude00"}"#,
            r#"{"big":123456789012345678901234567890,"tiny":1e-400}"#,
            r#"{"brackets in text":"[[[[{{{{"}"#,
        ] {
            assert_eq!(check_json_text(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn nesting_is_capped() {
        let at_limit = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert_eq!(check_json_text(&at_limit), Ok(()));
        let deeper = format!("{{\"a\":{}{}}}", "[".repeat(64), "]".repeat(64));
        assert_eq!(
            check_json_text(&deeper),
            Err("must not nest arrays and objects more than 64 levels deep".to_owned())
        );
    }

    #[test]
    fn lone_surrogates_are_refused() {
        let lone =
            Err("holds a \\u escape of a lone UTF-16 surrogate, which is not text".to_owned());
        assert_eq!(check_json_text(r#"{"a":"\ud800"}"#), lone);
        assert_eq!(check_json_text(r#"{"\udc00":1}"#), lone);
        assert_eq!(check_json_text(r#"{"a":"\ud800\u0041"}"#), lone);
        assert_eq!(check_json_text(r#"{"a":"\ud800x"}"#), lone);
    }

    #[test]
    fn numbers_beyond_a_double_are_refused() {
        assert_eq!(
            check_json_text(r#"{"a":1e999999}"#),
            Err("holds the number 1e999999, beyond what a double can hold".to_owned())
        );
        assert_eq!(
            check_json_text(r#"{"a":[-1E400]}"#),
            Err("holds the number -1E400, beyond what a double can hold".to_owned())
        );
    }
}
