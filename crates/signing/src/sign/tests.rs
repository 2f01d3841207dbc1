//! Signing vectors: the Fixtures and field cases 1, 3, 4 and 7 (signing side) of
//! `field-cases.md`, plus the shape of [`sign_all`] during a rotation.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::*;
use crate::fixtures::*;

/// Signs `body` with `secret_text` under `ID` at `timestamp_secs` and compares both
/// schemes with the expected vectors.
#[track_caller]
fn check(
    secret_text: &str,
    timestamp_secs: u64,
    body: &[u8],
    expect_hex: &str,
    expect_standard: &str,
) {
    let secret = secret(secret_text);
    assert_eq!(sign_hex(&secret, body), expect_hex, "scheme B");
    assert_eq!(
        sign_standard(&secret, ID, timestamp_secs, body),
        expect_standard,
        "scheme S"
    );
}

/// Scheme S computed with an arbitrary raw key, to reproduce wrong key derivations.
fn standard_with_raw_key(key: &[u8], timestamp_secs: u64, body: &[u8]) -> String {
    let signature = standard_mac(key, ID, timestamp_secs, body);
    format!("v1,{}", STANDARD.encode(signature))
}

// Fixtures.

#[test]
fn fixture_reference_vector() {
    assert_eq!(REF_BODY.len(), 20);
    check(SECRET, TS, REF_BODY, REF_HEX, REF_STANDARD)
}

#[test]
fn hex_is_lowercase_and_64_chars() {
    let signature = sign_hex(&secret(SECRET), REF_BODY);
    assert_eq!(signature.len(), 64);
    assert!(signature
        .bytes()
        .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')));
}

// Case 1: sign and resend the exact bytes.

#[test]
fn case1_verbatim_payload() {
    let body = br#"{"b":2, "a":1}"#;
    assert_eq!(body.len(), 14);
    check(
        SECRET,
        TS,
        body,
        "cce1732c867a9eb33ebb4a4cc88872b5b9a207be3bb3b9e147f83166d783699e",
        "v1,8LdKvv6weZJUQvN0zy/vJKQzTXuza6kdNtoD+nSOKiw=",
    )
}

#[test]
fn case1_compact_canonical_payload() {
    // Scheme S value computed with python3 hmac; scheme B from field-cases.md.
    check(
        SECRET,
        TS,
        br#"{"b":2,"a":1}"#,
        "e1effdcf18d2f22f86b127b5598ce10a1713198a6693213c1b73cb983e11bc36",
        "v1,J3DAcX3rFTtypSxI7iKZY+X9Ta6QNELWQS8HZA/L03U=",
    )
}

#[test]
fn case1_key_sorted_canonical_payload() {
    // Scheme S value computed with python3 hmac; scheme B from field-cases.md.
    check(
        SECRET,
        TS,
        br#"{"a":1,"b":2}"#,
        "d59fa9a59c41b076415552066a6d6a696b7e62a3558f7cbc8e296003bac27676",
        "v1,skzTUiGoiruUF/qZGRA4eM6MOyDZ001t0u1RoXOKPFY=",
    )
}

// Case 3: trailing newline. The exact bytes are signed; nothing is trimmed.

#[test]
fn case3_no_newline() {
    let body = br#"{"a":1}"#;
    assert_eq!(body.len(), 7);
    check(
        SECRET,
        TS,
        body,
        "f50d01f91a0b6065c1c2cee219d57fd791ed65474eb2eed9a3b6b9521448ac59",
        "v1,eWbO+OPhT2JUpF3dbJUxlLHb0oUfKtdFE1jL2Ow+m/U=",
    )
}

#[test]
fn case3_trailing_lf() {
    // Scheme S value computed with python3 hmac; scheme B from field-cases.md.
    let body = b"{\"a\":1}\n";
    assert_eq!(body.len(), 8);
    check(
        SECRET,
        TS,
        body,
        "01fc142e3f16957a6bc2fc4c222977a7b3641b7ab677877a8f177763cfbc9b25",
        "v1,gHpkzUwAcTCAx6mVTdVP1Xcvw5OF91BO8CGnDfdstVo=",
    )
}

#[test]
fn case3_trailing_crlf() {
    // Scheme S value computed with python3 hmac; scheme B from field-cases.md.
    let body = b"{\"a\":1}\r\n";
    assert_eq!(body.len(), 9);
    check(
        SECRET,
        TS,
        body,
        "c82dfd39575d18caff7aa36165f3ab17ed15dfe73da5d4e431e507e28b180890",
        "v1,j9/ulIWpv9XTpYUzUSoXEKCsYnt6gTtbERURZ45j1FA=",
    )
}

#[test]
fn case3_each_body_signs_differently() {
    let secret = secret(SECRET);
    let bodies: [&[u8]; 3] = [b"{\"a\":1}", b"{\"a\":1}\n", b"{\"a\":1}\r\n"];
    let hex: Vec<String> = bodies.iter().map(|body| sign_hex(&secret, body)).collect();
    let standard: Vec<String> = bodies
        .iter()
        .map(|body| sign_standard(&secret, ID, TS, body))
        .collect();
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        assert_ne!(hex[i], hex[j], "scheme B of bodies {i} and {j}");
        assert_ne!(standard[i], standard[j], "scheme S of bodies {i} and {j}");
    }
}

// Case 4: the key is the base64-decoded part after `whsec_`.

const WRONG_KEY_WHOLE_TEXT: &str = "v1,TcxlhK9b6UD6iVI1ZU2tTqp8PEVfYRseNNfa6b+LcUg=";
const WRONG_KEY_UNDECODED_TAIL: &str = "v1,ELhqG0Ku1gwOc1f4jyKdp3SFGFLAOdJ9bvpWLciCakI=";

#[test]
fn case4_key_derivation() {
    check(SECRET, TS, REF_BODY, REF_HEX, REF_STANDARD);
    let ours = sign_standard(&secret(SECRET), ID, TS, REF_BODY);
    assert_ne!(ours, WRONG_KEY_WHOLE_TEXT);
    assert_ne!(ours, WRONG_KEY_UNDECODED_TAIL);
}

#[test]
fn case4_wrong_derivations_reproduced() {
    // The wrong values really are what the wrong keys give, so the inequality above
    // rules those derivations out rather than comparing against noise.
    let whole_text = SECRET.as_bytes();
    let undecoded_tail = &SECRET.as_bytes()["whsec_".len()..];
    assert_eq!(
        standard_with_raw_key(whole_text, TS, REF_BODY),
        WRONG_KEY_WHOLE_TEXT
    );
    assert_eq!(
        standard_with_raw_key(undecoded_tail, TS, REF_BODY),
        WRONG_KEY_UNDECODED_TAIL
    );
    assert_ne!(secret(SECRET).key(), whole_text);
    assert_ne!(secret(SECRET).key(), undecoded_tail);
}

// Case 7 (signing side): the retry is signed again with a fresh timestamp in seconds.

#[test]
fn case7_retry_signed_with_fresh_timestamp() {
    let retry_secs = TS + 21600;
    assert_eq!(retry_secs, 1614286930);
    check(
        SECRET,
        retry_secs,
        REF_BODY,
        REF_HEX,
        "v1,uLriBgLBxMjELcCgzV7xQEzheuIIjxADBfIrJXtd/MI=",
    );
}

#[test]
fn case7_milliseconds_sign_differently() {
    let millis = TS * 1000;
    assert_eq!(millis, 1614265330000);
    let signature = sign_standard(&secret(SECRET), ID, millis, REF_BODY);
    assert_eq!(signature, "v1,rTuMKFUiBNE7gJ41LZxwvD1dtGO0rPk1IamJN9BSq2w=");
    assert_ne!(signature, REF_STANDARD);
}

// Rotation: one signature per live secret, newest first.

#[test]
fn sign_all_lists_newest_first() {
    let secrets = [secret(NEW_SECRET), secret(SECRET)];
    let headers = sign_all(&secrets, ID, TS, REF_BODY);
    assert_eq!(headers.hex, format!("{NEW_REF_HEX},{REF_HEX}"));
    assert_eq!(
        headers.standard,
        format!("{NEW_REF_STANDARD} {REF_STANDARD}")
    );
}

#[test]
fn sign_all_single_secret() {
    let headers = sign_all(&[secret(SECRET)], ID, TS, REF_BODY);
    assert_eq!(
        headers,
        SignatureHeaders {
            hex: REF_HEX.to_owned(),
            standard: REF_STANDARD.to_owned()
        }
    );
}

#[test]
fn sign_all_without_secrets_is_empty() {
    let headers = sign_all(&[], ID, TS, REF_BODY);
    assert_eq!(
        headers,
        SignatureHeaders {
            hex: String::new(),
            standard: String::new()
        }
    );
}
