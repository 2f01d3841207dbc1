//! Verification cases: field cases 6 (bad signatures), 7 (timestamp freshness and
//! symmetric tolerance) and 10 (several signatures in one header) of
//! `field-cases.md`, for both schemes.

use super::*;
use crate::fixtures::*;
use crate::sign::{sign_all, sign_standard};

/// The headers under test; the body is always `REF_BODY` and the id `ID`.
enum Header<'a> {
    /// Scheme B: the `X-Supapitch-Signature` value.
    Hex(&'a str),
    /// Scheme S: `webhook-timestamp`, `webhook-signature` and the receiver's clock.
    Standard {
        timestamp: &'a str,
        signature: &'a str,
        now_secs: u64,
    },
}

/// Scheme S sent at `TS` and checked by a receiver whose clock reads `TS`.
fn standard_at_ts(signature: &str) -> Header<'_> {
    Header::Standard {
        timestamp: "1614265330",
        signature,
        now_secs: TS,
    }
}

/// Verifies `header` against the given secrets with the default tolerance.
#[track_caller]
fn check(secret_texts: &[&str], header: Header<'_>, expect: Result<(), SignatureError>) {
    let secrets: Vec<Secret> = secret_texts.iter().map(|text| secret(text)).collect();
    let outcome = match header {
        Header::Hex(value) => verify_hex(&secrets, value, REF_BODY),
        Header::Standard {
            timestamp,
            signature,
            now_secs,
        } => verify_standard(
            &secrets,
            ID,
            timestamp,
            signature,
            REF_BODY,
            now_secs,
            DEFAULT_TOLERANCE_SECS,
        ),
    };
    assert_eq!(outcome, expect);
}

const NO_MATCH: Result<(), SignatureError> = Err(SignatureError::NoMatch);
const MISSING: Result<(), SignatureError> = Err(SignatureError::MissingSignature);
const BAD_TIMESTAMP: Result<(), SignatureError> = Err(SignatureError::InvalidTimestamp);
const OUT_OF_TOLERANCE: Result<(), SignatureError> = Err(SignatureError::TimestampOutOfTolerance);

// Case 6, scheme S: only the correct value verifies.

#[test]
fn case6_standard_correct() {
    check(&[SECRET], standard_at_ts(REF_STANDARD), Ok(()))
}

#[test]
fn case6_standard_version_only() {
    check(&[SECRET], standard_at_ts("v1,"), NO_MATCH)
}

#[test]
fn case6_standard_truncated() {
    check(&[SECRET], standard_at_ts("v1,g0hM"), NO_MATCH)
}

#[test]
fn case6_standard_case_changed() {
    check(
        &[SECRET],
        standard_at_ts("v1,G0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        NO_MATCH,
    )
}

#[test]
fn case6_standard_unknown_version() {
    check(
        &[SECRET],
        standard_at_ts("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        MISSING,
    )
}

#[test]
fn case6_standard_empty() {
    check(&[SECRET], standard_at_ts(""), MISSING)
}

#[test]
fn case6_standard_wrong_key_derivations() {
    check(
        &[SECRET],
        standard_at_ts("v1,TcxlhK9b6UD6iVI1ZU2tTqp8PEVfYRseNNfa6b+LcUg="),
        NO_MATCH,
    );
    check(
        &[SECRET],
        standard_at_ts("v1,ELhqG0Ku1gwOc1f4jyKdp3SFGFLAOdJ9bvpWLciCakI="),
        NO_MATCH,
    );
}

#[test]
fn case6_standard_altered_body() {
    let outcome = verify_standard(
        &[secret(SECRET)],
        ID,
        "1614265330",
        REF_STANDARD,
        b"{\"test\": 2432232315}",
        TS,
        DEFAULT_TOLERANCE_SECS,
    );
    assert_eq!(outcome, NO_MATCH);
}

#[test]
fn case6_standard_timestamp_is_signed() {
    let signature = REF_STANDARD;
    check(
        &[SECRET],
        Header::Standard {
            timestamp: "1614265331",
            signature,
            now_secs: TS,
        },
        NO_MATCH,
    )
}

// Case 6, scheme B: only the correct value verifies.

#[test]
fn case6_hex_correct() {
    check(&[SECRET], Header::Hex(REF_HEX), Ok(()))
}

#[test]
fn case6_hex_empty() {
    check(&[SECRET], Header::Hex(""), MISSING)
}

#[test]
fn case6_hex_first_8_chars() {
    check(&[SECRET], Header::Hex("e2cb4f52"), NO_MATCH)
}

#[test]
fn case6_hex_altered_last_char() {
    let altered = "e2cb4f5251572539d458bfb8a7adb533b08801e6a794467e06f771debbb0818c";
    check(&[SECRET], Header::Hex(altered), NO_MATCH)
}

#[test]
fn case6_hex_uppercase_rejected() {
    // Decision: scheme B is defined as lowercase hex, so uppercase does not match.
    check(&[SECRET], Header::Hex(&REF_HEX.to_uppercase()), NO_MATCH)
}

#[test]
fn case6_hex_only_separators() {
    check(&[SECRET], Header::Hex(" , ,"), MISSING)
}

// Case 7: fresh timestamp per attempt, in seconds, symmetric tolerance.

const RETRY_STANDARD: &str = "v1,uLriBgLBxMjELcCgzV7xQEzheuIIjxADBfIrJXtd/MI=";

#[test]
fn case7_retry_accepted() {
    let header = Header::Standard {
        timestamp: "1614286930",
        signature: RETRY_STANDARD,
        now_secs: TS + 21600,
    };
    check(&[SECRET], header, Ok(()))
}

#[test]
fn case7_resent_original_header_rejected() {
    let header = Header::Standard {
        timestamp: "1614265330",
        signature: REF_STANDARD,
        now_secs: TS + 21600,
    };
    check(&[SECRET], header, OUT_OF_TOLERANCE)
}

#[test]
fn case7_milliseconds_rejected_as_skewed() {
    let header = Header::Standard {
        timestamp: "1614265330000",
        signature: "v1,rTuMKFUiBNE7gJ41LZxwvD1dtGO0rPk1IamJN9BSq2w=",
        now_secs: TS,
    };
    check(&[SECRET], header, OUT_OF_TOLERANCE)
}

/// A correctly signed header sent at `TS + offset_secs`, checked at `now = TS`, so
/// only the timestamp distance decides.
#[track_caller]
fn check_offset(offset_secs: i64, expect: Result<(), SignatureError>) {
    let sent_secs = TS
        .checked_add_signed(offset_secs)
        .expect("offsets stay near TS");
    let signature = sign_standard(&secret(SECRET), ID, sent_secs, REF_BODY);
    let timestamp = sent_secs.to_string();
    check(
        &[SECRET],
        Header::Standard {
            timestamp: &timestamp,
            signature: &signature,
            now_secs: TS,
        },
        expect,
    )
}

#[test]
fn case7_tolerance_accepts_300_ahead() {
    check_offset(300, Ok(()))
}

#[test]
fn case7_tolerance_accepts_300_behind() {
    check_offset(-300, Ok(()))
}

#[test]
fn case7_tolerance_rejects_301_ahead() {
    check_offset(301, OUT_OF_TOLERANCE)
}

#[test]
fn case7_tolerance_rejects_301_behind() {
    check_offset(-301, OUT_OF_TOLERANCE)
}

#[test]
fn timestamp_must_be_plain_integer_seconds() {
    for timestamp in [
        "",
        "abc",
        "+1614265330",
        "-1614265330",
        " 1614265330",
        "1614265330 ",
        "1614265330.0",
        "1.6e9",
        "99999999999999999999",
    ] {
        let header = Header::Standard {
            timestamp,
            signature: REF_STANDARD,
            now_secs: TS,
        };
        check(&[SECRET], header, BAD_TIMESTAMP);
    }
}

// Case 10: several signatures in one header, newest first, plus an unknown type.

/// The rotation header: new, old, and an unknown `v1a` entry carrying the old
/// signature's base64 (so wrongly treating it as `v1` would make it match).
fn rotation_header() -> String {
    let old_base64 = REF_STANDARD.trim_start_matches("v1,");
    format!("{NEW_REF_STANDARD} {REF_STANDARD} v1a,{old_base64}")
}

#[test]
fn case10_old_key_passes() {
    check(&[SECRET], standard_at_ts(&rotation_header()), Ok(()))
}

#[test]
fn case10_new_key_passes() {
    check(&[NEW_SECRET], standard_at_ts(&rotation_header()), Ok(()))
}

#[test]
fn case10_both_keys_pass() {
    check(
        &[NEW_SECRET, SECRET],
        standard_at_ts(&rotation_header()),
        Ok(()),
    )
}

#[test]
fn case10_unrelated_key_fails() {
    check(
        &[UNRELATED_SECRET],
        standard_at_ts(&rotation_header()),
        NO_MATCH,
    )
}

#[test]
fn case10_unknown_entry_is_skipped_not_used() {
    let old_base64 = REF_STANDARD.trim_start_matches("v1,");
    check(
        &[SECRET],
        standard_at_ts(&format!("v1a,{old_base64}")),
        MISSING,
    );
    check(
        &[NEW_SECRET],
        standard_at_ts(&format!("v1a,{old_base64} {NEW_REF_STANDARD}")),
        Ok(()),
    );
}

#[test]
fn case10_empty_list_fails() {
    check(&[SECRET, NEW_SECRET], standard_at_ts(""), MISSING);
    check(&[SECRET, NEW_SECRET], standard_at_ts("   "), MISSING);
}

#[test]
fn case10_repeated_spaces_leave_empty_entries_skipped() {
    check(
        &[SECRET],
        standard_at_ts(&format!("{NEW_REF_STANDARD}  {REF_STANDARD}")),
        Ok(()),
    )
}

#[test]
fn case10_hex_old_key_passes() {
    check(
        &[SECRET],
        Header::Hex(&format!("{NEW_REF_HEX},{REF_HEX}")),
        Ok(()),
    )
}

#[test]
fn case10_hex_new_key_passes() {
    check(
        &[NEW_SECRET],
        Header::Hex(&format!("{NEW_REF_HEX},{REF_HEX}")),
        Ok(()),
    )
}

#[test]
fn case10_hex_spaces_around_entries_trimmed() {
    check(
        &[SECRET],
        Header::Hex(&format!(" {NEW_REF_HEX} , {REF_HEX} ")),
        Ok(()),
    )
}

#[test]
fn case10_hex_unrelated_key_fails() {
    check(
        &[UNRELATED_SECRET],
        Header::Hex(&format!("{NEW_REF_HEX},{REF_HEX}")),
        NO_MATCH,
    )
}

#[test]
fn no_secrets_never_match() {
    check(&[], Header::Hex(REF_HEX), NO_MATCH);
    check(&[], standard_at_ts(REF_STANDARD), NO_MATCH);
}

#[test]
fn sign_all_output_verifies_with_each_key_alone() {
    let headers = sign_all(&[secret(NEW_SECRET), secret(SECRET)], ID, TS, REF_BODY);
    for key in [NEW_SECRET, SECRET] {
        check(&[key], Header::Hex(&headers.hex), Ok(()));
        check(&[key], standard_at_ts(&headers.standard), Ok(()));
    }
    check(&[UNRELATED_SECRET], Header::Hex(&headers.hex), NO_MATCH);
    check(
        &[UNRELATED_SECRET],
        standard_at_ts(&headers.standard),
        NO_MATCH,
    );
}
