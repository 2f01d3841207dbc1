//! Shared test vectors from `field-cases.md` (Fixtures), used by the unit tests of
//! `sign` and `verify`. Values were computed with python3 `hmac`/`hashlib`; the
//! fixture and case values are copied verbatim from the document.

/// The public Standard Webhooks test secret; its key is 24 bytes.
pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// `webhook-id` of every vector.
pub(crate) const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
/// Event creation time, integer Unix seconds.
pub(crate) const TS: u64 = 1614265330;
/// The reference body (20 bytes).
pub(crate) const REF_BODY: &[u8] = br#"{"test": 2432232314}"#;
/// Scheme B of the reference body under `SECRET`.
pub(crate) const REF_HEX: &str = "e2cb4f5251572539d458bfb8a7adb533b08801e6a794467e06f771debbb0818b";
/// Scheme S of the reference body under `SECRET` at `TS` (the published spec vector).
pub(crate) const REF_STANDARD: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

/// Rotation (case 10): the new secret, key = SHA-256 of "herald field case 10 new key".
pub(crate) const NEW_SECRET: &str = "whsec_GEWTo8Vkz7PefzZvTqUrOigsiQpbv4RpAqr68MDUauU=";
/// Scheme B of the reference body under `NEW_SECRET`.
pub(crate) const NEW_REF_HEX: &str =
    "4f964f7f76db5ce7043cf4bea3d95710e996e8e9a1b893e48a3e5e999d57adb4";
/// Scheme S of the reference body under `NEW_SECRET` at `TS`.
pub(crate) const NEW_REF_STANDARD: &str = "v1,a+v6WJqCssFk2vtNhXfvnPI7o6+cj1vzZl+WlbGLFTo=";
/// A secret nobody signed with, key = SHA-256 of "herald field case 10 unrelated key".
pub(crate) const UNRELATED_SECRET: &str = "whsec_FqHh5KMVaFmiNy+OXp6bF/CuqHu5wq86NW7TQZ9aGJs=";

/// Parses a fixture secret; the fixtures are known to be valid.
pub(crate) fn secret(text: &str) -> crate::Secret {
    crate::Secret::parse(text).expect("fixture secrets are valid")
}
